// Selectors, patches, tables, routes and flags of the sandbox API server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../lib/sandbox-apiserver/errors.js';
import { extractRepeated, optionsFromFlags, APISERVER_FLAGS } from '../../lib/sandbox-apiserver/options.js';
import { jsonPatch, mergePatch, strategicMerge } from '../../lib/sandbox-apiserver/patch.js';
import { canonicalPath } from '../../lib/sandbox-apiserver/routes.js';
import { matchesLabels, parseFieldSelector, parseLabelSelector } from '../../lib/sandbox-apiserver/selectors.js';
import { humanDuration, wantsTable } from '../../lib/sandbox-apiserver/table.js';
import { parseFlags } from '../../lib/flags.js';
import { parseObjects } from '../../lib/sandbox-apiserver/load.js';

test('label selectors: parse and match', () => {
  const labels = { app: 'web', tier: 'front', v: '3' };
  const cases: Array<[string, boolean]> = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=db', false],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app in (db, web)', true],
    ['app notin (db,web)', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['v>2', true],
    ['v<3', false],
    ['app in (web),!missing,tier', true],
  ];
  for (const [sel, want] of cases) assert.equal(matchesLabels(parseLabelSelector(sel), labels), want, sel);
  assert.throws(() => parseLabelSelector('app=web,'), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(() => parseLabelSelector('a b c'), /unable to parse requirement/);
});

test('field selectors: supported labels per resource', () => {
  assert.deepEqual(parseFieldSelector('metadata.name=foo,metadata.namespace!=kube-system', 'services'), [
    { field: 'metadata.name', op: '=', value: 'foo' },
    { field: 'metadata.namespace', op: '!=', value: 'kube-system' },
  ]);
  assert.deepEqual(parseFieldSelector('status.phase==Running', 'pods'), [{ field: 'status.phase', op: '=', value: 'Running' }]);
  try {
    parseFieldSelector('status.phase=Running', 'services');
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.deepEqual(err.status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'field label not supported: status.phase', reason: 'BadRequest', code: 400 });
  }
});

test('patches: merge, JSON, strategic directives', () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { b: { c: null, x: 1 }, e: [2], f: 'new' }), { a: 1, b: { d: 3, x: 1 }, e: [2], f: 'new' });
  assert.deepEqual(jsonPatch({ a: [1, 2] }, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'remove', path: '/a/0' }, { op: 'copy', from: '/a', path: '/b' }, { op: 'move', from: '/b', path: '/c' }]), { a: [2, 3], c: [2, 3] });
  assert.throws(() => jsonPatch({}, [{ op: 'remove', path: '/nope' }]), /unable to remove nonexistent key: nope/);
  const pod = {
    metadata: { finalizers: ['a'] },
    spec: { containers: [{ name: 'a', image: 'x', env: [{ name: 'K', value: '1' }] }, { name: 'b', image: 'y' }] },
  };
  assert.deepEqual(
    strategicMerge('pods', '', pod, {
      metadata: { finalizers: ['b'] },
      spec: { containers: [{ name: 'a', env: [{ name: 'K2', value: '2' }] }, { name: 'c', image: 'z' }], '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }] },
    }),
    {
      metadata: { finalizers: ['a', 'b'] },
      spec: {
        containers: [
          { name: 'c', image: 'z' },
          { name: 'a', image: 'x', env: [{ name: 'K', value: '1' }, { name: 'K2', value: '2' }] },
          { name: 'b', image: 'y' },
        ],
      },
    },
  );
  assert.deepEqual(strategicMerge('pods', '', pod, { metadata: { $deleteFromPrimitiveList: undefined, '$deleteFromPrimitiveList/finalizers': ['a'] } }), { ...pod, metadata: { finalizers: [] } });
  assert.deepEqual(strategicMerge('services', '', { spec: { selector: { a: '1', b: '2' } } }, { spec: { selector: { $patch: 'replace', c: '3' } } }), { spec: { selector: { c: '3' } } });
  assert.deepEqual(strategicMerge('services', '', { spec: { ports: [{ port: 80 }, { port: 81 }] } }, { spec: { ports: [{ $patch: 'replace' }, { port: 82 }] } }), { spec: { ports: [{ port: 82 }] } });
  assert.deepEqual(strategicMerge('services', '', { spec: { externalIPs: ['1.1.1.1'] } }, { spec: { externalIPs: ['2.2.2.2'] } }), { spec: { externalIPs: ['2.2.2.2'] } });
});

// The hand-written route() is gone: express routes on canonicalPath(), and which handler serves
// which path is tested over HTTP in test/integration/apiserver-routes.test.ts.
test('canonicalPath: the path the express route table matches', () => {
  assert.equal(canonicalPath('/api/v1/services'), '/api/v1/services');
  assert.equal(canonicalPath('/api/v1/services//'), '/api/v1/services');
  assert.equal(canonicalPath('/readyz/'), '/readyz');
  assert.equal(canonicalPath('/'), '/');
  assert.equal(canonicalPath('//'), '/');
  assert.equal(canonicalPath('/api/v1/'), '/api/v1');
  assert.equal(canonicalPath('/api/v1/%6eamespaces/def%61ult/services'), '/api/v1/namespaces/default/services');
  assert.equal(canonicalPath('/api/v1/namespaces/default/services/a%2fb'), '/api/v1/namespaces/default/services/a%2Fb');
  assert.equal(canonicalPath('/api/v1/namespaces/default/services/a%3Ab:c'), '/api/v1/namespaces/default/services/a%3Ab%3Ac');
  assert.equal(canonicalPath('/api/v1/namespaces/default/services/a:b'), '/api/v1/namespaces/default/services/a:b');
  assert.equal(canonicalPath('/api/v1/namespaces//services'), '/api/v1/namespaces//services');
  // only /api/v1/ paths are decoded, as before
  assert.equal(canonicalPath('/healthz/%70ing'), '/healthz/%70ing');
  assert.equal(canonicalPath('/api/%76%31/services'), '/api/%76%31/services');
  for (const bad of ['/api/v1/namespaces/default/services/%E0', '/api/v1/services/a%2', '/api/v1/%zz']) {
    assert.throws(() => canonicalPath(bad), (e: unknown) => e instanceof ApiError && e.code === 400 && e.reason === 'BadRequest', bad);
  }
});

test('tables: ages and Accept negotiation', () => {
  const cases: Array<[number, string]> = [
    [-5000, '<invalid>'],
    [0, '0s'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 + 60_000, '3h1m'],
    [30 * 3600_000, '30h'],
    [3 * 86400_000 + 5 * 3600_000, '3d5h'],
    [100 * 86400_000, '100d'],
    [3 * 365 * 86400_000, '3y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, String(ms));
  assert.equal(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), true);
  assert.equal(wantsTable('application/json'), false);
  assert.equal(wantsTable(undefined), false);
});

test('flags: repeatable --load, Go-style flags, defaults', () => {
  const argv = ['--port', '0', '-load=a.yaml', '--load', 'b.yaml,c.yaml', '--bookmark-interval=250ms', '--no-default-objects', '-v=2'];
  const { values, rest } = extractRepeated(argv, 'load');
  assert.deepEqual(values, ['a.yaml', 'b.yaml', 'c.yaml']);
  const opts = optionsFromFlags(parseFlags(APISERVER_FLAGS, rest), values);
  assert.deepEqual(opts, {
    port: 0,
    address: '127.0.0.1',
    allowExternal: false,
    serviceCidr: '10.0.0.0/24',
    podCidr: '10.244.0.0/16',
    simulateKubelet: true,
    nodeName: 'sandbox-node',
    history: 1000,
    bookmarkIntervalMs: 250,
    defaultObjects: false,
    endpointsController: true,
    endpointSlices: true,
    load: ['a.yaml', 'b.yaml', 'c.yaml'],
    minRequestTimeoutMs: 1_800_000,
    logLevel: 'debug',
  });
  const d = optionsFromFlags(parseFlags(APISERVER_FLAGS, ['--service-cluster-ip-range=10.96.0.0/12', '--history', '5']), []);
  assert.equal(d.port, 8080);
  assert.equal(d.serviceCidr, '10.96.0.0/12');
  assert.equal(d.history, 5);
  assert.equal(d.logLevel, 'info');
  assert.throws(() => extractRepeated(['--load'], 'load'), /flag needs an argument: -load/);
  assert.throws(() => optionsFromFlags(parseFlags(APISERVER_FLAGS, ['--history=0']), []), /-history: must be at least 1, got 0/);
});

test('load: multi-document YAML, kind: List and typed lists', () => {
  const text = [
    'apiVersion: v1',
    'kind: Service',
    'metadata: {name: a}',
    '---',
    '# only a comment',
    '---',
    'apiVersion: v1',
    'kind: List',
    'items:',
    '- {apiVersion: v1, kind: Pod, metadata: {name: p}}',
    '- {apiVersion: v1, kind: Namespace, metadata: {name: n}}',
    '---',
    'apiVersion: v1',
    'kind: EndpointsList',
    'items:',
    '- metadata: {name: e}',
  ].join('\n');
  assert.deepEqual(
    parseObjects(text, 'f.yaml').map((o) => [o.source, o.object.kind, (o.object.metadata as { name: string }).name]),
    [
      ['f.yaml: document 1', 'Service', 'a'],
      ['f.yaml: document 3 item 0', 'Pod', 'p'],
      ['f.yaml: document 3 item 1', 'Namespace', 'n'],
      ['f.yaml: document 4 item 0', 'Endpoints', 'e'],
    ],
  );
});
