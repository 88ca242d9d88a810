// The warm-up before /readyz (lib/skydns/warm.ts) runs the query path with the shapes real
// queries bring, so the code V8 optimised while warming is the code real queries run: the
// first real queries after /readyz must not throw any of it away (a deoptimisation costs
// 1–6 ms of the event loop, and then the path runs unoptimised until compiled again).
// And each young-generation collection runs on the query thread alone, without V8's helper
// threads (lib/skydns/warm.ts collectYoungOnQueryThread).
// Real etcd, the real skydns program run with V8's --trace-deopt-verbose or --trace-gc-nvp,
// real UDP on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { EtcdProcess, etcdPutMany, startEtcd } from '../harness/etcd.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { TYPE, decodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { encodeRecord, hashLabel } from '../../lib/msg/record.js';

const D = '/skydns/local/cluster';
const SERVICES = 300;
const COOKIE = [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }];

/** Every other letter upper-case, as resolvers using 0x20 randomisation ask. */
const mixed = (n: string) => [...n].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');

/** The queries a cluster sends for service i: its A, AAAA, a search-path miss, an external name, SRV; plain, with EDNS0, with a cookie, in mixed case. */
function queriesFor(i: number): Buffer[] {
  const name = `svc${i}.ns${i % 7}.svc.cluster.local.`;
  const out: Buffer[] = [];
  const asks: [string, number][] = [
    [name, TYPE.A],
    [name, TYPE.AAAA],
    [`svc${i}.ns${i % 7}.other.svc.cluster.local.`, TYPE.A],
    [`ext${i}.example.com.svc.cluster.local.`, TYPE.A],
    [`_http._tcp.${name}`, TYPE.SRV],
    [mixed(name), TYPE.A],
  ];
  for (const [n, t] of asks) {
    out.push(encodeQuery(n, t, 0), encodeQuery(n, t, 0, 1232), encodeQuery(n, t, 0, 1232, COOKIE));
  }
  return out;
}

/** Sends every query (each twice: computed, then from the cache), 32 in flight; returns the replies' rcodes. */
async function send(port: number, queries: Buffer[]): Promise<Map<number, number>> {
  const sock = dgram.createSocket('udp4');
  const rcodes = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  sock.on('message', (buf) => {
    const m = decodeMessage(buf);
    rcodes.set(m.header.rcode, (rcodes.get(m.header.rcode) ?? 0) + 1);
    waiting.get(m.header.id)?.();
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const all = [...queries, ...queries];
  let next = 0;
  let id = 1;
  const worker = async () => {
    while (next < all.length) {
      const q = Buffer.from(all[next++]);
      const myId = id++ & 0xffff;
      q.writeUInt16BE(myId, 0);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to query ${myId} in 3 s`)), 3000);
        waiting.set(myId, () => {
          clearTimeout(timer);
          waiting.delete(myId);
          resolve();
        });
        sock.send(q, port, '127.0.0.1');
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    sock.close();
  }
  return rcodes;
}

/** The query path's compiled files: a deoptimisation in one of them after the warm-up is a failure. */
const QUERY_PATH = /dist\/lib\/(skydns\/(handler|direct|caches|tables|wire|resolver|tree|udp-batch|server|metrics|deps)|metrics\/fast|msg\/[a-z-]+)\.js:\d+/;

/** The lines skydns wrote after its warm-up. */
function linesAfterWarmUp(out: string): string[] {
  const warmed = out.indexOf('query path warmed up');
  assert.ok(warmed > 0, 'the warm-up ran');
  return out.slice(warmed).split('\n');
}

/** The bailouts (with where they happened) in the query path's files, among skydns's lines after the warm-up. */
function bailoutsIn(after: string[]): string[] {
  const bailouts: string[] = [];
  for (let i = 0; i < after.length; i++) {
    if (!after[i].startsWith('[bailout (kind')) continue;
    const at = after.slice(i + 1, i + 3).find((l) => l.includes('deoptimize at')) ?? '';
    if (QUERY_PATH.test(at)) bailouts.push(`${after[i].slice(0, 160)}\n    ${at.trim()}`);
  }
  return bailouts;
}

describe('skydns under real queries after /readyz: the code the warm-up optimised stays, and young-generation collections stay on the query thread', () => {
  let etcd: EtcdProcess;
  const started: SkyDnsProcess[] = [];

  before(async () => {
    etcd = await startEtcd();
    const puts: [string, string][] = [];
    for (let i = 0; i < SERVICES; i++) {
      const a = encodeRecord({ host: `10.7.${i >> 8}.${i & 255}`, priority: 10, weight: 10, ttl: 30 });
      const srv = encodeRecord({ host: `svc${i}.ns${i % 7}.svc.cluster.local.`, port: 80, priority: 10, weight: 10, ttl: 30 });
      puts.push([`${D}/svc/ns${i % 7}/svc${i}/${hashLabel(a)}`, a], [`${D}/svc/ns${i % 7}/svc${i}/_tcp/_http/${hashLabel(srv)}`, srv]);
    }
    await etcdPutMany(etcd.url, puts);
  });
  after(async () => {
    for (const sky of started) await sky.stop();
    await etcd?.stop();
  });

  /**
   * Starts skydns with `args` under node's `nodeArgs`, sends the cluster's mix `rounds` times
   * (each query twice per round); returns the rcodes of the last round and skydns's lines after
   * the warm-up.
   */
  async function underTraffic(args: string[], nodeArgs: string[], rounds = 1): Promise<{ rcodes: Map<number, number>; lines: string[] }> {
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-workers=1', ...args], { nodeArgs });
    started.push(sky);
    const queries: Buffer[] = [];
    for (let i = 0; i < SERVICES; i++) queries.push(...queriesFor(i));
    let rcodes = new Map<number, number>();
    for (let round = 0; round < rounds; round++) rcodes = await send(sky.port, queries);
    return { rcodes, lines: linesAfterWarmUp(sky.prog.output()) };
  }

  /** The bailouts after the warm-up, with skydns started with `args`, under the cluster's mix. */
  async function deoptsUnderTraffic(args: string[]): Promise<string[]> {
    const { rcodes, lines } = await underTraffic(args, ['--trace-deopt-verbose']);
    // The traffic was what it should be: answers and NXDOMAINs, nothing else.
    assert.deepEqual([...rcodes.keys()].sort(), [0, 3], `rcodes ${JSON.stringify([...rcodes])}`);
    return bailoutsIn(lines);
  }

  test('no function of the query path is deoptimised by real traffic (--trace-deopt-verbose)', async () => {
    const bailouts = await deoptsUnderTraffic([]);
    assert.deepEqual(bailouts, [], `the query path was deoptimised after /readyz:\n${bailouts.join('\n')}`);
  });

  test("nor by the answer cache's upkeep: ageing its admission filter, evicting, compacting (a cache of 200 answers)", async () => {
    // 200 entries: the filter ages every 2,000 counts (five times in this traffic), the
    // doorkeeper is cleared with it, and 3,000 distinct questions keep the cache evicting.
    const bailouts = await deoptsUnderTraffic(['-answer-cache=200']);
    assert.deepEqual(bailouts, [], `the query path was deoptimised after /readyz:\n${bailouts.join('\n')}`);
  });

  /** background.scavenge.parallel (ms) of every young-generation collection after the warm-up (--trace-gc-nvp lines), under three rounds of the mix. */
  async function scavengesUnderTraffic(nodeArgs: string[]): Promise<number[]> {
    // Young generation fixed at 4 MiB a semi-space, so V8 would give a collection helper tasks.
    const { lines } = await underTraffic([], ['--trace-gc-nvp', '--min-semi-space-size=4', '--max-semi-space-size=4', ...nodeArgs], 3);
    const ms = lines.filter((l) => l.includes(' gc=s ')).map((l) => Number(/ background\.scavenge\.parallel=([0-9.]+)/.exec(l)?.[1] ?? NaN));
    assert.ok(ms.length >= 3, `${ms.length} young-generation collections after the warm-up; the test needs at least 3`);
    assert.ok(ms.every((x) => Number.isFinite(x)), 'every --trace-gc-nvp line gives background.scavenge.parallel');
    return ms;
  }

  test('young-generation collections run on the query thread alone (lib/skydns/warm.ts collectYoungOnQueryThread)', async () => {
    const ms = await scavengesUnderTraffic([]);
    assert.deepEqual(ms.filter((x) => x > 0), [], `helper threads worked in ${ms.filter((x) => x > 0).length} of ${ms.length} collections`);
  });

  test("and node's own --parallel-scavenge, when given, is left to stand: helper threads then take part", async () => {
    const ms = await scavengesUnderTraffic(['--parallel-scavenge']);
    assert.ok(ms.some((x) => x > 0), `no helper thread worked in any of ${ms.length} collections`);
  });

  /** V8's allocation-site pretenuring lines (--trace-pretenuring-statistics) after the warm-up, under the mix. */
  async function pretenuringLinesUnderTraffic(nodeArgs: string[]): Promise<number> {
    const { lines } = await underTraffic([], ['--trace-pretenuring-statistics', '--min-semi-space-size=1', '--max-semi-space-size=1', ...nodeArgs]);
    return lines.filter((l) => l.includes('pretenuring:')).length;
  }

  test('no allocation-site pretenuring (lib/skydns/warm.ts allocateYoungFirst); node\'s own --allocation-site-pretenuring is left to stand', async () => {
    assert.equal(await pretenuringLinesUnderTraffic([]), 0, 'V8 weighed allocation sites for pretenuring after the warm-up');
    assert.ok((await pretenuringLinesUnderTraffic(['--allocation-site-pretenuring'])) > 0, 'with the flag given, V8 reports its pretenuring decisions (the check above can fail)');
  });
});

