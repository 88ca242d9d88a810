// kube2sky reading EndpointSlices from the sandbox API server, as a real process with real etcds:
// --endpoint-slices=auto picks the API the server has; slices and Endpoints give the same records
// for the seeded cluster and a random one; a service with 5,000 endpoints gets them all; an address
// moving between slices never loses its record; dual stack gets A and AAAA; kubectl sees slices.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { type EtcdProcess, etcdGetPrefix, startEtcd } from '../harness/etcd.js';
import { type InProcessApi, kubectl, startApiServerInProcess } from '../harness/apiserver.js';
import { type Kube2SkyProcess, startKube2Sky } from '../harness/kube2sky.js';
import { sleep, waitUntil } from '../harness/proc.js';
import { rng } from '../harness/random.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SEED = path.join(root, 'manifests/sandbox-cluster.yaml');
const D = '/skydns/local/cluster';

async function dump(url: string, prefix = '/skydns/'): Promise<Record<string, string>> {
  return Object.fromEntries((await etcdGetPrefix(url, prefix)).map((kv) => [kv.key, kv.value]));
}

/** Waits until the two etcds hold the same records; fails with the difference. */
async function sameRecords(a: string, b: string, what: string, timeoutMs = 20_000): Promise<number> {
  let x: Record<string, string> = {};
  let y: Record<string, string> = {};
  try {
    await waitUntil(async () => {
      [x, y] = await Promise.all([dump(a), dump(b)]);
      return JSON.stringify(x) === JSON.stringify(y);
    }, timeoutMs, what);
  } catch (err) {
    assert.deepEqual(x, y, (err as Error).message);
  }
  return Object.keys(x).length;
}

const leaves = async (url: string, svcKey: string) => (await etcdGetPrefix(url, `${D}/svc/${svcKey}/`)).filter((kv) => !kv.key.includes('/_'));

describe('kube2sky with EndpointSlices', () => {
  let api: InProcessApi;
  let etcdSlices: EtcdProcess;
  let etcdEndpoints: EtcdProcess;
  let fromSlices: Kube2SkyProcess;
  let fromEndpoints: Kube2SkyProcess;

  before(async () => {
    api = await startApiServerInProcess({ load: [SEED], serviceCidr: '10.0.0.0/24,fd00:10::/108' });
    [etcdSlices, etcdEndpoints] = await Promise.all([startEtcd({ name: 'slices' }), startEtcd({ name: 'endpoints' })]);
    [fromSlices, fromEndpoints] = await Promise.all([startKube2Sky(etcdSlices.url, api.url), startKube2Sky(etcdEndpoints.url, api.url, ['--endpoint-slices=false'])]);
  });

  after(async () => {
    await fromSlices?.stop();
    await fromEndpoints?.stop();
    await api?.stop();
    await etcdSlices?.stop();
    await etcdEndpoints?.stop();
  });

  test('--endpoint-slices=auto reads EndpointSlices from a server that has them, Endpoints from one that has not', async () => {
    assert.match(fromSlices.prog.output(), /reading endpoints from EndpointSlices \(discovery\.k8s\.io\/v1; --endpoint-slices=auto\)/);
    assert.match(fromEndpoints.prog.output(), /reading endpoints from Endpoints \(core\/v1; --endpoint-slices=false\)/);
    const old = await startApiServerInProcess({ load: [SEED], endpointSlices: false });
    const etcd = await startEtcd({ name: 'old' });
    let k: Kube2SkyProcess | undefined;
    try {
      k = await startKube2Sky(etcd.url, old.url);
      assert.match(k.prog.output(), /reading endpoints from Endpoints \(core\/v1; --endpoint-slices=auto: the API server does not serve discovery\.k8s\.io\/v1 EndpointSlices\)/);
      // And its records are what the slices reader wrote for the same cluster.
      await sameRecords(etcd.url, etcdSlices.url, 'the records of an API server without slices');
    } finally {
      await k?.stop();
      await etcd.stop();
      await old.stop();
    }
  });

  test('the seeded cluster, then 300 random changes: the same records from slices as from Endpoints, byte for byte', async () => {
    const n0 = await sameRecords(etcdSlices.url, etcdEndpoints.url, 'the seeded cluster');
    assert.ok(n0 > 20, `only ${n0} records`);
    assert.ok((await leaves(etcdSlices.url, 'default/db')).length >= 2, 'the headless db service has endpoint records');
    const store = api.server.store;
    const r = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    store.create('namespaces', undefined, { metadata: { name: 'rnd' } });
    const services = ['a', 'b', 'c', 'd'];
    for (const s of services) {
      store.create('services', 'rnd', {
        metadata: { name: s },
        spec: {
          clusterIP: 'None',
          selector: { app: s },
          ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 9100 }],
          ...(s === 'd' ? { publishNotReadyAddresses: true } : {}),
        },
      });
    }
    const pods: string[] = [];
    for (let i = 0; i < 300; i++) {
      const what = r();
      if (what < 0.45 || pods.length < 5) {
        const name = `p${i}`;
        const app = pick(services);
        store.create('pods', 'rnd', {
          metadata: { name, labels: { app } },
          spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }], ...(r() < 0.3 ? { hostname: `h${i}`, subdomain: app } : {}) },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: r() < 0.7 ? 'True' : 'False' }] },
        });
        pods.push(name);
      } else if (what < 0.7) {
        const name = pick(pods);
        store.patch('pods', 'rnd', name, 'merge', { status: { conditions: [{ type: 'Ready', status: r() < 0.5 ? 'True' : 'False' }] } });
      } else if (what < 0.85) {
        const name = pods.splice(Math.floor(r() * pods.length), 1)[0];
        store.delete('pods', 'rnd', name);
      } else {
        store.patch('pods', 'rnd', pick(pods), 'merge', { metadata: { labels: { app: pick(services) } } });
      }
      if (i % 20 === 0) await sleep(20);
    }
    const n = await sameRecords(etcdSlices.url, etcdEndpoints.url, 'after the random changes');
    assert.ok(n > n0 + 50, `${n} records`);
  });

  test('a service with 5,000 endpoints: every one from slices (Endpoints stops at 1,000)', async () => {
    const store = api.server.store;
    store.create('namespaces', undefined, { metadata: { name: 'big' } });
    // The pods first, then the service: the sandbox's controllers recompute a service's whole
    // Endpoints and slices on every pod event, which for 5,000 pods one by one takes minutes.
    for (let i = 0; i < 5000; i++) {
      store.create('pods', 'big', { metadata: { name: `m${i}`, labels: { app: 'many' } }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    }
    store.create('services', 'big', { metadata: { name: 'many' }, spec: { clusterIP: 'None', selector: { app: 'many' } } });
    assert.equal(store.list('endpointslices', { namespace: 'big' }).items.length, 50);
    assert.equal((store.get('endpoints', 'big', 'many').metadata.annotations ?? {})['endpoints.kubernetes.io/over-capacity'], 'truncated');
    await waitUntil(async () => (await leaves(etcdSlices.url, 'big/many')).length === 5000, 60_000, '5,000 records from slices');
    await waitUntil(async () => (await leaves(etcdEndpoints.url, 'big/many')).length === 1000, 60_000, '1,000 records from Endpoints');
  });

  test('dual stack: a headless service gets A and AAAA records from its two slices', async () => {
    const store = api.server.store;
    store.create('services', 'default', { metadata: { name: 'ds' }, spec: { clusterIP: 'None', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], selector: { app: 'ds' } } });
    store.create('pods', 'default', { metadata: { name: 'ds-0', labels: { app: 'ds' } }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Running', podIP: '10.244.9.9', podIPs: [{ ip: '10.244.9.9' }, { ip: 'fd00:244::9' }], conditions: [{ type: 'Ready', status: 'True' }] } });
    await waitUntil(async () => (await leaves(etcdSlices.url, 'default/ds')).length === 2, 10_000, 'two address records');
    const hosts = (await leaves(etcdSlices.url, 'default/ds')).map((kv) => (JSON.parse(kv.value) as { host: string }).host).sort();
    assert.deepEqual(hosts, ['10.244.9.9', 'fd00:244::9']);
    await waitUntil(async () => (await leaves(etcdEndpoints.url, 'default/ds')).length === 1, 10_000, 'one record from Endpoints (one family)');
  });

  test('kubectl lists and gets EndpointSlices', async () => {
    const list = await kubectl(api, ['get', 'endpointslices', '-n', 'default']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/m);
    assert.match(list.stdout, /^db-[a-z0-9]{5}\s+IPv4\s+5432\s+/m);
    const json = await kubectl(api, ['get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=db', '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const items = (JSON.parse(json.stdout) as { items: Array<{ apiVersion: string; endpoints: unknown[] }> }).items;
    assert.equal(items.length, 1);
    assert.equal(items[0].apiVersion, 'discovery.k8s.io/v1');
  });
});

describe('an address moving between EndpointSlices', () => {
  test('keeps its record throughout with --endpoint-slice-grace (and loses it for a moment without)', async () => {
    const api = await startApiServerInProcess();
    const [etcdGrace, etcdNone] = await Promise.all([startEtcd({ name: 'grace' }), startEtcd({ name: 'nograce' })]);
    let withGrace: Kube2SkyProcess | undefined;
    let without: Kube2SkyProcess | undefined;
    const clients: Etcd3[] = [];
    const watchers: Array<{ cancel(): Promise<void> }> = [];
    try {
      [withGrace, without] = await Promise.all([startKube2Sky(etcdGrace.url, api.url), startKube2Sky(etcdNone.url, api.url, ['--endpoint-slice-grace=0'])]);
      const store = api.server.store;
      // A selectorless headless service whose slices another controller manages, by hand here.
      store.create('services', 'default', { metadata: { name: 'moved' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } });
      const slice = (name: string, from: number, to: number) => ({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name, labels: { 'kubernetes.io/service-name': 'moved', 'endpointslice.kubernetes.io/managed-by': 'test.example.com' } },
        addressType: 'IPv4',
        endpoints: Array.from({ length: to - from }, (_, i) => ({ addresses: [`10.9.0.${from + i}`], conditions: { ready: true } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
      store.create('endpointslices', 'default', slice('moved-a', 1, 21));
      store.create('endpointslices', 'default', slice('moved-b', 21, 41));
      for (const url of [etcdGrace.url, etcdNone.url]) await waitUntil(async () => (await leaves(url, 'default/moved')).length === 40, 10_000, '40 records');
      // Watch every delete from now on, in both etcds.
      const deletes: Record<string, string[]> = { grace: [], none: [] };
      for (const [label, url] of [['grace', etcdGrace.url], ['none', etcdNone.url]] as const) {
        const c = new Etcd3({ hosts: url });
        clients.push(c);
        const w = await c.watch().prefix(`${D}/svc/default/moved/`).create();
        watchers.push(w);
        w.on('delete', (kv) => deletes[label].push(kv.key.toString()));
      }
      // The controller replaces slice a by slice c in two writes, the deletion first, 300 ms apart;
      // then moves 10.9.0.30 from b to c in two updates.
      store.delete('endpointslices', 'default', 'moved-a');
      await sleep(300);
      store.create('endpointslices', 'default', slice('moved-c', 1, 21));
      await sleep(300);
      store.update('endpointslices', 'default', 'moved-b', { ...slice('moved-b', 21, 41), endpoints: slice('moved-b', 21, 41).endpoints.filter((e) => e.addresses[0] !== '10.9.0.30') });
      await sleep(300);
      store.update('endpointslices', 'default', 'moved-c', { ...slice('moved-c', 1, 21), endpoints: [...slice('moved-c', 1, 21).endpoints, { addresses: ['10.9.0.30'], conditions: { ready: true } }] });
      // 10.9.0.40 really goes: removed after the grace.
      await sleep(300);
      store.update('endpointslices', 'default', 'moved-b', { ...slice('moved-b', 21, 40), endpoints: slice('moved-b', 21, 40).endpoints.filter((e) => e.addresses[0] !== '10.9.0.30') });
      await waitUntil(async () => (await leaves(etcdGrace.url, 'default/moved')).length === 39, 10_000, 'the removed address gone after the grace');
      await waitUntil(async () => (await leaves(etcdNone.url, 'default/moved')).length === 39, 10_000, 'the removed address gone');
      await sleep(300);
      const gone = (list: string[]) => [...new Set(list.filter((k) => !k.includes('/_')))];
      // With the grace only the address that really went was deleted (its A leaf); without, the moved ones too.
      assert.equal(gone(deletes.grace).length, 1, `deleted with the grace: ${deletes.grace.join(', ')}`);
      assert.ok(gone(deletes.none).length > 1, `without the grace the moved addresses lose their records for a moment (deleted: ${deletes.none.length})`);
    } finally {
      for (const w of watchers) await w.cancel().catch(() => undefined);
      for (const c of clients) c.close();
      await withGrace?.stop();
      await without?.stop();
      await api.stop();
      await etcdGrace.stop();
      await etcdNone.stop();
    }
  });
});
