// The sandbox API server over HTTP: discovery, REST verbs with their exact
// Status bodies, pagination, and the watch protocol (chunked events,
// resourceVersion resume, bookmarks, timeouts, 410 Expired), in-process and
// as the real program.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { APISERVER_BIN, type InProcessApi, openWatch, request, startApiServerInProcess, startApiServerProcess } from '../harness/apiserver.js';
import { runToExit } from '../harness/proc.js';

let api: InProcessApi;
before(async () => {
  api = await startApiServerInProcess({ bookmarkIntervalMs: 150 });
});
after(async () => {
  await api.stop();
});

const ns = (n: string) => `${api.url}/api/v1/namespaces/${n}`;
const svcBody = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { ports: [{ port: 80 }] } });

test('discovery, version and health endpoints', async () => {
  const apiRoot = await request(`${api.url}/api`);
  assert.deepEqual(apiRoot.body, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${api.port}` }] });
  const v1 = (await request(`${api.url}/api/v1`)).body as { kind: string; groupVersion: string; resources: Array<Record<string, unknown>> };
  assert.equal(v1.kind, 'APIResourceList');
  assert.equal(v1.groupVersion, 'v1');
  assert.deepEqual(v1.resources.map((r) => r.name), ['endpoints', 'namespaces', 'namespaces/status', 'pods', 'pods/status', 'services', 'services/status']);
  assert.deepEqual(v1.resources.find((r) => r.name === 'services'), {
    name: 'services',
    singularName: 'service',
    namespaced: true,
    kind: 'Service',
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['svc'],
    categories: ['all'],
  });
  assert.deepEqual(v1.resources.filter((r) => r.shortNames).map((r) => [r.name, r.shortNames, r.namespaced]), [
    ['endpoints', ['ep'], true],
    ['namespaces', ['ns'], false],
    ['pods', ['po'], true],
    ['services', ['svc'], true],
  ]);
  const gv = { groupVersion: 'discovery.k8s.io/v1', version: 'v1' };
  assert.deepEqual((await request(`${api.url}/apis`)).body, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'discovery.k8s.io', versions: [gv], preferredVersion: gv }] });
  assert.deepEqual((await request(`${api.url}/apis/discovery.k8s.io`)).body, { kind: 'APIGroup', apiVersion: 'v1', name: 'discovery.k8s.io', versions: [gv], preferredVersion: gv });
  const sliceResources = (await request(`${api.url}/apis/discovery.k8s.io/v1`)).body as { groupVersion: string; resources: Array<{ name: string; kind: string; verbs: string[] }> };
  assert.equal(sliceResources.groupVersion, 'discovery.k8s.io/v1');
  assert.deepEqual(sliceResources.resources.map((r) => [r.name, r.kind, r.verbs.includes('watch')]), [['endpointslices', 'EndpointSlice', true]]);
  assert.equal(((await request(`${api.url}/version`)).body as { gitVersion: string }).gitVersion, 'v1.29.0');
  for (const p of ['/healthz', '/readyz', '/livez']) {
    const r = await request(`${api.url}${p}`);
    assert.deepEqual([r.status, r.text, r.headers.get('content-type')], [200, 'ok', 'text/plain; charset=utf-8']);
  }
  assert.deepEqual([(await request(`${api.url}/openapi/v2`)).status, (await request(`${api.url}/openapi/v2`)).text], [404, '404 page not found\n']);
  assert.deepEqual((await request(`${api.url}/api/v1/configmaps`)).body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the server could not find the requested resource',
    reason: 'NotFound',
    details: {},
    code: 404,
  });
});

test('REST: create, get, list, replace, patch, delete with real Status errors', async () => {
  await request(`${api.url}/api/v1/namespaces`, { method: 'POST', body: { metadata: { name: 'rest' } } });
  const created = await request(`${ns('rest')}/services`, { method: 'POST', body: svcBody('foo', { app: 'foo' }) });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('content-type'), 'application/json');
  const obj = created.body as { metadata: { resourceVersion: string; namespace: string; uid: string }; spec: { clusterIP: string } };
  assert.equal(obj.metadata.namespace, 'rest');
  assert.match(obj.spec.clusterIP, /^10\.0\.0\.\d+$/);

  const dup = await request(`${ns('rest')}/services`, { method: 'POST', body: svcBody('foo') });
  assert.equal(dup.status, 409);
  assert.equal(dup.text, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"services \\"foo\\" already exists","reason":"AlreadyExists","details":{"name":"foo","kind":"services"},"code":409}\n');

  const missing = await request(`${ns('rest')}/services/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.text, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"services \\"nope\\" not found","reason":"NotFound","details":{"name":"nope","kind":"services"},"code":404}\n');

  const got = await request(`${ns('rest')}/services/foo`);
  assert.deepEqual(got.body, obj);

  const list = (await request(`${ns('rest')}/services`)).body as { kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: Array<Record<string, unknown>> };
  assert.deepEqual([list.kind, list.apiVersion, list.metadata.resourceVersion], ['ServiceList', 'v1', obj.metadata.resourceVersion]);
  assert.deepEqual(list.items.map((i) => [i.kind, i.apiVersion, (i.metadata as { name: string }).name]), [[undefined, undefined, 'foo']], 'list items carry no kind/apiVersion');
  const all = (await request(`${api.url}/api/v1/services`)).body as { items: Array<{ metadata: { namespace: string; name: string } }> };
  assert.deepEqual(all.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/kubernetes', 'rest/foo']);
  const bySel = (await request(`${api.url}/api/v1/services?labelSelector=app%3Dfoo`)).body as { items: unknown[] };
  assert.equal(bySel.items.length, 1);
  const byField = (await request(`${api.url}/api/v1/services?fieldSelector=metadata.namespace%3Ddefault`)).body as { items: Array<{ metadata: { name: string } }> };
  assert.deepEqual(byField.items.map((i) => i.metadata.name), ['kubernetes']);
  const badSel = await request(`${api.url}/api/v1/services?fieldSelector=spec.foo%3D1`);
  assert.deepEqual([badSel.status, (badSel.body as { message: string }).message], [400, 'field label not supported: spec.foo']);

  const stale = await request(`${ns('rest')}/services/foo`, { method: 'PUT', body: { ...svcBody('foo'), metadata: { name: 'foo', resourceVersion: '1' } } });
  assert.equal(stale.status, 409);
  assert.equal((stale.body as { reason: string }).reason, 'Conflict');
  const put = await request(`${ns('rest')}/services/foo`, { method: 'PUT', body: { ...svcBody('foo', { app: 'foo', v: '2' }), metadata: { name: 'foo', labels: { app: 'foo', v: '2' }, resourceVersion: obj.metadata.resourceVersion } } });
  assert.equal(put.status, 200);

  const merge = await request(`${ns('rest')}/services/foo`, { method: 'PATCH', body: { metadata: { labels: { v: null, w: '3' } } }, contentType: 'application/merge-patch+json' });
  assert.deepEqual([merge.status, (merge.body as { metadata: { labels: unknown } }).metadata.labels], [200, { app: 'foo', w: '3' }]);
  const smp = await request(`${ns('rest')}/services/foo`, { method: 'PATCH', body: { spec: { ports: [{ port: 80, targetPort: 8080 }] } }, contentType: 'application/strategic-merge-patch+json' });
  assert.deepEqual((smp.body as { spec: { ports: unknown } }).spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 8080 }]);
  const apply = await request(`${ns('rest')}/services/foo`, { method: 'PATCH', body: '{}', contentType: 'application/apply-patch+yaml' });
  assert.equal(apply.status, 415);
  assert.equal(
    (apply.body as { message: string }).message,
    'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json',
  );

  const invalid = await request(`${ns('rest')}/services`, { method: 'POST', body: { metadata: { name: 'bad' }, spec: { ports: [{ port: 0, targetPort: 80 }] } } });
  assert.equal(invalid.status, 422);
  assert.equal(
    invalid.text,
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Service \\"bad\\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive","reason":"Invalid","details":{"name":"bad","kind":"Service","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: 0: must be between 1 and 65535, inclusive","field":"spec.ports[0].port"}]},"code":422}\n',
  );
  const yaml = await request(`${ns('rest')}/services`, { method: 'POST', body: 'metadata: {name: from-yaml}\nspec:\n  ports: [{port: 53, protocol: UDP}]\n', contentType: 'application/yaml' });
  assert.equal(yaml.status, 201);
  const garbage = await request(`${ns('rest')}/services`, { method: 'POST', body: '{"metadata":', contentType: 'application/json' });
  assert.equal(garbage.status, 400);

  const del = await request(`${ns('rest')}/services/foo`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal((del.body as { kind: string; metadata: { uid: string } }).kind, 'Service');
  assert.equal((del.body as { metadata: { uid: string } }).metadata.uid, obj.metadata.uid);
  await request(`${ns('rest')}/endpoints`, { method: 'POST', body: { metadata: { name: 'manual' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }] } });
  const delEp = await request(`${ns('rest')}/endpoints/manual`, { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
  const epUid = (delEp.body as { details: { uid: string } }).details.uid;
  assert.deepEqual(delEp.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'manual', kind: 'endpoints', uid: epUid }, code: 200 });
  const delNs = await request(`${api.url}/api/v1/namespaces/rest`, { method: 'DELETE' });
  assert.equal((delNs.body as { status: { phase: string } }).status.phase, 'Terminating');
  assert.equal((await request(`${ns('rest')}/services/from-yaml`)).status, 404);
});

test('LIST pagination with limit/continue is consistent', async () => {
  await request(`${api.url}/api/v1/namespaces`, { method: 'POST', body: { metadata: { name: 'paging' } } });
  for (const n of ['a', 'b', 'c', 'd', 'e']) await request(`${ns('paging')}/services`, { method: 'POST', body: svcBody(n) });
  const p1 = (await request(`${ns('paging')}/services?limit=2`)).body as { metadata: { resourceVersion: string; continue: string; remainingItemCount: number }; items: Array<{ metadata: { name: string } }> };
  assert.deepEqual([p1.items.map((i) => i.metadata.name), p1.metadata.remainingItemCount], [['a', 'b'], 3]);
  // a change between pages does not show up in the pages of this list
  await request(`${ns('paging')}/services`, { method: 'POST', body: svcBody('bb') });
  const p2 = (await request(`${ns('paging')}/services?limit=2&continue=${p1.metadata.continue}`)).body as typeof p1;
  assert.deepEqual([p2.items.map((i) => i.metadata.name), p2.metadata.resourceVersion, p2.metadata.remainingItemCount], [['c', 'd'], p1.metadata.resourceVersion, 1]);
  const p3 = (await request(`${ns('paging')}/services?limit=2&continue=${p2.metadata.continue}`)).body as typeof p1;
  assert.deepEqual([p3.items.map((i) => i.metadata.name), p3.metadata], [['e'], { resourceVersion: p1.metadata.resourceVersion }]);
  const bad = await request(`${ns('paging')}/services?limit=2&continue=garbage`);
  assert.equal(bad.status, 400);
  const reused = await request(`${ns('paging')}/services?limit=2&continue=${p1.metadata.continue}`);
  assert.deepEqual([reused.status, (reused.body as { reason: string }).reason], [410, 'Expired']);
});

test('WATCH: chunked JSON lines, initial ADDED for resourceVersion 0, live events, selectors, namespace scope', async () => {
  await request(`${api.url}/api/v1/namespaces`, { method: 'POST', body: { metadata: { name: 'w1' } } });
  await request(`${ns('w1')}/services`, { method: 'POST', body: svcBody('first', { watch: 'me' }) });
  const current = (await request(`${ns('w1')}/services/first`, { method: 'PATCH', body: { metadata: { annotations: { a: 'b' } } }, contentType: 'application/merge-patch+json' })).body as { metadata: { resourceVersion: string } };
  const w = await openWatch(`${ns('w1')}/services?watch=true&resourceVersion=0`);
  const sel = await openWatch(`${api.url}/api/v1/services?watch=1&labelSelector=watch%3Dme`);
  try {
    assert.equal(w.status, 200);
    assert.equal(w.headers['content-type'], 'application/json');
    assert.equal(w.headers['transfer-encoding'], 'chunked');
    await w.waitFor((e) => e.length === 1);
    // the current state as one ADDED event, not a replay of the history
    assert.deepEqual([w.events[0].type, w.events[0].object.kind, w.events[0].object.metadata?.name, w.events[0].object.metadata?.resourceVersion], ['ADDED', 'Service', 'first', current.metadata.resourceVersion]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(w.events.length, 1);
    await request(`${api.url}/api/v1/namespaces/default/services`, { method: 'POST', body: svcBody('elsewhere', { watch: 'me' }) });
    await request(`${ns('w1')}/services/first`, { method: 'PATCH', body: { metadata: { labels: { watch: null } } }, contentType: 'application/merge-patch+json' });
    await request(`${ns('w1')}/services/first`, { method: 'PATCH', body: { metadata: { labels: { watch: 'me' } } }, contentType: 'application/merge-patch+json' });
    const del = (await request(`${ns('w1')}/services/first`, { method: 'DELETE' })).body as { metadata: { resourceVersion: string } };
    await w.waitFor((e) => e.length === 4, 5000, 'namespaced watch');
    assert.deepEqual(w.events.map((e) => e.type), ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
    assert.equal(w.events[3].object.metadata?.resourceVersion, del.metadata.resourceVersion, 'DELETED carries the deletion resourceVersion');
    await sel.waitFor((e) => e.length === 5, 5000, 'selector watch');
    assert.deepEqual(
      sel.events.map((e) => [e.type, e.object.metadata?.namespace, e.object.metadata?.name]),
      [
        ['ADDED', 'w1', 'first'],
        ['ADDED', 'default', 'elsewhere'],
        ['DELETED', 'w1', 'first'],
        ['ADDED', 'w1', 'first'],
        ['DELETED', 'w1', 'first'],
      ],
    );
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    assert.deepEqual([...rvs].sort((a, b) => a - b), rvs, 'resourceVersions increase');
  } finally {
    w.close();
    sel.close();
  }
});

test('WATCH: resume from a resourceVersion, bookmarks, timeoutSeconds, 410 Expired, server-side close, hold', async () => {
  await request(`${api.url}/api/v1/namespaces`, { method: 'POST', body: { metadata: { name: 'w2' } } });
  const a = (await request(`${ns('w2')}/pods`, { method: 'POST', body: { metadata: { name: 'a' }, spec: { containers: [{ name: 'c', image: 'i' }] } } })).body as { metadata: { resourceVersion: string } };
  await request(`${ns('w2')}/pods`, { method: 'POST', body: { metadata: { name: 'b' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  const resumed = await openWatch(`${ns('w2')}/pods?watch=true&resourceVersion=${a.metadata.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
  await resumed.waitFor((e) => e.some((x) => x.type === 'BOOKMARK'), 3000, 'a bookmark');
  assert.deepEqual([resumed.events[0].type, resumed.events[0].object.metadata?.name], ['ADDED', 'b']);
  const bm = resumed.events.find((e) => e.type === 'BOOKMARK');
  assert.deepEqual(bm?.object, { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: api.server.store.resourceVersion } });
  const t0 = Date.now();
  await resumed.ended;
  assert.ok(Date.now() - t0 < 1500, 'timeoutSeconds=1 ends the stream');

  // a resourceVersion older than the history: 200, one ERROR event, end
  api.server.store.setHistoryLimit(2);
  for (const n of ['c', 'd', 'e']) await request(`${ns('w2')}/services`, { method: 'POST', body: svcBody(n) });
  const old = await openWatch(`${ns('w2')}/pods?watch=true&resourceVersion=${a.metadata.resourceVersion}`);
  await old.ended;
  assert.equal(old.status, 200);
  assert.deepEqual(old.events, [
    {
      type: 'ERROR',
      object: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${a.metadata.resourceVersion} (${api.server.store.oldestResourceVersion})`,
        reason: 'Expired',
        code: 410,
      },
    },
  ]);
  api.server.store.setHistoryLimit(1000);

  // the server closing streams (test hook) ends them cleanly
  const live = await openWatch(`${ns('w2')}/pods?watch=true&resourceVersion=${api.server.store.resourceVersion}`);
  assert.equal(api.server.activeWatches() >= 1, true);
  assert.equal(api.server.closeWatches() >= 1, true);
  await live.ended;
  assert.equal(api.server.activeWatches(), 0);

  // held watches get no answer until released
  api.server.holdWatches();
  const rv = api.server.store.resourceVersion;
  const pending = openWatch(`${ns('w2')}/pods?watch=true&resourceVersion=${rv}`);
  await new Promise((r) => setTimeout(r, 150));
  await request(`${ns('w2')}/pods`, { method: 'POST', body: { metadata: { name: 'late' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  assert.equal(api.server.activeWatches(), 0);
  api.server.releaseWatches();
  const held = await pending;
  await held.waitFor((e) => e.length === 1);
  assert.deepEqual([held.events[0].type, held.events[0].object.metadata?.name], ['ADDED', 'late']);
  held.close();
});

test('sendInitialEvents=true ends the initial ADDED events with a marked bookmark', async () => {
  const w = await openWatch(`${api.url}/api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
  try {
    await w.waitFor((e) => e.some((x) => x.type === 'BOOKMARK'));
    const i = w.events.findIndex((x) => x.type === 'BOOKMARK');
    assert.deepEqual(w.events.slice(0, i).map((e) => e.type), Array(i).fill('ADDED'));
    assert.deepEqual(w.events[i].object.metadata?.annotations, { 'k8s.io/initial-events-end': 'true' });
  } finally {
    w.close();
  }
});

test('the program: --load files (multi-document, List), --no-default-objects, test hooks over HTTP, SIGTERM', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'apiserver-load-'));
  const f1 = path.join(dir, 'a.yaml');
  const f2 = path.join(dir, 'b.yaml');
  await fs.writeFile(f1, 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: apps, labels: {app: web}}\nspec:\n  containers: [{name: c, image: nginx}]\nstatus:\n  podIP: 10.1.2.3\n  conditions: [{type: Ready, status: "False"}]\n');
  await fs.writeFile(f2, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'other' }, spec: { clusterIP: '10.0.0.99', ports: [{ port: 53, protocol: 'UDP' }] } }] }));
  const p = await startApiServerProcess(['--load', f1, `--load=${f2}`, '--no-default-objects', '--bookmark-interval=1s']);
  try {
    const svcs = (await request(`${p.url}/api/v1/services`)).body as { items: Array<{ metadata: { namespace: string; name: string }; spec: { clusterIP: string } }> };
    assert.deepEqual(svcs.items.map((s) => [s.metadata.namespace, s.metadata.name, s.spec.clusterIP]), [
      ['apps', 'web', '10.0.0.2'],
      ['default', 'other', '10.0.0.99'],
    ]);
    const ep = (await request(`${p.url}/api/v1/namespaces/apps/endpoints/web`)).body as { subsets: unknown };
    assert.deepEqual(ep.subsets, [
      {
        notReadyAddresses: [{ ip: '10.1.2.3', targetRef: { kind: 'Pod', namespace: 'apps', name: 'web-1', uid: (((await request(`${p.url}/api/v1/namespaces/apps/pods/web-1`)).body) as { metadata: { uid: string } }).metadata.uid } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    const hooks = (await request(`${p.url}/sandbox/watches`)).body as { active: number };
    assert.equal(hooks.active, 0);
    const w = await openWatch(`${p.url}/api/v1/services?watch=true&resourceVersion=${(svcs as unknown as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`);
    assert.deepEqual((await request(`${p.url}/sandbox/close-watches`, { method: 'POST' })).body, { closed: 1 });
    await w.ended;
    assert.equal(await p.prog.stop(), 0);
    assert.match(p.prog.output(), /apiserver listening on http:\/\/127\.0\.0\.1:\d+\n/);
  } finally {
    await p.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the program refuses bad flags, non-loopback addresses and bad files', async () => {
  const bad = await startApiServerProcess(['--address', '0.0.0.0']).catch((e: Error) => e);
  assert.ok(bad instanceof Error);
  assert.match(bad.message, /only listens on loopback addresses/);
  // The first line (the usage that follows is longer than a start-up error's output tail).
  const unknown = await runToExit(process.execPath, [APISERVER_BIN, '--bogus'], { name: 'apiserver-bogus' });
  assert.equal(unknown.code, 2);
  assert.equal(unknown.out.split('\n')[0], 'apiserver: flag provided but not defined: -bogus');
  const missing = await startApiServerProcess(['--load', '/nonexistent/x.yaml']).catch((e: Error) => e);
  assert.match(String(missing), /cannot start: read \/nonexistent\/x.yaml: ENOENT/);
});
