#!/usr/bin/env node
/**
 * Whether skydns's handler falls into moving its garbage to the old generation
 * (bench/README.md, "Young-generation collections on one thread", item 5).
 * Loads 20,000 services (A and SRV leaves) into a record tree, asks every
 * service's A, AAAA and a search-path miss (60,000 questions, more than the
 * 50,000 answers the cache holds) in a fixed stride order for 3 s while the
 * cache fills, then for PROMOTION_SECONDS (8) more, and prints the old
 * generation's growth per young-generation collection in that second phase.
 * In the bad state it is megabytes; normally kilobytes.
 *
 * One process is one trial: the state comes from V8's allocation-site
 * pretenuring decisions, made once per process. Run it several times:
 *   for i in 1 2 3 4 5 6; do node dist/bench/skydns-promotion.js; done
 *   for i in 1 2 3 4 5 6; do PROMOTION_SKYDNS=1 node dist/bench/skydns-promotion.js; done
 * PROMOTION_SKYDNS=1 turns pretenuring off after the load, as skydns does
 * (allocateYoungFirst in lib/skydns/warm.ts). Loopback is not used; nothing is
 * started.
 */
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import { configFor } from '../lib/skydns/config.js';
import { DnsHandler, isPromise } from '../lib/skydns/handler.js';
import { Resolver, SILENT } from '../lib/skydns/resolver.js';
import { encodeQuery } from '../lib/skydns/wire.js';
import { RecordTree } from '../lib/skydns/tree.js';
import { encodeRecord, hashLabel } from '../lib/msg/record.js';
import { allocateYoungFirst } from '../lib/skydns/warm.js';
import { envInt } from './common.js';

const N = 20_000;
const cfg = configFor(['-domain=cluster.local.', '-nameservers=127.0.0.1:1', '-answer-cache=50000']);
const tree = new RecordTree('skydns');
for (let i = 0; i < N; i++) {
  const ns = `ns${i % 50}`;
  const base = `/skydns/local/cluster/svc/${ns}/svc${i}`;
  const a = encodeRecord({ host: `10.0.${(i >> 8) & 255}.${i & 255}`, priority: 10, weight: 10, ttl: 30 });
  const srv = encodeRecord({ host: `svc${i}.${ns}.svc.cluster.local.`, port: 80, priority: 10, weight: 10, ttl: 30 });
  tree.put(`${base}/${hashLabel(a)}`, a);
  tree.put(`${base}/_tcp/_http/${hashLabel(srv)}`, srv);
}
const skydnsSetting = process.env.PROMOTION_SKYDNS === '1';
if (skydnsSetting) allocateYoungFirst();
const handler = new DnsHandler({ cfg, tree, resolver: new Resolver(tree, cfg, null, SILENT), forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true, answerCacheSize: 50_000 });
const questions: Buffer[] = [];
for (let i = 0; i < N; i++) {
  const ns = `ns${i % 50}`;
  questions.push(encodeQuery(`svc${i}.${ns}.svc.cluster.local`, 1, 1), encodeQuery(`svc${i}.${ns}.svc.cluster.local`, 28, 1), encodeQuery(`svc${i}.${ns}.ns9.svc.cluster.local`, 1, 1));
}
const transport = { tcp: false, remote: 'bench' };
let k = 0;
async function ask(ms: number): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let j = 0; j < 1000; j++) {
      const r = handler.answer(questions[(k * 7919) % questions.length], transport);
      k++;
      if (isPromise(r)) await r;
    }
  }
}
await ask(3000);
const oldUsed = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'old_space')?.space_used_size ?? 0;
let young = 0;
const obs = new PerformanceObserver((l) => {
  for (const e of l.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) young++;
});
obs.observe({ entryTypes: ['gc'] });
const before = oldUsed();
await ask(envInt('PROMOTION_SECONDS', 8, 1, 600) * 1000);
await new Promise((r) => setTimeout(r, 20));
obs.disconnect();
const perKB = young > 0 ? (oldUsed() - before) / 1024 / young : NaN;
process.stdout.write(`promotion ${skydnsSetting ? "skydns's setting (pretenuring off after the load)" : "V8's default"}: ${young} young-generation collections, old generation +${perKB.toFixed(0)} KB per collection${perKB > 256 ? ' (garbage moving to the old generation)' : ''}\n`);
