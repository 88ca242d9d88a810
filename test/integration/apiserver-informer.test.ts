// Real @kubernetes/client-node 1.x informers (list, then watch, re-watch,
// re-list on 410) against the sandbox API server.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoreV1Api,
  KubeConfig,
  ListWatch,
  Watch,
  makeInformer,
  type KubernetesObject,
  type V1Endpoints,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { type InProcessApi, startApiServerInProcess } from '../harness/apiserver.js';
import { waitUntil } from '../harness/proc.js';

let api: InProcessApi;
let kc: KubeConfig;
let core: CoreV1Api;

before(async () => {
  api = await startApiServerInProcess({ bookmarkIntervalMs: 100 });
  kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
});
after(async () => {
  await api.stop();
});

interface Recorder {
  log: string[];
  errors: unknown[];
  names(): string[];
}

function record<T extends KubernetesObject>(inf: { on(verb: 'add' | 'update' | 'delete', cb: (o: T) => void): void; on(verb: 'error', cb: (e?: unknown) => void): void }): Recorder {
  const log: string[] = [];
  const errors: unknown[] = [];
  const name = (o: T) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  inf.on('add', (o) => log.push(`add ${name(o)}`));
  inf.on('update', (o) => log.push(`update ${name(o)}`));
  inf.on('delete', (o) => log.push(`delete ${name(o)}`));
  inf.on('error', (e) => errors.push(e));
  return { log, errors, names: () => log };
}

const svc = (name: string, labels: Record<string, string> = {}): V1Service => ({ metadata: { name, labels }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });

function storeNames(resource: 'services' | 'endpoints' | 'pods'): string[] {
  return api.server.store.list(resource).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`);
}
const cacheNames = (objs: readonly KubernetesObject[]) => objs.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}@${o.metadata?.resourceVersion}`).sort();

test('informers see add, update and delete of services, endpoints and pods', async () => {
  await core.createNamespace({ body: { metadata: { name: 'inf' } } });
  const services = makeInformer<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const endpoints = makeInformer<V1Endpoints>(kc, '/api/v1/endpoints', () => core.listEndpointsForAllNamespaces());
  const pods = makeInformer<V1Pod>(kc, '/api/v1/namespaces/inf/pods', () => core.listNamespacedPod({ namespace: 'inf' }));
  const rs = record(services);
  const re = record(endpoints);
  const rp = record(pods);
  await Promise.all([services.start(), endpoints.start(), pods.start()]);
  try {
    assert.deepEqual(rs.log, ['add default/kubernetes']);
    assert.deepEqual(re.log, ['add default/kubernetes']);
    assert.deepEqual(rp.log, []);

    await core.createNamespacedService({ namespace: 'inf', body: svc('web') });
    await waitUntil(() => rs.log.length === 2 && re.log.length === 2, 5000, 'service + endpoints add');
    assert.deepEqual([rs.log[1], re.log[1]], ['add inf/web', 'add inf/web']);

    const created = await core.createNamespacedPod({
      namespace: 'inf',
      body: { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 8080 }] }] } },
    });
    await waitUntil(() => rp.log.length === 1 && re.log.length === 3, 5000, 'pod add + endpoints update');
    assert.deepEqual([rp.log, re.log[2]], [['add inf/web-1'], 'update inf/web']);
    const ep = endpoints.get('web', 'inf');
    assert.deepEqual(JSON.parse(JSON.stringify(ep?.subsets)), [
      {
        addresses: [{ ip: '10.244.0.1', nodeName: 'sandbox-node', targetRef: { kind: 'Pod', namespace: 'inf', name: 'web-1', uid: created.metadata?.uid } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);

    // client-node 1.x sends application/json-patch+json by default
    await core.patchNamespacedService({ namespace: 'inf', name: 'web', body: [{ op: 'add', path: '/metadata/labels', value: { v: '2' } }] });
    await waitUntil(() => rs.log.length === 3 && re.log.length === 4, 5000, 'service update (and its labels copied to the endpoints)');
    assert.deepEqual(services.get('web', 'inf')?.metadata?.labels, { v: '2' });
    assert.deepEqual(endpoints.get('web', 'inf')?.metadata?.labels, { v: '2' });

    await core.deleteNamespacedPod({ namespace: 'inf', name: 'web-1' });
    await core.deleteNamespacedService({ namespace: 'inf', name: 'web' });
    await waitUntil(() => rs.log.length === 4 && re.log.length === 6 && rp.log.length === 2, 5000, `deletes (${JSON.stringify([rs.log, re.log, rp.log])})`);
    assert.deepEqual(rs.log.slice(2), ['update inf/web', 'delete inf/web']);
    assert.deepEqual(re.log.slice(3), ['update inf/web', 'update inf/web', 'delete inf/web']);
    assert.deepEqual(rp.log, ['add inf/web-1', 'delete inf/web-1']);
    assert.deepEqual([rs.errors, re.errors, rp.errors], [[], [], []]);
  } finally {
    await Promise.all([services.stop(), endpoints.stop(), pods.stop()]);
  }
});

test('a watch closed by the server is resumed from the last resourceVersion without a re-list', async () => {
  let lists = 0;
  const inf = makeInformer<V1Service>(kc, '/api/v1/services', () => {
    lists++;
    return core.listServiceForAllNamespaces();
  });
  const r = record(inf);
  let connects = 0;
  inf.on('connect', () => connects++);
  await inf.start();
  try {
    await waitUntil(() => api.server.activeWatches() === 1, 5000, 'the watch');
    assert.equal(api.server.closeWatches(), 1);
    await core.createNamespacedService({ namespace: 'default', body: svc('after-close') });
    await waitUntil(() => r.log.includes('add default/after-close'), 5000, 'the add after reconnecting');
    assert.equal(lists, 1, 'no re-list');
    assert.equal(connects >= 2, true);
    assert.deepEqual(cacheNames(inf.list()), storeNames('services').sort());
  } finally {
    await inf.stop();
    await core.deleteNamespacedService({ namespace: 'default', name: 'after-close' });
  }
});

test('410 Expired: the informer re-lists and converges (deletes and adds it missed)', async () => {
  await core.createNamespace({ body: { metadata: { name: 'expire' } } });
  for (const n of ['keep', 'gone-1', 'gone-2']) await core.createNamespacedService({ namespace: 'expire', body: svc(n) });
  let lists = 0;
  const inf = makeInformer<V1Service>(kc, '/api/v1/namespaces/expire/services', () => {
    lists++;
    return core.listNamespacedService({ namespace: 'expire' });
  });
  const r = record(inf);
  await inf.start();
  try {
    await waitUntil(() => api.server.activeWatches() === 1, 5000, 'the watch');
    assert.deepEqual([...r.log].sort(), ['add expire/gone-1', 'add expire/gone-2', 'add expire/keep']);
    const store = api.server.store;
    store.setHistoryLimit(5);
    // Cut the stream and change more than the history holds before the client can come back.
    api.server.closeWatches();
    store.delete('services', 'expire', 'gone-1');
    store.delete('services', 'expire', 'gone-2');
    for (let i = 0; i < 10; i++) store.create('services', 'expire', svc(`new-${i}`));
    store.patch('services', 'expire', 'keep', 'merge', { metadata: { labels: { changed: 'yes' } } });
    await waitUntil(() => lists === 2, 5000, 'a re-list');
    await waitUntil(() => r.log.length === 3 + 2 + 10 + 1, 5000, 'convergence');
    const want = store.list('services', { namespace: 'expire' }).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
    assert.deepEqual(cacheNames(inf.list()), want);
    assert.deepEqual(r.log.slice(3).filter((l) => l.startsWith('delete')).sort(), ['delete expire/gone-1', 'delete expire/gone-2']);
    assert.deepEqual(r.log.slice(3).filter((l) => l.startsWith('update')), ['update expire/keep']);
    assert.equal(r.log.slice(3).filter((l) => l.startsWith('add')).length, 10);
    // and it keeps watching afterwards
    await core.createNamespacedService({ namespace: 'expire', body: svc('later') });
    await waitUntil(() => r.log.at(-1) === 'add expire/later', 5000, 'an add after the re-list');
    assert.deepEqual(r.errors, []);
  } finally {
    api.server.store.setHistoryLimit(1000);
    await inf.stop();
  }
});

test('bookmarks do not disturb an informer and advance its resourceVersion', async () => {
  let bookmarks = 0;
  const real = new Watch(kc);
  // A watch that asks for bookmarks, as client-go informers do.
  const withBookmarks = {
    watch: (path: string, params: Record<string, string | number | boolean | undefined>, cb: (phase: string, obj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void) =>
      real.watch(
        path,
        { ...params, allowWatchBookmarks: true },
        (phase: string, obj: unknown, watchObj?: unknown) => {
          if (phase === 'BOOKMARK') bookmarks++;
          cb(phase, obj, watchObj);
        },
        done,
      ),
  } as unknown as Watch;
  const inf = new ListWatch<V1Pod>('/api/v1/pods', withBookmarks, () => core.listPodForAllNamespaces(), false);
  const r = record(inf);
  await inf.start();
  try {
    await waitUntil(() => bookmarks >= 3, 5000, 'three bookmarks');
    // a change elsewhere moves the global resourceVersion; the next bookmark carries it
    await core.createNamespacedService({ namespace: 'default', body: svc('bump') });
    const target = Number(api.server.store.resourceVersion);
    await waitUntil(() => Number(inf.latestResourceVersion()) >= target, 5000, 'a bookmark with the new resourceVersion');
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'bm' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
    await waitUntil(() => r.log.includes('add default/bm'), 5000, 'the pod add');
    assert.deepEqual(cacheNames(inf.list()), storeNames('pods').sort());
    assert.deepEqual(r.errors, []);
  } finally {
    await inf.stop();
    await core.deleteNamespacedService({ namespace: 'default', name: 'bump' });
  }
});

test('client-node errors carry the server Status', async () => {
  await assert.rejects(core.readNamespacedService({ namespace: 'default', name: 'missing' }), (err: unknown) => {
    const e = err as { code?: number; body?: string };
    assert.equal(e.code, 404);
    assert.deepEqual(JSON.parse(e.body ?? '{}'), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'services "missing" not found',
      reason: 'NotFound',
      details: { name: 'missing', kind: 'services' },
      code: 404,
    });
    return true;
  });
});
