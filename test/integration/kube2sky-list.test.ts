// kube2sky's informer lists (lib/kube2sky/kube.ts listPaged) against the sandbox
// API server: pages put together into the whole list, plain JSON objects, a
// continue token that expires mid-list, HTTP errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { InProcessApi, request, startApiServerInProcess } from '../harness/apiserver.js';
import { ListError, listPaged } from '../../lib/kube2sky/kube.js';
import { podRecords, serviceRecords } from '../../lib/kube2sky/records.js';
import { trimObject } from '../../lib/kube2sky/trim.js';
import type { Endpoints, Pod, Service } from '../../lib/kube2sky/types.js';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const SANDBOX_CLUSTER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../manifests/sandbox-cluster.yaml');

const N = 23;

describe('listPaged', () => {
  let api: InProcessApi;
  let kc: KubeConfig;

  before(async () => {
    api = await startApiServerInProcess();
    kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig);
    await request(`${api.url}/api/v1/namespaces`, { method: 'POST', body: { metadata: { name: 'other' } } });
    for (let i = 0; i < N; i++) {
      const r = await request(`${api.url}/api/v1/namespaces/${i % 2 ? 'other' : 'default'}/pods`, {
        method: 'POST',
        body: { metadata: { name: `p${i}`, labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { podIP: `10.1.0.${i + 1}` } },
      });
      assert.equal(r.status, 201, r.text);
    }
  });
  after(async () => {
    await api?.stop();
  });

  const names = (items: { metadata?: { namespace?: string; name?: string } }[]) => items.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`);

  test('pages of `limit` objects make up the whole list, at the list\'s resourceVersion, as plain JSON', async () => {
    const whole = (await request(`${api.url}/api/v1/pods`)).body as { items: { metadata: { namespace: string; name: string } }[]; metadata: { resourceVersion: string } };
    assert.equal(whole.items.length, N);
    const seen: [number, number][] = [];
    const list = await listPaged(kc, '/api/v1/pods', { limit: 7, onPage: (soFar, pages) => void seen.push([soFar, pages]) });
    assert.deepEqual(seen, [[7, 1], [14, 2], [21, 3], [23, 4]]);
    assert.deepEqual(names(list.items), names(whole.items));
    assert.equal(list.metadata.resourceVersion, whole.metadata.resourceVersion);
    // What the API sent, not client-node's typed models (a Date there, a string here).
    const p0 = list.items.find((o) => o.metadata?.name === 'p0') as { metadata: { creationTimestamp: unknown }; status: { podIP: string } };
    assert.equal(typeof p0.metadata.creationTimestamp, 'string');
    assert.equal(p0.status.podIP, '10.1.0.1');
    // Unpaged (limit 0) gives the same.
    const one = await listPaged(kc, '/api/v1/pods', { limit: 0, onPage: (soFar, pages) => void seen.push([soFar, pages]) });
    assert.deepEqual(names(one.items), names(whole.items));
    assert.deepEqual(seen.slice(4), [[N, 1]]);
  });

  test('a continue token that expires mid-list (410) starts the list over', async () => {
    // The sandbox keeps 200 list snapshots: 200 other paged lists push ours out.
    const evict = async () => {
      for (let i = 0; i < 200; i++) assert.equal((await request(`${api.url}/api/v1/pods?limit=1`)).status, 200);
    };
    const seen: [number, number][] = [];
    let evicted = false;
    const list = await listPaged(kc, '/api/v1/pods', {
      limit: 10,
      onPage: async (soFar, pages) => {
        seen.push([soFar, pages]);
        if (!evicted) {
          evicted = true;
          await evict();
        }
      },
    });
    assert.deepEqual(seen, [[10, 1], [10, 1], [20, 2], [23, 3]], 'first page, then the whole list again');
    assert.equal(list.items.length, N);
    assert.equal(new Set(names(list.items)).size, N);

    // With no restarts left the 410 is the caller's, with its status.
    await assert.rejects(
      listPaged(kc, '/api/v1/pods', { limit: 10, maxRestarts: 0, onPage: evict }),
      (err: unknown) => err instanceof ListError && err.statusCode === 410 && /^LIST \/api\/v1\/pods \(continued\): HTTP 410: The provided continue parameter is too old/.test(err.message),
    );
  });

  test('an HTTP error carries its status and the Status message', async () => {
    await assert.rejects(
      listPaged(kc, '/api/v1/namespaces/default/frobs'),
      (err: unknown) => err instanceof ListError && err.statusCode === 404 && /^LIST \/api\/v1\/namespaces\/default\/frobs: HTTP 404: /.test(err.message),
    );
  });

  test('an API server that accepts the connection and never answers fails the list after the page timeout', { timeout: 10_000 }, async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((sock) => void held.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const quiet = new KubeConfig();
    quiet.loadFromClusterAndUser({ name: 'silent', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }, { name: 'anonymous' });
    try {
      await assert.rejects(
        listPaged(quiet, '/api/v1/pods', { pageTimeoutMs: 300 }),
        (err: unknown) => err instanceof ListError && err.statusCode === 0 && err.message === 'LIST /api/v1/pods: no complete answer within 300 ms',
      );
      assert.equal(held.length, 1, 'the request reached the server');
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('trimmed informer objects', () => {
  test('the seeded sandbox cluster: records from trimmed objects equal records from the full ones', async () => {
    const api = await startApiServerInProcess({ load: [SANDBOX_CLUSTER], simulateKubelet: true });
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(api.kubeconfig);
      // Full objects as the API sends them, and the same lists trimmed on arrival.
      const full = async (p: string) => (await listPaged(kc, p)).items;
      const trimmed = async (p: string, kind: 'services' | 'endpoints' | 'pods') => (await listPaged(kc, p, { map: (o) => trimObject(kind, o) })).items;
      const [svcs, eps, pods] = await Promise.all([full('/api/v1/services'), full('/api/v1/endpoints'), full('/api/v1/pods')]);
      const [tSvcs, tEps, tPods] = await Promise.all([trimmed('/api/v1/services', 'services'), trimmed('/api/v1/endpoints', 'endpoints'), trimmed('/api/v1/pods', 'pods')]);
      assert.ok(svcs.length >= 5 && pods.length >= 2, `a realistic cluster: ${svcs.length} services, ${pods.length} pods`);
      const key = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      const epOf = (list: typeof eps, s: (typeof svcs)[number]) => (list.find((e) => key(e) === key(s)) ?? null) as Endpoints | null;
      let records = 0;
      for (const legacy of [false, true]) {
        const opts = { domain: 'cluster.local.', legacy };
        for (let i = 0; i < svcs.length; i++) {
          assert.equal(key(tSvcs[i]), key(svcs[i]));
          const a = serviceRecords(svcs[i] as Service, epOf(eps, svcs[i]), opts);
          const b = serviceRecords(tSvcs[i] as Service, epOf(tEps, tSvcs[i]), opts);
          assert.deepEqual([...b.records], [...a.records], key(svcs[i]));
          assert.deepEqual(b.problems, a.problems);
          records += a.records.size;
        }
        for (let i = 0; i < pods.length; i++) {
          const a = podRecords(pods[i] as Pod, opts);
          assert.deepEqual([...podRecords(tPods[i] as Pod, opts).records], [...a.records], key(pods[i]));
          records += a.records.size;
        }
      }
      assert.ok(records > 20, `records compared: ${records}`);
      const size = (l: unknown[]) => JSON.stringify(l).length;
      assert.ok(size(tPods) * 3 < size(pods), `pods trimmed to ${size(tPods)} of ${size(pods)} bytes`);
    } finally {
      await api.stop();
    }
  });
});
