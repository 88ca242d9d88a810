// The kube2sky writer against a real etcd: differences only, no window on update,
// reconcile of stale keys, foreign keys untouched, etcd outages retried until they converge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startEtcd, etcdGetPrefix, etcdPut } from '../harness/etcd.js';
import { waitUntil } from '../harness/proc.js';
import { RecordWriter } from '../../lib/kube2sky/writer.js';
import { createEtcdClient } from '../../lib/etcd/client.js';

const quiet = { debug(_m: string) {}, info(_m: string) {}, warn(_m: string) {}, error(_m: string) {} };
const S = '/skydns/local/cluster/svc/';

function writer(client: Etcd3, log = quiet) {
  const w = new RecordWriter(client, { prefixes: [S], owns: (k) => k.startsWith(S), log, attemptTimeoutMs: 2000 });
  w.start();
  return w;
}

const rec = (entries: Record<string, string>) => new Map(Object.entries(entries));
const dump = async (url: string) => Object.fromEntries((await etcdGetPrefix(url, '/skydns/')).map((kv) => [kv.key, kv.value]));

test('writes, updates by difference, removes; deletes wait for enableDeletes', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url] });
  try {
    await etcdPut(etcd.url, `${S}default/stale/1`, '{"host":"10.9.9.9"}');
    await etcdPut(etcd.url, '/skydns/local/cluster/other/keep', '{"host":"10.8.8.8"}');
    const w = writer(client);
    w.requestReconcile();
    w.set('svc/default/a', rec({ [`${S}default/a/1`]: 'A1', [`${S}default/a/_tcp/_http/1`]: 'SRV1' }));
    await w.drained();
    assert.deepEqual(await dump(etcd.url), {
      '/skydns/local/cluster/other/keep': '{"host":"10.8.8.8"}',
      [`${S}default/a/1`]: 'A1',
      [`${S}default/a/_tcp/_http/1`]: 'SRV1',
      [`${S}default/stale/1`]: '{"host":"10.9.9.9"}',
    });
    w.enableDeletes();
    await w.drained();
    assert.deepEqual(await dump(etcd.url), {
      '/skydns/local/cluster/other/keep': '{"host":"10.8.8.8"}',
      [`${S}default/a/1`]: 'A1',
      [`${S}default/a/_tcp/_http/1`]: 'SRV1',
    });
    const rev0 = (await client.kv.range({ key: Buffer.from(`${S}default/a/_tcp/_http/1`) })).kvs[0].mod_revision;
    w.set('svc/default/a', rec({ [`${S}default/a/2`]: 'A2', [`${S}default/a/_tcp/_http/1`]: 'SRV1' }));
    await w.drained();
    assert.deepEqual(await dump(etcd.url), {
      '/skydns/local/cluster/other/keep': '{"host":"10.8.8.8"}',
      [`${S}default/a/2`]: 'A2',
      [`${S}default/a/_tcp/_http/1`]: 'SRV1',
    });
    const rev1 = (await client.kv.range({ key: Buffer.from(`${S}default/a/_tcp/_http/1`) })).kvs[0].mod_revision;
    assert.equal(rev1, rev0, 'an unchanged key is not rewritten');
    w.remove('svc/default/a');
    await w.drained();
    assert.deepEqual(await dump(etcd.url), { '/skydns/local/cluster/other/keep': '{"host":"10.8.8.8"}' });
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});

test('an update never leaves a moment without an A record (watched revision by revision)', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url] });
  const seen: string[][] = [];
  try {
    const w = writer(client);
    w.enableDeletes();
    w.set('svc/default/web', rec({ [`${S}default/web/old`]: 'A-old' }));
    await w.drained();
    // Follow every event on the service directory and rebuild its key set after each one.
    const present = new Set<string>([`${S}default/web/old`]);
    const watcher = await client.watch().prefix(`${S}default/web/`).create();
    watcher.on('put', (kv) => {
      present.add(kv.key.toString());
      seen.push([...present].sort());
    });
    watcher.on('delete', (kv) => {
      present.delete(kv.key.toString());
      seen.push([...present].sort());
    });
    for (let i = 0; i < 20; i++) {
      w.set('svc/default/web', rec({ [`${S}default/web/v${i}`]: `A${i}` }));
      await w.drained();
    }
    await waitUntil(() => present.size === 1 && present.has(`${S}default/web/v19`), 5000, 'final state watched');
    await watcher.cancel();
    assert.ok(seen.length >= 20);
    for (const state of seen) assert.ok(state.length >= 1, `a moment with no record: ${JSON.stringify(seen)}`);
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});

test('transactions in parallel: many services re-addressed at once never lack a record, deletes wait for every put', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url] });
  try {
    const inFlightAtLanding: number[] = [];
    const w: RecordWriter = new RecordWriter(client, {
      prefixes: [S],
      owns: (k) => k.startsWith(S),
      log: quiet,
      attemptTimeoutMs: 2000,
      batch: 3,
      parallel: 4,
      hooks: { written: () => void inFlightAtLanding.push(w.transactionsInFlight) },
    });
    w.start();
    w.enableDeletes();
    const N = 40;
    for (let i = 0; i < N; i++) w.set(`svc/default/s${i}`, rec({ [`${S}default/s${i}/old`]: `old${i}` }));
    await w.drained();
    assert.ok(inFlightAtLanding.some((n) => n > 0), `transactions overlapped: ${inFlightAtLanding}`);
    assert.ok(Math.max(...inFlightAtLanding) <= 3, `at most 4 in flight: ${inFlightAtLanding}`);

    const present = new Map<string, Set<string>>();
    for (let i = 0; i < N; i++) present.set(`s${i}`, new Set(['old']));
    const empty: string[] = [];
    const watcher = await client.watch().prefix(`${S}default/`).create();
    const svcOf = (key: string) => key.slice(`${S}default/`.length).split('/') as [string, string];
    watcher.on('put', (kv) => {
      const [svc, label] = svcOf(kv.key.toString());
      present.get(svc)!.add(label);
    });
    watcher.on('delete', (kv) => {
      const [svc, label] = svcOf(kv.key.toString());
      present.get(svc)!.delete(label);
      if (present.get(svc)!.size === 0) empty.push(svc);
    });
    for (let i = 0; i < N; i++) w.set(`svc/default/s${i}`, rec({ [`${S}default/s${i}/new`]: `new${i}` }));
    await w.drained();
    await waitUntil(() => [...present.values()].every((l) => l.size === 1 && l.has('new')), 5000, 'final state watched');
    await watcher.cancel();
    assert.deepEqual(empty, [], 'services seen without any record');
    const want: Record<string, string> = {};
    for (let i = 0; i < N; i++) want[`${S}default/s${i}/new`] = `new${i}`;
    assert.deepEqual(await dump(etcd.url), Object.fromEntries(Object.entries(want).sort(([a], [b]) => (a < b ? -1 : 1))));
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});

test('a record that changes shape (ExternalName ⇄ ClusterIP) is replaced at one etcd revision: the new keys and the drops in one transaction', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url] });
  try {
    const w = writer(client);
    w.enableDeletes();
    const clusterIP = rec({ [`${S}default/web/a1`]: 'A', [`${S}default/web/_tcp/_http/s1`]: 'SRV' });
    const external = rec({ [`${S}default/web`]: 'CNAME' });
    w.set('svc/default/web', clusterIP);
    w.set('svc/default/other', rec({ [`${S}default/other/o1`]: 'A-o1' }));
    await w.drained();
    const events: { type: string; key: string; rev: string }[] = [];
    const watcher = await client.watch().prefix(`${S}default/`).create();
    watcher.on('put', (kv) => void events.push({ type: 'put', key: kv.key.toString(), rev: kv.mod_revision }));
    watcher.on('delete', (kv) => void events.push({ type: 'delete', key: kv.key.toString(), rev: kv.mod_revision }));
    w.set('svc/default/web', external);
    await w.drained();
    await waitUntil(() => events.length >= 3, 5000, 'switch to ExternalName watched');
    w.set('svc/default/web', clusterIP);
    w.set('svc/default/other', rec({ [`${S}default/other/o2`]: 'A-o2' }));
    await w.drained();
    await waitUntil(() => events.length >= 8, 5000, 'switch back watched');
    await watcher.cancel();
    const toExt = events.slice(0, 3);
    const shape = (es: typeof events) => es.map((e) => `${e.type} ${e.key.slice(S.length)}`);
    assert.equal(shape(toExt)[0], 'put default/web', 'the put comes first in the transaction');
    assert.deepEqual(shape(toExt).sort(), ['delete default/web/_tcp/_http/s1', 'delete default/web/a1', 'put default/web']);
    assert.equal(new Set(toExt.map((e) => e.rev)).size, 1, `one revision: ${JSON.stringify(toExt)}`);
    const back = events.slice(3).filter((e) => e.key.startsWith(`${S}default/web`));
    assert.equal(back.length, 3);
    assert.equal(new Set(back.map((e) => e.rev)).size, 1, `one revision: ${JSON.stringify(back)}`);
    assert.equal(shape(back).filter((x) => x.startsWith('put')).length, 2);
    // Any object's replaced keys go the same way (an address changed: new key and old key at one revision).
    const other = events.slice(3).filter((e) => e.key.startsWith(`${S}default/other`));
    assert.deepEqual(shape(other), ['put default/other/o2', 'delete default/other/o1']);
    assert.equal(other[0].rev, other[1].rev);
    assert.deepEqual(await dump(etcd.url), { [`${S}default/other/o2`]: 'A-o2', [`${S}default/web/_tcp/_http/s1`]: 'SRV', [`${S}default/web/a1`]: 'A' });
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});

test('shared keys: two objects wanting one key keep it until both are gone', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url] });
  try {
    const w = writer(client);
    w.enableDeletes();
    const key = `${S}default/shared/1`;
    w.set('pod/default/a', rec({ [key]: 'same' }));
    w.set('pod/default/b', rec({ [key]: 'same' }));
    await w.drained();
    w.remove('pod/default/a');
    await w.drained();
    assert.deepEqual(await dump(etcd.url), { [key]: 'same' });
    w.remove('pod/default/b');
    await w.drained();
    assert.deepEqual(await dump(etcd.url), {});
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});

test('etcd stopped mid-stream: writes are retried and converge, nothing lost', async () => {
  const etcd = await startEtcd();
  const client = createEtcdClient({ urls: [etcd.url], callTimeoutMs: 1000 });
  const warnings: string[] = [];
  try {
    const w = writer(client, { ...quiet, warn: (m: string) => void warnings.push(m) });
    w.enableDeletes();
    w.set('svc/default/a', rec({ [`${S}default/a/1`]: 'A1' }));
    await w.drained();
    await etcd.kill();
    w.set('svc/default/b', rec({ [`${S}default/b/1`]: 'B1' }));
    w.remove('svc/default/a');
    await waitUntil(() => !w.etcdOk, 10000, 'writer notices etcd is down');
    await etcd.restart();
    assert.equal(await w.drained(30000), true);
    assert.ok(w.etcdOk);
    assert.deepEqual(await dump(etcd.url), { [`${S}default/b/1`]: 'B1' });
    assert.ok(warnings.some((m) => m.startsWith('etcd write failed')), warnings.join('\n'));
    await w.stop();
  } finally {
    client.close();
    await etcd.stop();
  }
});
