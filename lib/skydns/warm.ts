/**
 * Warm-up before skydns reports ready. A fresh process runs its query path
 * in V8's interpreter until the functions are hot enough to be optimised;
 * measured on loopback, answers in the first quarter second after start
 * waited up to 65 ms (p99 47 ms at 20k queries a second). So, once the
 * records are read and before /readyz turns 200, real questions made from
 * the records — addresses, missing AAAA, search-path misses, SRV, PTR; plain,
 * with EDNS0, and with EDNS0 and a cookie option as dig sends — go through a
 * handler of their own until the path has run hot. The warm-up answers
 * nothing to anyone and keeps nothing.
 *
 * V8 optimises a function for the object shapes and branches it has seen, and
 * throws the optimised code away when another comes. So the warm-up runs what
 * real queries run, with the same shapes: the UDP listener's entry point
 * (answerInto), a transport of the listener's own class
 * (DnsServer.warmTransport), the same functions passed in, and metrics (a
 * private Metrics, counted nowhere). Warmed with a plain object for transport,
 * no metrics and no EDNS0 options, the first real queries made six functions
 * of the path fall back to the interpreter until compiled again
 * (--trace-deopt), in the first 200 ms.
 */
import type { SkyConfig } from './config.js';
import { DnsHandler, Transport, isPromise } from './handler.js';
import { Metrics } from './metrics.js';
import { type Logger, type Resolver, SILENT } from './resolver.js';
import type { RecordTree } from './tree.js';
import { TYPE, encodeQuery } from './wire.js';

/** An EDNS0 COOKIE option with a client cookie (RFC 7873), as dig sends with every query. */
const COOKIE = [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }];

export interface WarmResult {
  queries: number;
  ms: number;
}

/** Questions made from up to `max` keys of the tree (their names; `_` leaves give SRV questions; reverse keys give PTR). */
export function warmQuestions(tree: RecordTree, cfg: SkyConfig, max = 2000): [string, number][] {
  const out: [string, number][] = [];
  const keys = tree.keys();
  const step = Math.max(1, Math.floor(keys.length / max));
  const domainLabels = cfg.domain.split('.').filter((l) => l !== '');
  for (let i = 0; i < keys.length && out.length < max * 4; i += step) {
    const segs = keys[i].split('/').slice(2);
    if (segs.length === 0) continue;
    const name = [...segs].reverse().join('.') + '.';
    if (name.endsWith('.arpa.')) {
      out.push([name, TYPE.PTR]);
      continue;
    }
    const owner = segs.length > domainLabels.length + 1 ? [...segs.slice(0, -1)].reverse().join('.') + '.' : name;
    const attr = segs.findIndex((s) => s.startsWith('_'));
    if (attr > 0) {
      out.push([[...segs.slice(0, segs.length - 1)].reverse().join('.') + '.', TYPE.SRV]);
      continue;
    }
    out.push([owner, TYPE.A], [owner, TYPE.AAAA], [`warm-up.${owner}`, TYPE.A], [`warm-up.${cfg.domain}`, TYPE.A]);
  }
  if (out.length === 0) out.push([cfg.domain, TYPE.SOA], [`warm-up.${cfg.domain}`, TYPE.A]);
  return out;
}

/**
 * Runs the questions through a private handler (`resolver` should log
 * nothing: see SILENT), each twice (computed, then from its cache), until
 * `minQueries` were answered and at least `minMs` passed, or `maxMs` passed,
 * as from a client `transport` (the server's warmTransport()), with the
 * real handler's `synced` function (a call target of its own). Upstream
 * lookups are never made (no forwarder, no upstream). Works in slices of
 * `sliceMs`, giving the event loop a turn in between, so real queries
 * arriving meanwhile are answered.
 */
export async function warmUp(tree: RecordTree, cfg: SkyConfig, resolver: Resolver, log: Logger, opts: { minQueries?: number; minMs?: number; maxMs?: number; sliceMs?: number; transport?: Transport; synced?: () => boolean } = {}): Promise<WarmResult> {
  const minQueries = opts.minQueries ?? 30_000;
  const minMs = opts.minMs ?? 50;
  const maxMs = opts.maxMs ?? 1500;
  const sliceMs = opts.sliceMs ?? 10;
  const handler = new DnsHandler({ cfg, tree, resolver, forwarder: null, stubs: null, metrics: new Metrics(), log: SILENT, synced: opts.synced ?? (() => true), answerCacheSize: 4096 });
  const packets: Buffer[] = [];
  let id = 1;
  for (const [name, qtype] of warmQuestions(tree, cfg)) {
    for (const [udpSize, options] of [[1232, []], [0, []], [1232, COOKIE]] as const) {
      try {
        packets.push(encodeQuery(name, qtype, id++ & 0xffff, udpSize, [...options]));
      } catch {
        // a key that is no DNS name (too long, bad labels): nothing to warm with
      }
    }
  }
  const t: Transport = opts.transport ?? { tcp: false, remote: 'warm-up' };
  // A reply slot, as the UDP listener gives answerInto.
  const out = Buffer.alloc(65535);
  const t0 = performance.now();
  let n = 0;
  let slice = t0;
  try {
    outer: for (;;) {
      for (const p of packets) {
        for (let k = 0; k < 2; k++) {
          const r = handler.answerInto(p, t, out, 0, out.length, Date.now());
          if (isPromise(r)) await r;
          n++;
        }
        if ((n & 63) === 0) {
          const now = performance.now();
          if ((n >= minQueries && now - t0 >= minMs) || now - t0 >= maxMs) break outer;
          if (now - slice >= sliceMs) {
            await new Promise((r) => setImmediate(r));
            slice = performance.now();
          }
        }
      }
      if (packets.length === 0) break;
    }
  } finally {
    handler.close();
  }
  const ms = performance.now() - t0;
  log.debug(`warm-up: ${n} queries in ${ms.toFixed(0)} ms`);
  return { queries: n, ms };
}
