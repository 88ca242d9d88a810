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
 * (DnsServer.warmTransport), and a handler built by the same recipe as the
 * real one (SkyDnsApp's handlerParts): the same classes in every field — a
 * resolver, a forwarder (with no servers: the warm-up never sends), metrics
 * (private, counted nowhere), a logger of the same make (writing nothing),
 * the signer — and its own answer cache. That cache is small and its
 * admission filter ages often, so the warm-up also runs the cache's upkeep,
 * which a real cache reaches only after seconds or minutes of traffic: evicting when
 * full, ageing the filter, compacting. Warmed with a plain object for
 * transport, no metrics and no EDNS0 options, the first real queries made six
 * functions of the path fall back to the interpreter; warmed by a handler
 * whose parts were other classes (null forwarder, a logger of another shape,
 * no signer field), the real handler's map was not the one the code was
 * optimised for, and the first real queries threw away the whole path —
 * process, answerInto, finish, encodeAnswer, … — each bailout taking 1–6 ms
 * (--trace-deopt-verbose), which was most of the first second's p99.
 * test/integration/skydns-warm.test.ts fails on any deoptimisation of the
 * query path's files by real queries after the warm-up.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { SkyConfig } from './config.js';
import { DnsHandler, HandlerDeps, Transport, isPromise } from './handler.js';
import type { Logger } from './resolver.js';
import type { RecordTree } from './tree.js';
import { TYPE, encodeQuery } from './wire.js';
import { nodeFlagGiven } from './node-flags.js';

/**
 * Makes V8 record what each function sees from its first call. By default a
 * function gets its feedback vector (the record of shapes and types its
 * optimised code is built from) only after it has run a while, so a branch
 * taken only in the first calls — a metric's first series per label, say —
 * leaves no feedback, and the optimised code is thrown away when the real
 * process takes that branch for the first time: after /readyz. Called by
 * SkyDnsApp before the query path runs; costs a feedback vector for every
 * function called at least once (well under a megabyte here).
 */
export function recordFeedbackFromFirstCall(): void {
  v8.setFlagsFromString('--no-lazy-feedback-allocation');
}

/**
 * Young-generation collections on the query thread alone. By default V8 also
 * wakes helper threads for each one; on this project's 2-vCPU VM they were
 * woken onto the query thread's own CPU and passed the work back and forth
 * with it: in the scheduler trace a collection held the query thread about
 * 2.2 ms with helpers and about 1.2 ms alone, and V8's own measure of each
 * collection at 100,000 services went from 1.2–1.6 to 1.1–1.3 ms (six
 * alternating runs; bench/README.md, "Young-generation collections on one
 * thread"). A DNS server's cores are busy answering, or capped by a CPU quota
 * the helpers would draw on too. A `--parallel-scavenge`,
 * `--no-parallel-scavenge` or `--single-threaded-gc` on node's command line
 * is left to stand.
 * Returns whether this changed V8's setting.
 */
export function collectYoungOnQueryThread(execArgv: readonly string[] = process.execArgv): boolean {
  if (nodeFlagGiven(execArgv, 'parallel-scavenge', 'single-threaded-gc')) return false;
  v8.setFlagsFromString('--no-parallel-scavenge');
  return true;
}

/**
 * No allocation-site pretenuring. V8 watches the object and array literals of
 * optimised code, and one whose objects mostly outlive a young-generation
 * collection is then allocated in the old generation from the start. An
 * object made there that dies young is not found dead until a full
 * collection, and meanwhile every young object it points to is kept through
 * each young-generation collection and moved to the old generation in turn
 * (which literal of skydns's it was has not been found).
 * In 5 of 21 runs of a handler-only probe (20,000 services; every service's
 * A, AAAA and a search-path miss; a 50,000-entry cache) the process fell into
 * that state for good: 2.4–5 MB promoted per collection instead of ~5 KB, the
 * heap growing to 140–220 MB of which a full collection left 52, and 18 ms
 * collections; with pretenuring off, 0 of 22. bench/skydns-promotion.ts, the
 * same probe: 2 of 14 runs (+968 and +183 KB of old generation per
 * collection) against 0 of 8 (bench/README.md, "Young-generation collections
 * on one thread").
 * Called once the records are read, before the warm-up: pretenuring speeds
 * the initial read, whose objects do live long (ready in 5.4 s at 100,000
 * services with it, 6.2–6.9 s without). A `--allocation-site-pretenuring` or
 * `--no-allocation-site-pretenuring` on node's command line is left to stand.
 * Returns whether this changed V8's setting.
 */
export function allocateYoungFirst(execArgv: readonly string[] = process.execArgv): boolean {
  if (nodeFlagGiven(execArgv, 'allocation-site-pretenuring')) return false;
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
  return true;
}

/**
 * One full collection, run once the records are read and before the warm-up
 * (so before /readyz turns 200): reading the records from etcd leaves more
 * garbage in V8's old generation than the records themselves take (at 100,000
 * services 277 MB used, 144 MB of it live), and under steady query traffic no
 * full collection comes to clear it. It is not only memory: every
 * young-generation collection walks the headers of all the old generation's
 * pages, and on this project's 2-vCPU VM that walk alone took about 0.4 ms
 * per collection at 100,000 services (perf: ScavengerCollector::CollectGarbage),
 * however little survived; those collections stop the query thread every
 * ~100 ms. The collection does not compact: with V8's compaction of every
 * page the old generation shrank from 196 to 145 MiB, but each object
 * promoted afterwards needed a fresh page instead of a hole, and in three
 * alternating runs the first second after /readyz took 290–872 page faults
 * instead of 4–59 and had a clear p99 of 3.35–5.46 ms instead of 2.04–2.52
 * (bench/README.md, "Young-generation collections on one thread"). The
 * collection runs before the warm-up, not after: run
 * after it (--trace-deopt), it threw away the optimised code of the answer
 * cache's set, the resolver's resolve and records, and Deps ("weak objects":
 * objects that code referred to had died), and the first queries after
 * /readyz ran them unoptimised. Returns the heap used before and after, and
 * the ms it took.
 */
export function collectAfterLoad(): { beforeMiB: number; afterMiB: number; ms: number } {
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  // The gc() of --expose-gc, made available to this process only for this.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  return { beforeMiB: before / 1048576, afterMiB: process.memoryUsage().heapUsed / 1048576, ms: performance.now() - t0 };
}

/** The name with every other letter upper-case. */
function mixedCase(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) out += i % 2 === 0 ? name[i].toUpperCase() : name[i];
  return out;
}

/** An EDNS0 COOKIE option with a client cookie (RFC 7873), as dig sends with every query. */
const COOKIE = [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }];

export interface WarmResult {
  queries: number;
  ms: number;
}

/** Distinct questions of names without records that the warm-up always asks. */
export const WARM_MISSES = 512;

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
  // Names no record has, as search paths make: enough distinct questions, however few the
  // records, to fill the warm-up's answer cache so that it evicts (SkyDnsApp's is small).
  for (let i = 0; i < WARM_MISSES; i++) out.push([`miss${i}.warm-up.${cfg.domain}`, TYPE.A]);
  return out;
}

/**
 * Runs the questions made from `deps.tree` through a private handler built
 * from `deps` (which should hold no real upstream, metrics or answer cache:
 * see SkyDnsApp's handlerParts), each twice (computed, then from its cache),
 * until `minQueries` were answered and at least `minMs` passed, or `maxMs`
 * passed, as from a client `transport` (the server's warmTransport()).
 * Works in slices of `sliceMs`, giving the event loop a turn in between, so
 * real queries arriving meanwhile are answered.
 */
export async function warmUp(deps: HandlerDeps, log: Logger, opts: { minQueries?: number; minMs?: number; maxMs?: number; sliceMs?: number; transport?: Transport } = {}): Promise<WarmResult> {
  const minQueries = opts.minQueries ?? 30_000;
  const minMs = opts.minMs ?? 50;
  const maxMs = opts.maxMs ?? 1500;
  const sliceMs = opts.sliceMs ?? 10;
  const handler = new DnsHandler(deps);
  const { tree, cfg } = deps;
  const packets: Buffer[] = [];
  let id = 1;
  for (const [k, [name, qtype]] of warmQuestions(tree, cfg).entries()) {
    for (const [udpSize, options] of [[1232, []], [0, []], [1232, COOKIE]] as const) {
      try {
        // Some in mixed case, as resolvers using 0x20 randomisation ask, first (computed and
        // stored: the cache folds the case) and then in lower case (found whatever the case).
        if ((k & 3) === 0) packets.push(encodeQuery(mixedCase(name), qtype, id++ & 0xffff, udpSize, [...options]));
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
