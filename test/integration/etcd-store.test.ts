// skydns's record store (lib/skydns/etcd-store.ts) on its own, against a real etcd: the first
// full read, the watch that follows it (puts, deletes, bad values), leases (their TTL as etcd
// reports it; a revoked lease removes its keys), losing and regaining etcd, and stop().
// (No fake etcd watch: the store is tested against the real thing, as everything else here.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, etcdConnection } from '../../lib/etcd/client.js';
import { EtcdStore } from '../../lib/skydns/etcd-store.js';
import { createLogger } from '../../lib/log.js';
import { EtcdProcess, etcdPut, etcdDel, startEtcd } from '../harness/etcd.js';
import { sleep, waitUntil } from '../harness/proc.js';

const A = (ip: string) => `{"host":"${ip}","ttl":30}`;

describe('EtcdStore against a real etcd', () => {
  let etcd: EtcdProcess;
  let client: Etcd3;
  let store: EtcdStore;
  const lines: string[] = [];

  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/a/1', A('10.0.0.1'));
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/b/1', A('10.0.0.2'));
    await etcdPut(etcd.url, '/other/prefix/x', A('10.9.9.9'));
    client = createEtcdClient({ urls: [etcd.url] });
    store = new EtcdStore(client, etcdConnection({ urls: [etcd.url] }), 'skydns', createLogger('store-test', 'debug', (l) => void lines.push(l)));
    await store.start();
  });
  after(async () => {
    await store?.stop();
    client?.close();
    await etcd?.stop();
  });

  test('the first read takes every key under the prefix and nothing else, and says so', () => {
    assert.equal(store.synced, true);
    assert.equal(store.connected, true);
    assert.equal(store.tree.size, 2);
    assert.ok(store.tree.get('/skydns/local/cluster/svc/ns/a/1')?.svc);
    assert.equal(store.tree.get('/other/prefix/x'), null);
    assert.ok(BigInt(store.revision) > 0n);
    assert.ok(lines.some((l) => /etcd: read 2 keys under \/skydns\/ at revision \d+/.test(l)), lines.join('\n'));
  });

  test('the watch applies puts and deletes in order, and a bad value is counted and logged, not kept as a record', async () => {
    let changes = 0;
    const onChange = () => void changes++;
    store.on('change', onChange);
    try {
      await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/c/1', A('10.0.0.3'));
      await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/a/1', A('10.0.0.11'));
      await etcdDel(etcd.url, '/skydns/local/cluster/svc/ns/b/1');
      await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/bad/1', '{"host": 12}');
      await waitUntil(() => store.tree.get('/skydns/local/cluster/svc/ns/bad/1') !== null, 3000, 'the bad value arrives');
      assert.equal(store.tree.get('/skydns/local/cluster/svc/ns/c/1')?.svc?.host, '10.0.0.3');
      assert.equal(store.tree.get('/skydns/local/cluster/svc/ns/a/1')?.svc?.host, '10.0.0.11');
      assert.equal(store.tree.get('/skydns/local/cluster/svc/ns/b/1'), null);
      assert.equal(store.tree.get('/skydns/local/cluster/svc/ns/bad/1')?.svc, null);
      assert.equal(store.tree.invalid, 1);
      assert.ok(lines.some((l) => l.includes('WARN') && l.includes('/skydns/local/cluster/svc/ns/bad/1') && l.includes('skipped in answers')), lines.join('\n'));
      assert.ok(changes >= 1);
    } finally {
      store.off('change', onChange);
      await etcdDel(etcd.url, '/skydns/local/cluster/svc/ns/bad/1');
    }
  });

  test('a key under a lease: its TTL as etcd reports it; revoking the lease removes the key', async () => {
    const lease = client.lease(30, { autoKeepAlive: false });
    await lease.put('/skydns/local/cluster/svc/ns/leased/1').value(A('10.0.0.4'));
    const id = await lease.grant();
    await waitUntil(() => store.tree.get('/skydns/local/cluster/svc/ns/leased/1') !== null, 3000, 'the leased key arrives');
    // The lease ID as the watch reports it with the key: decimal, as grant() gives it.
    await waitUntil(() => store.leaseTTL(id) !== null, 3000, 'the lease TTL is known');
    const ttl = store.leaseTTL(id)!;
    assert.ok(ttl > 20 && ttl <= 30, `lease TTL ${ttl}`);
    await lease.revoke();
    await waitUntil(() => store.tree.get('/skydns/local/cluster/svc/ns/leased/1') === null, 3000, 'the key goes with its lease');
  });

  test('losing etcd: disconnected and growing stale, the records kept; back: connected, and what changed since is applied', async () => {
    const before = store.tree.size;
    await etcd.kill();
    await waitUntil(() => !store.connected, 10_000, 'the store to notice');
    await waitUntil(() => store.stalenessSeconds() >= 1, 5000, 'staleness to pass 1 s');
    assert.equal(store.connected, false);
    assert.equal(store.tree.size, before, 'the last snapshot is kept');
    await etcd.restart();
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/after/1', A('10.0.0.5'));
    await waitUntil(() => store.connected && store.tree.get('/skydns/local/cluster/svc/ns/after/1') !== null, 20_000, 'reconnected with the new key');
    assert.equal(store.stalenessSeconds(), 0);
  });

  test('after stop(), etcd changes are no longer applied', async () => {
    await store.stop();
    await etcdPut(etcd.url, '/skydns/local/cluster/svc/ns/late/1', A('10.0.0.6'));
    await sleep(500);
    assert.equal(store.tree.get('/skydns/local/cluster/svc/ns/late/1'), null);
  });
});
