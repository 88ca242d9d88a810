// The warm-up before readiness (lib/skydns/warm.ts): questions made from the records,
// run through a handler of its own, leaving the real handler, its cache and the tree alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFor } from '../../lib/skydns/config.js';
import { DnsHandler } from '../../lib/skydns/handler.js';
import { Logger, Resolver, SILENT } from '../../lib/skydns/resolver.js';
import { RecordTree } from '../../lib/skydns/tree.js';
import { TYPE } from '../../lib/skydns/wire.js';
import { WARM_MISSES, warmQuestions, warmUp } from '../../lib/skydns/warm.js';
import { encodeRecord } from '../../lib/msg/record.js';


function tree(): RecordTree {
  const t = new RecordTree('skydns');
  t.put('/skydns/local/cluster/svc/ns1/web/a1', encodeRecord({ host: '10.0.0.1' }));
  t.put('/skydns/local/cluster/svc/ns1/web/_tcp/_http/a1', encodeRecord({ host: 'web.ns1.svc.cluster.local.', port: 80 }));
  t.put('/skydns/arpa/in-addr/10/0/0/1', encodeRecord({ host: 'web.ns1.svc.cluster.local.' }));
  t.put('/skydns/local/cluster/bad/x', '{not json');
  t.put(`/skydns/local/cluster/long/${'x'.repeat(70)}`, encodeRecord({ host: '10.0.0.2' }));
  return t;
}

test('questions come from the records: addresses, a missing AAAA, search-path misses, SRV, PTR', () => {
  const cfg = configFor(['-domain=cluster.local.']);
  const qs = warmQuestions(tree(), cfg).map(([n, t]) => `${n} ${t}`);
  assert.ok(qs.includes(`web.ns1.svc.cluster.local. ${TYPE.A}`));
  assert.ok(qs.includes(`web.ns1.svc.cluster.local. ${TYPE.AAAA}`));
  assert.ok(qs.includes(`warm-up.web.ns1.svc.cluster.local. ${TYPE.A}`));
  assert.ok(qs.includes(`_http._tcp.web.ns1.svc.cluster.local. ${TYPE.SRV}`));
  assert.ok(qs.includes(`1.0.0.10.in-addr.arpa. ${TYPE.PTR}`));
  // With no records: the apex and a miss; and always, distinct misses enough to fill the warm-up's cache.
  const empty = warmQuestions(new RecordTree('skydns'), cfg).map(([n, t]) => `${n} ${t}`);
  assert.deepEqual(empty.slice(0, 3), [`cluster.local. ${TYPE.SOA}`, `warm-up.cluster.local. ${TYPE.A}`, `miss0.warm-up.cluster.local. ${TYPE.A}`]);
  assert.equal(new Set(empty).size, 2 + WARM_MISSES);
});

test('warm-up answers its questions on a handler of its own and leaves nothing behind', async () => {
  const cfg = configFor(['-domain=cluster.local.', '-nameservers=127.0.0.1:1']);
  const t = tree();
  const resolver = new Resolver(t, cfg, null, SILENT);
  const parts = { cfg, tree: t, resolver, forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true };
  const real = new DnsHandler(parts);
  const lines: string[] = [];
  const log: Logger = { ...SILENT, debug: (m) => lines.push(m) };
  const w = await warmUp(parts, log, { minQueries: 5000, minMs: 1, maxMs: 5000 });
  assert.ok(w.queries >= 5000, `${w.queries} queries`);
  assert.match(lines[0], /^warm-up: \d+ queries in \d+ ms$/);
  assert.equal(real.cachedAnswers, 0, 'the real answer cache is untouched');
  // The private handler stopped following the tree: a change reaches only the real handler.
  const before = t.size;
  t.put('/skydns/local/cluster/svc/ns1/other/b', encodeRecord({ host: '10.0.0.3' }));
  assert.equal(t.size, before + 1);
  assert.equal((t as unknown as { listeners: unknown[] }).listeners.length, 1);
  // The transport and synced function given are the ones the questions go through (the real path's shapes).
  let tcpReads = 0;
  let syncedCalls = 0;
  const transport = {
    get tcp() {
      tcpReads++;
      return false;
    },
    remote: 'test',
  };
  await warmUp({ ...parts, synced: () => (syncedCalls++, true) }, SILENT, { minQueries: 100, minMs: 1, maxMs: 5000, transport });
  assert.ok(tcpReads >= 100, `transport read ${tcpReads} times`);
  assert.ok(syncedCalls > 0, 'synced() asked');
  // A bound on time is kept even when the query count cannot be reached.
  const short = await warmUp(parts, SILENT, { minQueries: 1e9, minMs: 1, maxMs: 30 });
  assert.ok(short.ms < 1000, `${short.ms} ms`);
});
