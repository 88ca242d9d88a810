// kube2sky as a real process: the sandbox API server (real list/watch protocol,
// client-node informers on the kube2sky side) and a real etcd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdProcess, etcdGetPrefix, etcdPut, startEtcd } from '../harness/etcd.js';
import { InProcessApi, startApiServerInProcess } from '../harness/apiserver.js';
import { KUBE2SKY_BIN, Kube2SkyProcess, startKube2Sky } from '../harness/kube2sky.js';
import { runToExit, waitUntil } from '../harness/proc.js';
import { freeTcpPort } from '../harness/ports.js';

const D = '/skydns/local/cluster';
const A = (ip: string) => `{"host":"${ip}","priority":10,"weight":10,"ttl":30,"targetstrip":0}`;
const SRV = (host: string, port: number) => `{"host":"${host}","port":${port},"priority":10,"weight":10,"ttl":30,"targetstrip":0}`;

async function under(url: string, prefix: string): Promise<Record<string, string>> {
  return Object.fromEntries((await etcdGetPrefix(url, prefix)).map((kv) => [kv.key, kv.value]));
}

async function converge(url: string, prefix: string, want: Record<string, string>, what: string): Promise<void> {
  let last: Record<string, string> = {};
  try {
    await waitUntil(async () => {
      last = await under(url, prefix);
      return JSON.stringify(last) === JSON.stringify(Object.fromEntries(Object.entries(want).sort(([a], [b]) => (a < b ? -1 : 1))));
    }, 15000, what);
  } catch (err) {
    assert.deepEqual(last, want, (err as Error).message);
  }
}

describe('kube2sky against the sandbox API server', () => {
  let etcd: EtcdProcess;
  let api: InProcessApi;
  let k2s: Kube2SkyProcess;

  before(async () => {
    etcd = await startEtcd();
    // Left over from before a restart: records of objects that no longer exist, and a key not ours.
    await etcdPut(etcd.url, `${D}/svc/default/gone/c88f1059`, A('10.0.0.99'));
    await etcdPut(etcd.url, `${D}/pod/default/9-9-9-9/abc`, A('9.9.9.9'));
    await etcdPut(etcd.url, '/skydns/arpa/in-addr/10/0/0/99', '{"host":"gone.default.svc.cluster.local."}');
    await etcdPut(etcd.url, '/skydns/arpa/in-addr/192/168/1/1', '{"host":"router.example.org."}');
    await etcdPut(etcd.url, `${D}/dns/ns/ns1`, '{"host":"10.0.0.10"}');
    // An ExternalName record as an earlier version wrote it: at a hash label below the service's key.
    await etcdPut(etcd.url, `${D}/svc/shop/legacy-ext/5d6a8b1e`, '{"host":"legacy.example.com.","priority":10,"weight":10,"ttl":30,"targetstrip":0}');
    api = await startApiServerInProcess({ simulateKubelet: true });
    api.server.store.create('namespaces', undefined, { metadata: { name: 'shop' } });
    api.server.store.create('services', 'shop', { metadata: { name: 'legacy-ext' }, spec: { type: 'ExternalName', externalName: 'legacy.example.com' } });
    // The Endpoints path (kube2sky-slices.test.ts has the EndpointSlices one): the legacy hostnames-map
    // annotation below exists on Endpoints objects only.
    k2s = await startKube2Sky(etcd.url, api.url, ['--endpoint-slices=false']);
  });
  after(async () => {
    await k2s?.stop();
    await api?.stop();
    await etcd?.stop();
  });

  test('start-up: the kubernetes service byte for byte, stale keys reconciled away, foreign keys kept', async () => {
    assert.deepEqual(await k2s.get('/readiness'), { status: 200, body: 'ok\n' });
    assert.deepEqual(await under(etcd.url, `${D}/svc/default/kubernetes/`), {
      [`${D}/svc/default/kubernetes/_tcp/_https/c88f1059`]: '{"host":"kubernetes.default.svc.cluster.local.","port":443,"priority":10,"weight":10,"ttl":30,"targetstrip":0}',
      [`${D}/svc/default/kubernetes/c88f1059`]: '{"host":"10.0.0.1","priority":10,"weight":10,"ttl":30,"targetstrip":0}',
    });
    const all = await under(etcd.url, '/skydns/');
    assert.equal(all[`${D}/svc/default/gone/c88f1059`], undefined);
    assert.equal(all[`${D}/pod/default/9-9-9-9/abc`], undefined);
    assert.equal(all['/skydns/arpa/in-addr/10/0/0/99'], undefined);
    assert.equal(all['/skydns/arpa/in-addr/192/168/1/1'], '{"host":"router.example.org."}');
    assert.equal(all[`${D}/dns/ns/ns1`], '{"host":"10.0.0.10"}');
    assert.equal(all['/skydns/arpa/in-addr/10/0/0/1'], '{"host":"kubernetes.default.svc.cluster.local.","priority":10,"weight":10,"ttl":30,"targetstrip":0}');
    assert.equal(all[`${D}/dns-version`], '{"text":"1.1.0","ttl":30,"targetstrip":0}');
    assert.match(k2s.prog.output(), /Successfully added DNS record for Kubernetes service/);
  });

  test('ExternalName: the record at the service\'s own key; the hash-labelled leaf of an earlier version reconciled away', async () => {
    assert.deepEqual(await under(etcd.url, `${D}/svc/shop/legacy-ext`), {
      [`${D}/svc/shop/legacy-ext`]: '{"host":"legacy.example.com.","priority":10,"weight":10,"ttl":30,"targetstrip":0}',
    });
  });

  test('ClusterIP service: add, update (ports and IP), delete', async () => {
    api.server.store.create('services', 'default', {
      metadata: { name: 'web' },
      spec: { clusterIP: '10.0.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    const label50 = '70c920fd'; // FNV-1a of the A value, as kube2sky 1.14 computed it
    await converge(etcd.url, `${D}/svc/default/web/`, {
      [`${D}/svc/default/web/_tcp/_http/${label50}`]: SRV('web.default.svc.cluster.local.', 80),
      [`${D}/svc/default/web/${label50}`]: A('10.0.0.50'),
    }, 'web records');
    api.server.store.patch('services', 'default', 'web', 'merge', { spec: { ports: [{ name: 'metrics', port: 9090, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] } });
    await converge(etcd.url, `${D}/svc/default/web/`, {
      [`${D}/svc/default/web/_tcp/_metrics/${label50}`]: SRV('web.default.svc.cluster.local.', 9090),
      [`${D}/svc/default/web/_udp/_dns/${label50}`]: SRV('web.default.svc.cluster.local.', 53),
      [`${D}/svc/default/web/${label50}`]: A('10.0.0.50'),
    }, 'web records after the port change');
    api.server.store.delete('services', 'default', 'web');
    await converge(etcd.url, `${D}/svc/default/web/`, {}, 'web records removed');
    await converge(etcd.url, '/skydns/arpa/in-addr/10/0/0/50', {}, 'PTR removed');
  });

  test('a 63-character port name (valid in the API) gets no SRV record and a problem line; the other records are written', async () => {
    const long63 = 'p'.repeat(63);
    api.server.store.create('services', 'default', {
      metadata: { name: 'wide' },
      spec: { clusterIP: '10.0.0.51', ports: [{ name: long63, port: 80, protocol: 'TCP' }, { name: 'http', port: 81, protocol: 'TCP' }] },
    });
    const label = '99907684';
    await converge(etcd.url, `${D}/svc/default/wide/`, {
      [`${D}/svc/default/wide/_tcp/_http/${label}`]: SRV('wide.default.svc.cluster.local.', 81),
      [`${D}/svc/default/wide/${label}`]: A('10.0.0.51'),
    }, 'wide records');
    assert.match(k2s.prog.output(), new RegExp(`service default/wide: port name "${long63}" is 63 characters: the SRV label "_${long63}" would be 64 bytes, over DNS's 63; no SRV record for it`));
    api.server.store.delete('services', 'default', 'wide');
    await converge(etcd.url, `${D}/svc/default/wide/`, {}, 'wide records removed');
  });

  test('a pod whose IP is IPv4-mapped IPv6 gets the IPv4 pod record', async () => {
    api.server.store.create('pods', 'default', {
      metadata: { name: 'mapped' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
      status: { podIP: '::ffff:10.244.7.7', phase: 'Running' },
    });
    await converge(etcd.url, `${D}/pod/default/10-244-7-7/`, { [`${D}/pod/default/10-244-7-7/e707c752`]: A('10.244.7.7') }, 'mapped pod record');
    assert.deepEqual((await etcdGetPrefix(etcd.url, `${D}/pod/default/`)).filter((kv) => kv.key.includes('ffff')), []);
    api.server.store.delete('pods', 'default', 'mapped');
    await converge(etcd.url, `${D}/pod/default/10-244-7-7/`, {}, 'mapped pod record removed');
  });

  test('headless service: endpoints from pods, hostnames, pod records; endpoints delete removes them', async () => {
    const store = api.server.store;
    store.create('services', 'default', { metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] } });
    for (const n of [0, 1]) {
      store.create('pods', 'default', {
        metadata: { name: `db-${n}`, labels: { app: 'db' } },
        spec: { hostname: `db-${n}`, subdomain: 'db', containers: [{ name: 'pg', image: 'postgres', ports: [{ containerPort: 5432 }] }] },
        status: { podIP: `10.244.9.${n + 1}`, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
    await converge(etcd.url, `${D}/svc/default/db/`, {
      [`${D}/svc/default/db/_tcp/_pg/db-0`]: SRV('db-0.db.default.svc.cluster.local.', 5432),
      [`${D}/svc/default/db/_tcp/_pg/db-1`]: SRV('db-1.db.default.svc.cluster.local.', 5432),
      [`${D}/svc/default/db/db-0`]: A('10.244.9.1'),
      [`${D}/svc/default/db/db-1`]: A('10.244.9.2'),
    }, 'headless records');
    const pods = await under(etcd.url, `${D}/pod/default/10-244-9-1/`);
    assert.deepEqual(Object.values(pods), [A('10.244.9.1')]);
    // A pod turning not ready leaves the endpoints, and so the DNS.
    store.patch('pods', 'default', 'db-1', 'merge', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, { subresource: 'status' });
    await converge(etcd.url, `${D}/svc/default/db/`, {
      [`${D}/svc/default/db/_tcp/_pg/db-0`]: SRV('db-0.db.default.svc.cluster.local.', 5432),
      [`${D}/svc/default/db/db-0`]: A('10.244.9.1'),
    }, 'not-ready pod removed');
    store.delete('pods', 'default', 'db-0');
    await converge(etcd.url, `${D}/pod/default/10-244-9-1/`, {}, 'pod record removed');
    store.delete('services', 'default', 'db');
    await converge(etcd.url, `${D}/svc/default/db/`, {}, 'headless records removed');
  });

  test('a bad hostnames-map annotation is logged with namespace/name; hash labels are used', async () => {
    const store = api.server.store;
    store.create('services', 'default', { metadata: { name: 'manual' }, spec: { clusterIP: 'None', ports: [{ name: 'x', port: 1, protocol: 'TCP' }] } });
    store.create('endpoints', 'default', {
      metadata: { name: 'manual', annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{broken' } },
      subsets: [{ addresses: [{ ip: '10.1.2.3' }], ports: [{ name: 'x', port: 1, protocol: 'TCP' }] }],
    });
    await converge(etcd.url, `${D}/svc/default/manual/`, {
      [`${D}/svc/default/manual/_tcp/_x/4efe7a20`]: SRV('4efe7a20.manual.default.svc.cluster.local.', 1),
      [`${D}/svc/default/manual/4efe7a20`]: A('10.1.2.3'),
    }, 'manual endpoints with hash labels');
    assert.match(k2s.prog.output(), /endpoints default\/manual: annotation endpoints\.beta\.kubernetes\.io\/hostnames-map is not valid JSON/);
    store.delete('endpoints', 'default', 'manual');
    await converge(etcd.url, `${D}/svc/default/manual/`, {}, 'endpoints delete removes the records');
    store.delete('services', 'default', 'manual');
  });

  test('watches cut and history expired (410 Gone): the informers re-list and etcd converges', async () => {
    const store = api.server.store;
    api.server.holdWatches();
    api.server.closeWatches();
    store.create('services', 'default', { metadata: { name: 'while-cut' }, spec: { clusterIP: '10.0.0.60', ports: [{ port: 80 }] } });
    store.create('services', 'kube-system', { metadata: { name: 'also' }, spec: { clusterIP: '10.0.0.61', ports: [{ port: 80 }] } });
    store.setHistoryLimit(1);
    store.compact();
    api.server.releaseWatches();
    await converge(etcd.url, `${D}/svc/default/while-cut/`, { [`${D}/svc/default/while-cut/9e670bcc`]: A('10.0.0.60') }, 'service created while the watch was cut');
    await converge(etcd.url, `${D}/svc/kube-system/also/`, { [`${D}/svc/kube-system/also/2489e6c5`]: A('10.0.0.61') }, 'second service');
    store.setHistoryLimit(1000);
  });

  test('etcd stopped and restarted mid-stream: readiness 503 meanwhile, nothing lost', async () => {
    await etcd.kill();
    api.server.store.create('services', 'default', { metadata: { name: 'during-outage' }, spec: { clusterIP: '10.0.0.70', ports: [{ port: 80 }] } });
    await waitUntil(async () => (await k2s.get('/readiness')).status === 503, 20000, 'readiness 503 while etcd is down');
    assert.match((await k2s.get('/readiness')).body, /^not ready: etcd unreachable: /);
    await etcd.restart();
    await waitUntil(async () => (await k2s.get('/readiness')).status === 200, 30000, 'ready again');
    await converge(etcd.url, `${D}/svc/default/during-outage/`, { [`${D}/svc/default/during-outage/52c9dfc7`]: A('10.0.0.70') }, 'record written after etcd returned');
    const m = await k2s.get('/metrics');
    assert.match(m.body, /^kube2sky_etcd_errors_total [1-9]\d*$/m);
    assert.match(m.body, /^kube2sky_dns_programming_latency_seconds_count [1-9]\d*$/m);
  });
});

describe('kube2sky command line', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runToExit(process.execPath, [KUBE2SKY_BIN, ...args], { name: 'kube2sky-cli', env });

  test('--version exits 0; bad flags exit 2 with a clear first line', async () => {
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    assert.equal(v.out, 'kube2sky 1.14 (kube-dns-ts 0.1.0)\n');
    for (const [args, msg] of [
      [['--bogus'], 'kube2sky: flag provided but not defined: -bogus'],
      [['--etcd-mutation-timeout=x'], 'kube2sky: invalid value "x" for flag -etcd-mutation-timeout: parse error'],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 2, `${args}: ${r.out}`);
      assert.equal(r.out.split('\n')[0], msg);
    }
  });

  test('no API server configured and not in a pod: exit 2 saying what to give', async () => {
    const env = { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' };
    const r = await run(['--etcd-server=http://127.0.0.1:1', `--healthz-port=${await freeTcpPort()}`, '--healthz-address=127.0.0.1'], env);
    assert.equal(r.code, 2, r.out);
    assert.equal(
      r.out,
      'kube2sky: cannot configure the Kubernetes client: neither --kube-master-url nor --kubecfg-file is set, and KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not (they are in a pod)\n',
    );
  });
});

describe('kube2sky notices stalled watches (--watch-stall-timeout)', () => {
  let etcd: EtcdProcess;
  let api: InProcessApi;
  let k2s: Kube2SkyProcess;
  const BOUND_MS = 2000;

  before(async () => {
    etcd = await startEtcd();
    // Bookmarks rarer than the bound: only the watches' own timeout (half the bound) keeps them alive.
    api = await startApiServerInProcess({ simulateKubelet: true, bookmarkIntervalMs: 60_000 });
    k2s = await startKube2Sky(etcd.url, api.url, [`--watch-stall-timeout=${BOUND_MS}ms`]);
  });
  after(async () => {
    await k2s?.stop();
    await api?.stop();
    await etcd?.stop();
  });

  test('a healthy quiet cluster stays ready through several bounds', async () => {
    const deadline = Date.now() + 3 * BOUND_MS;
    let polls = 0;
    while (Date.now() < deadline) {
      assert.deepEqual(await k2s.get('/readiness'), { status: 200, body: 'ok\n' }, `poll ${polls}`);
      polls++;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(polls > 20);
    assert.doesNotMatch(k2s.prog.output(), /nothing from the API server/);
  });

  test('watches held by the API server: /readiness 503 naming the watch within the bound, restarts, and recovery once released', async () => {
    api.server.holdWatches();
    const t0 = Date.now();
    api.server.closeWatches();
    api.server.store.create('services', 'default', { metadata: { name: 'while-stalled' }, spec: { clusterIP: '10.0.0.90', ports: [{ port: 80 }] } });
    await waitUntil(async () => (await k2s.get('/readiness')).status === 503, 3 * BOUND_MS, 'readiness 503 while the watches are held');
    assert.ok(Date.now() - t0 < BOUND_MS + 1500, `503 after ${Date.now() - t0} ms`);
    const r = await k2s.get('/readiness');
    assert.match(r.body, /^not ready: watch (services|endpoints|endpointslices|pods) silent for \d+\.\d s \(bound 2 s\): no event, bookmark or new connection from the API server\n$/);
    await k2s.prog.waitFor(/watch (services|endpoints|pods): nothing from the API server for \d+\.\d s \(bound 2 s\); restarting it/, 3 * BOUND_MS);
    // Still held: the record is not there, readiness stays 503.
    assert.deepEqual(await under(etcd.url, `${D}/svc/default/while-stalled/`), {});
    assert.equal((await k2s.get('/readiness')).status, 503);
    api.server.releaseWatches();
    await converge(etcd.url, `${D}/svc/default/while-stalled/`, { [`${D}/svc/default/while-stalled/c3d372b1`]: A('10.0.0.90') }, 'service created while the watches were held');
    await waitUntil(async () => (await k2s.get('/readiness')).status === 200, 3 * BOUND_MS, 'ready again');
    const m = await k2s.get('/metrics');
    assert.match(m.body, /^kube2sky_api_watch_errors_total\{kind="services"\} [1-9]\d*$/m);
    // Ending a watch request (restart) is no error of its own.
    assert.doesNotMatch(k2s.prog.output(), /uncaught exception|unhandled rejection| ERROR /);
  });

  test('SIGTERM with the watches open: exit 0, no error on the way out (the aborted requests are expected)', async () => {
    assert.equal(await k2s.prog.stop(), 0);
    assert.doesNotMatch(k2s.prog.output(), /uncaught exception|unhandled rejection| ERROR /);
    assert.match(k2s.prog.output(), /Received signal SIGTERM, shutting down\n$/);
  });
});
