#!/usr/bin/env node
/**
 * In-process skydns query-path benchmark: the CPU one query costs inside the
 * DNS handler (parse, cache, resolver, encoding), with no sockets, so that a
 * change to the hot path can be A/B-measured without the noise of the
 * kernel's UDP path and of dnsperf sharing the two cores.
 *
 * It loads N services in kube2sky's layout into a record tree and feeds the
 * handler the queries pods with `ndots:5` really send (the pod's-eye mix, see
 * bench/README.md), then reports µs of CPU per query for:
 *   - uncached: answer cache off (-answer-cache=0), every query computed;
 *   - cached:   answer cache on and warm;
 *   - churn:    answer cache on while CHURN record changes per 1,000 queries
 *               land elsewhere in the zone (the rate of 200 changes a second at
 *               about 20k queries a second is 10 per 1,000);
 *   - heap:     heap bytes kept per record in the tree, per service and per cached answer
 *               (young-generation collections copy each new one; needs
 *               `node --expose-gc`; not in the default runs);
 *   - tables:   the answer cache's table (lib/skydns/tables.ts) against a Map
 *               under steady replacement: 50,000 entries, 300,000 steps of one
 *               delete and one set, the slowest steps and the total (not in the
 *               default runs);
 *   - alloc:    bytes allocated per query (collected young or not), uncached and
 *               cached, and the ten functions allocating most per query of each
 *               (V8's sampling heap profiler, every 256 bytes): what sets how
 *               often the query thread stops for a young-generation collection
 *               (not in the default runs);
 *   - scavenge: what a young-generation collection costs this machine with an
 *               old generation of 25, 100 and 250 MB and nothing surviving (a
 *               Map-heavy old generation like the record tree's, then garbage
 *               only): the pause's median and maximum (not in the default runs);
 *   - ingest:   µs of CPU per record change with no queries, answer cache on
 *               and warm: what one change costs the query thread once etcd3
 *               has handed it over (decode the value, the tree's put and
 *               delete, the cache's invalidation), as the watch applies it.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/skydns-inproc.js`
 * Knobs: INPROC_SERVICES (5000), INPROC_SECONDS (3 per measurement), INPROC_CHURN (10),
 * INPROC_RUNS (uncached,cached,churn,ingest; also heap, tables, alloc, scavenge).
 * For instruction counts (repeatable on a noisy machine):
 *   INPROC_SECONDS=0 INPROC_QUERIES=200000 valgrind --tool=callgrind node dist/bench/skydns-inproc.js
 */
import { configFor, type SkyConfig } from '../lib/skydns/config.js';
import { DnsHandler, isPromise } from '../lib/skydns/handler.js';
import { Resolver, SILENT } from '../lib/skydns/resolver.js';
import { encodeQuery } from '../lib/skydns/wire.js';
import { RecordTree } from '../lib/skydns/tree.js';
import { SlotTable } from '../lib/skydns/tables.js';
import { encodeRecord, hashLabel } from '../lib/msg/record.js';
import { envInt } from './common.js';
import inspector from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';

const DOMAIN = 'cluster.local.';
const NAMESPACES = 50;

function config(answerCache: number): SkyConfig {
  return configFor([`-domain=${DOMAIN}`, '-nameservers=127.0.0.1:1', `-answer-cache=${answerCache}`]);
}


function ipOf(i: number): string {
  const n = i + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** The keys and values kube2sky writes for ClusterIP service i (A leaf, SRV leaf for port "http"). */
function serviceRecords(i: number, ip = ipOf(i)): [string, string][] {
  const ns = `ns${i % NAMESPACES}`;
  const base = `/skydns/local/cluster/svc/${ns}/svc${i}`;
  const a = encodeRecord({ host: ip, priority: 10, weight: 10, ttl: 30 });
  const srv = encodeRecord({ host: `svc${i}.${ns}.svc.cluster.local.`, port: 80, priority: 10, weight: 10, ttl: 30 });
  return [[`${base}/${hashLabel(a)}`, a], [`${base}/_tcp/_http/${hashLabel(srv)}`, srv]];
}

/** The pod's-eye mix for service i: A (hit), AAAA (NODATA), a search-path miss, and an external name walking the search path. */
function mixQueries(i: number, n: number): [string, number][] {
  const ns = `ns${i % NAMESPACES}`;
  const other = `ns${(i + 1) % NAMESPACES}`;
  const ext = `api${i % Math.max(1, Math.floor(n / 10))}.example.com`;
  return [
    [`svc${i}.${ns}.svc.cluster.local`, 1],
    [`svc${i}.${ns}.svc.cluster.local`, 28],
    [`svc${i}.${ns}.${other}.svc.cluster.local`, 1],
    [`${ext}.${other}.svc.cluster.local`, 1],
    [`${ext}.svc.cluster.local`, 1],
    [`${ext}.cluster.local`, 1],
  ];
}

interface Setup {
  tree: RecordTree;
  handler: DnsHandler;
}

function setup(n: number, answerCache: number): Setup {
  const cfg = config(answerCache);
  const tree = new RecordTree('skydns');
  for (let i = 0; i < n; i++) for (const [k, v] of serviceRecords(i)) tree.put(k, v);
  const resolver = new Resolver(tree, cfg, null, SILENT);
  const handler = new DnsHandler({ cfg, tree, resolver, forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true, answerCacheSize: answerCache });
  return { tree, handler };
}

const UDP = { tcp: false, remote: '127.0.0.1:1' };

function answer(h: DnsHandler, q: Buffer): Buffer | null | Promise<Buffer | null> {
  return h.answer(q, UDP);
}

interface Measured {
  queries: number;
  cpuUs: number;
  usPerQuery: number;
}

/** Runs queries round-robin for `seconds` of wall time (or exactly `count` queries when seconds is 0). */
async function run(s: Setup, packets: Buffer[], seconds: number, count: number, churnPer1000: number, n: number): Promise<Measured> {
  let k = 0;
  let churned = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const every = churnPer1000 > 0 ? Math.max(1, Math.round(1000 / churnPer1000)) : 0;
  for (;;) {
    for (let j = 0; j < 1000; j++) {
      const r = answer(s.handler, packets[k % packets.length]);
      if (isPromise(r)) await r;
      k++;
      if (every && k % every === 0) {
        // Re-address a service outside the queried half (names n/2..n-1 are never asked).
        const i = Math.floor(n / 2) + (churned % Math.ceil(n / 2));
        const old = serviceRecords(i, ipOf(i + churned * 7919));
        const fresh = serviceRecords(i, ipOf(i + (churned + 1) * 7919));
        s.tree.put(fresh[0][0], fresh[0][1]);
        s.tree.delete(old[0][0]);
        churned++;
      }
    }
    if (seconds > 0 ? performance.now() - t0 >= seconds * 1000 : k >= count) break;
  }
  const c = process.cpuUsage(c0);
  const cpuUs = c.user + c.system;
  return { queries: k, cpuUs, usPerQuery: cpuUs / k };
}

/**
 * Applies record changes (a service re-addressed: new leaf put, old leaf deleted) outside the
 * queried half for `seconds` (or `count` changes). The two addresses each service alternates
 * between are encoded beforehand, so that only skydns's side of a change is measured.
 */
function ingest(s: Setup, seconds: number, count: number, n: number): Measured {
  const half = Math.floor(n / 2);
  const m = n - half;
  const leaves = [0, 1].map((g) => Array.from({ length: m }, (_, j) => serviceRecords(half + j, ipOf(half + j + g * 7919))[0]));
  for (let j = 0; j < m; j++) {
    s.tree.delete(serviceRecords(half + j)[0][0]);
    s.tree.put(leaves[0][j][0], leaves[0][j][1]);
  }
  let k = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (;;) {
    for (let step = 0; step < 100; step++, k++) {
      const j = k % m;
      const gen = Math.floor(k / m) % 2;
      s.tree.put(leaves[1 - gen][j][0], leaves[1 - gen][j][1]);
      s.tree.delete(leaves[gen][j][0]);
    }
    if (seconds > 0 ? performance.now() - t0 >= seconds * 1000 : k >= count) break;
  }
  const c = process.cpuUsage(c0);
  const cpuUs = c.user + c.system;
  return { queries: k, cpuUs, usPerQuery: cpuUs / k };
}

/** Heap bytes kept per record (20,000 A leaves put into a loaded tree), per service (20,000 services added) and per cached answer (the mix, asked a second time). */
async function heap(n: number, packets: Buffer[]): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    process.stdout.write('heap      needs node --expose-gc\n');
    return;
  }
  const used = (): number => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const s = setup(n, 50_000);
  // Leaves added under services that exist (as a re-addressed service's new leaf is).
  const extra = Array.from({ length: 20_000 }, (_, i) => serviceRecords(i % n, ipOf(i + 7919 * (1 + Math.floor(i / n))))[0]);
  const h0 = used();
  for (const [k, v] of extra) s.tree.put(k, v);
  const h1 = used();
  process.stdout.write(`heap      ${((h1 - h0) / extra.length).toFixed(0).padStart(7)} bytes per record (${extra.length} A leaves added under ${n} services)\n`);
  for (const [k] of extra) s.tree.delete(k);
  // Whole services (their A and SRV leaves, and the nodes for them) added to the namespaces.
  const services = Array.from({ length: 20_000 }, (_, i) => serviceRecords(n + i)).flat();
  const h4 = used();
  for (const [k, v] of services) s.tree.put(k, v);
  const h5 = used();
  process.stdout.write(`heap      ${((h5 - h4) / (services.length / 2)).toFixed(0).padStart(7)} bytes per service (20000 services added, each an A and an SRV leaf, as kube2sky writes a ClusterIP service with one port)\n`);
  for (const [k] of services) s.tree.delete(k);
  // The first asking is refused by the cache's doorkeeper; the second is kept.
  for (const p of packets) await answer(s.handler, p);
  const h2 = used();
  const before = s.handler.cachedAnswers;
  for (const p of packets) await answer(s.handler, p);
  const h3 = used();
  const kept = s.handler.cachedAnswers - before;
  process.stdout.write(`heap      (cached answers ${before} → ${s.handler.cachedAnswers})\n`);
  process.stdout.write(`heap      ${((h3 - h2) / Math.max(1, kept)).toFixed(0).padStart(7)} bytes per cached answer (${kept} answers; the replies' bytes, kept outside the heap, not counted)\n`);
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Bytes allocated per query, uncached and cached, by V8's sampling heap profiler (objects collected young included). */
async function alloc(n: number, packets: Buffer[]): Promise<void> {
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params: object = {}): Promise<T> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as T))));
  await post('HeapProfiler.enable');
  for (const cache of [0, 50_000]) {
    const s = setup(n, cache);
    // Warm: the JIT, and (cached) the second asking that the cache keeps.
    for (let k = 0; k < 2; k++) await run(s, packets, 0, packets.length, 0, n);
    await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
    const queries = 2 * packets.length;
    await run(s, packets, 0, queries, 0, n);
    const { profile } = await post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
    const bySite = new Map<string, number>();
    let total = 0;
    const walk = (node: SamplingNode): void => {
      if (node.selfSize) {
        const f = node.callFrame;
        const site = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
        bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
        total += node.selfSize;
      }
      for (const c of node.children) walk(c);
    };
    walk(profile.head);
    const kind = cache ? 'cached' : 'uncached';
    process.stdout.write(`alloc     ${(total / queries).toFixed(0).padStart(7)} bytes per ${kind} query (${queries} queries; the bench's own loop included)\n`);
    {
      const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 10);
      for (const [site, bytes] of top) process.stdout.write(`alloc     ${(bytes / queries).toFixed(0).padStart(7)}   ${site}\n`);
    }
  }
  session.disconnect();
}

/**
 * Young-generation pauses with an old generation of `mb` MB and no survivors: on this
 * project's VM the pause grows with the old generation (0.2–0.4 ms at 15–25 MB, 1.4–1.5 at 250),
 * which is why the record tree's size and the initial read's garbage matter to the query
 * thread's tail.
 */
async function scavenge(): Promise<void> {
  for (const mb of [25, 100, 250]) {
    const old: Map<string, { a: number; b: string }>[] = [];
    let made = 0;
    while (process.memoryUsage().heapUsed < mb * 1048576) {
      const m = new Map<string, { a: number; b: string }>();
      for (let i = 0; i < 8; i++) m.set(`k${made++}`, { a: made, b: `x${made}` });
      old.push(m);
    }
    const pauses: number[] = [];
    const obs = new PerformanceObserver((l) => {
      for (const e of l.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) pauses.push(e.duration);
    });
    obs.observe({ entryTypes: ['gc'] });
    let sink = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      const o = { x: sink, y: [sink, sink + 1], z: `q${sink & 1023}` };
      sink += o.y.length;
    }
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
    pauses.sort((a, b) => a - b);
    const used = process.memoryUsage().heapUsed / 1048576;
    process.stdout.write(`scavenge  old generation ${used.toFixed(0).padStart(4)} MB (${old.length} Maps): ${pauses.length} young-generation collections, median ${(pauses[pauses.length >> 1] ?? NaN).toFixed(2)} ms, max ${(pauses[pauses.length - 1] ?? NaN).toFixed(2)} ms\n`);
    old.length = 0;
  }
}

/** Map against SlotTable under steady replacement (the items made beforehand): steps over 0.5 ms, the slowest, and the total. */
function tables(): void {
  const n = 50_000;
  const steps = 300_000;
  const items = Array.from({ length: n + steps }, (_, i) => ({ slot: Math.imul(i, 2654435761) >>> 2 }));
  for (const kind of ['Map', 'SlotTable', 'Map', 'SlotTable']) {
    const map = new Map<number, { slot: number }>();
    const table = new SlotTable<{ slot: number }>(1024);
    const put = kind === 'Map' ? (it: { slot: number }) => map.set(it.slot, it) : (it: { slot: number }) => table.set(it);
    const del = kind === 'Map' ? (slot: number) => map.delete(slot) : (slot: number) => table.delete(slot);
    for (let i = 0; i < n; i++) put(items[i]);
    const slow: number[] = [];
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) {
      const s = performance.now();
      del(items[k].slot);
      put(items[n + k]);
      const d = performance.now() - s;
      if (d > 0.5) slow.push(d);
    }
    const total = performance.now() - t0;
    process.stdout.write(`tables    ${kind.padEnd(9)} ${total.toFixed(0).padStart(5)} ms for ${steps} replacements in ${n} entries; ${slow.length} steps over 0.5 ms${slow.length ? ` (slowest ${Math.max(...slow).toFixed(1)} ms)` : ''}\n`);
  }
}

async function main(): Promise<void> {
  const n = envInt('INPROC_SERVICES', 5000, 2, 1_000_000);
  const seconds = envInt('INPROC_SECONDS', 3, 0, 600);
  const count = envInt('INPROC_QUERIES', 200_000, 1, 100_000_000);
  const churn = envInt('INPROC_CHURN', 10, 0, 1000);
  const which = (process.env.INPROC_RUNS ?? 'uncached,cached,churn,ingest').split(',');
  // Only the first half of the services is queried (the churn changes the other half).
  const packets: Buffer[] = [];
  let id = 1;
  for (let i = 0; i < Math.floor(n / 2); i++) for (const [name, t] of mixQueries(i, n)) packets.push(encodeQuery(name, t, id++ & 0xffff, 1232));
  // Shuffle (seeded) so that consecutive queries do not share a service.
  let seed = 1;
  for (let i = packets.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [packets[i], packets[j]] = [packets[j], packets[i]];
  }
  process.stdout.write(`skydns in-process: ${n} services, ${packets.length} distinct questions (pod's-eye mix over half of them), node ${process.version}\n`);
  for (const w of which) {
    if (w === 'tables') {
      tables();
      continue;
    }
    if (w === 'heap') {
      await heap(n, packets);
      continue;
    }
    if (w === 'alloc') {
      await alloc(n, packets);
      continue;
    }
    if (w === 'scavenge') {
      await scavenge();
      continue;
    }
    const s = setup(n, w === 'uncached' ? 0 : 50_000);
    // Warm-up: one pass (JIT, and the answer cache for the cached runs).
    await run(s, packets, 0, packets.length, 0, n);
    if (w === 'ingest') {
      const m = ingest(s, seconds, count, n);
      process.stdout.write(`${w.padEnd(9)} ${m.usPerQuery.toFixed(2).padStart(7)} µs/change (${m.queries} changes: value decoded, leaf put, old leaf deleted, cache invalidated; ${(m.cpuUs / 1e6).toFixed(2)} s CPU)\n`);
      continue;
    }
    const m = await run(s, packets, seconds, count, w === 'churn' ? churn : 0, n);
    process.stdout.write(`${w.padEnd(9)} ${m.usPerQuery.toFixed(2).padStart(7)} µs/query  (${m.queries} queries, ${(m.cpuUs / 1e6).toFixed(2)} s CPU${w === 'churn' ? `, ${churn} changes per 1,000 queries` : ''})\n`);
  }
}

void main();
