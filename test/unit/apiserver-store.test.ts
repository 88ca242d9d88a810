// The sandbox API server's object store: resourceVersions, metadata, the
// create/update/patch/delete semantics and their exact Status errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../lib/sandbox-apiserver/errors.js';
import { Store, type StoreEvent } from '../../lib/sandbox-apiserver/store.js';
import { createNamespaces } from '../../lib/sandbox-apiserver/defaults.js';
import type { KubeObject } from '../../lib/sandbox-apiserver/types.js';

const NOW = new Date('2024-05-01T12:00:00.123Z');

function newStore(opts: ConstructorParameters<typeof Store>[0] = {}): Store {
  const s = new Store({ now: () => NOW, ...opts });
  createNamespaces(s);
  return s;
}

function svc(name: string, spec: Record<string, unknown> = { ports: [{ port: 80 }] }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec };
}

/** Runs fn, which must throw an ApiError; returns its Status body. */
function statusOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
  assert.fail('expected an ApiError');
}

test('store: every write takes the next resourceVersion; lists carry the latest', () => {
  const s = new Store({ now: () => NOW });
  assert.equal(s.resourceVersion, '0');
  const rvs: string[] = [];
  rvs.push(s.create('namespaces', undefined, { metadata: { name: 'default' } }).metadata.resourceVersion ?? '');
  rvs.push(s.create('services', 'default', svc('a')).metadata.resourceVersion ?? '');
  rvs.push(s.create('services', 'default', svc('b')).metadata.resourceVersion ?? '');
  const b = s.get('services', 'default', 'b');
  rvs.push(s.patch('services', 'default', 'b', 'merge', { metadata: { labels: { x: 'y' } } }).metadata.resourceVersion ?? '');
  rvs.push(s.delete('services', 'default', 'a').metadata.resourceVersion ?? '');
  assert.deepEqual(rvs, ['1', '2', '3', '4', '5']);
  assert.equal(b.metadata.resourceVersion, '3');
  assert.equal(s.resourceVersion, '5');
  const list = s.list('services');
  assert.equal(list.resourceVersion, '5');
  assert.deepEqual(list.items.map((o) => [o.metadata.name, o.metadata.resourceVersion]), [['b', '4']]);
});

test('store: create fills uid, creationTimestamp, generation, namespace from the URL, service defaults', () => {
  const s = newStore();
  const o = s.create('services', 'kube-system', svc('dns', { selector: { k8s: 'dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }] }));
  assert.match(o.metadata.uid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(
    { ...o, metadata: { ...o.metadata, uid: 'U' } },
    {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name: 'dns', namespace: 'kube-system', uid: 'U', resourceVersion: '5', generation: 1, creationTimestamp: '2024-05-01T12:00:00Z' },
      spec: {
        selector: { k8s: 'dns' },
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
        type: 'ClusterIP',
        clusterIP: '10.0.0.2',
        sessionAffinity: 'None',
        internalTrafficPolicy: 'Cluster',
        clusterIPs: ['10.0.0.2'],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
      },
      status: { loadBalancer: {} },
    },
  );
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.metadata), 'stored objects are immutable');
  const other = s.create('services', 'default', svc('dns'));
  assert.notEqual(other.metadata.uid, o.metadata.uid);
});

test('store: namespaces get their label, finalizer and phase; the default ones exist', () => {
  const s = newStore();
  assert.deepEqual(s.list('namespaces').items.map((n) => n.metadata.name), ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  const ns = s.create('namespaces', undefined, { metadata: { name: 'team-a', namespace: 'ignored' } });
  assert.deepEqual({ ...ns, metadata: { ...ns.metadata, uid: 'U' } }, {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name: 'team-a', uid: 'U', resourceVersion: '5', creationTimestamp: '2024-05-01T12:00:00Z', labels: { 'kubernetes.io/metadata.name': 'team-a' } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
});

test('store: generateName', () => {
  const s = newStore();
  const o = s.create('pods', 'default', { metadata: { generateName: 'web-' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
  assert.match(o.metadata.name ?? '', /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(o.metadata.generateName, 'web-');
});

test('store: Status errors of create (exact bodies)', () => {
  const s = newStore();
  s.create('services', 'default', svc('foo'));
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('foo'))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'services "foo" already exists',
    reason: 'AlreadyExists',
    details: { name: 'foo', kind: 'services' },
    code: 409,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'default', { metadata: {}, spec: { ports: [{ port: 80 }] } })), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service "" is invalid: metadata.name: Required value: name or generateName is required',
    reason: 'Invalid',
    details: { kind: 'Service', causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] },
    code: 422,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('bar', {}))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service "bar" is invalid: spec.ports: Required value',
    reason: 'Invalid',
    details: { name: 'bar', kind: 'Service', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.ports' }] },
    code: 422,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('Bad_Name', { type: 'Weird', ports: [{ port: 70000, protocol: 'HTTP' }] }))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'Service "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character, and end with an alphanumeric character (e.g. \'my-name\',  or \'abc-123\', regex used for validation is \'[a-z]([-a-z0-9]*[a-z0-9])?\'), spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort", spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP", spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive]',
    reason: 'Invalid',
    details: {
      name: 'Bad_Name',
      kind: 'Service',
      causes: [
        {
          reason: 'FieldValueInvalid',
          message:
            'Invalid value: "Bad_Name": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character, and end with an alphanumeric character (e.g. \'my-name\',  or \'abc-123\', regex used for validation is \'[a-z]([-a-z0-9]*[a-z0-9])?\')',
          field: 'metadata.name',
        },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"', field: 'spec.type' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive', field: 'spec.ports[0].port' },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"', field: 'spec.ports[0].protocol' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive', field: 'spec.ports[0].targetPort' },
      ],
    },
    code: 422,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'nowhere', svc('x'))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'namespaces "nowhere" not found',
    reason: 'NotFound',
    details: { name: 'nowhere', kind: 'namespaces' },
    code: 404,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('x', { ports: [{ port: 80 }] }, { namespace: 'kube-system' }))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the namespace of the provided object does not match the namespace sent on the request',
    reason: 'BadRequest',
    code: 400,
  });
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('x', { ports: [{ port: '80' }] }))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32',
    reason: 'BadRequest',
    code: 400,
  });
  assert.deepEqual(statusOf(() => s.create('pods', 'default', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }, { name: 'c', image: 'x' }] } })), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Pod "p" is invalid: [spec.containers[0].image: Required value, spec.containers[1].name: Duplicate value: "c"]',
    reason: 'Invalid',
    details: {
      name: 'p',
      kind: 'Pod',
      causes: [
        { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' },
        { reason: 'FieldValueDuplicate', message: 'Duplicate value: "c"', field: 'spec.containers[1].name' },
      ],
    },
    code: 422,
  });
  assert.equal(s.resourceVersion, '5', 'failed writes do not take a resourceVersion');
});

test('store: unknown fields are dropped, rejected with fieldValidation=Strict, reported with Warn', () => {
  const s = newStore();
  const body = { ...svc('u'), extra: 1, metadata: { name: 'u', bogus: true } };
  assert.deepEqual(statusOf(() => s.create('services', 'default', body, { fieldValidation: 'Strict' })), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "extra", unknown field "metadata.bogus"',
    reason: 'BadRequest',
    code: 400,
  });
  const warnings: string[] = [];
  const o = s.create('services', 'default', body, { fieldValidation: 'Warn', warnings });
  assert.deepEqual(warnings, ['unknown field "extra"', 'unknown field "metadata.bogus"']);
  assert.equal('extra' in o, false);
  assert.equal('bogus' in o.metadata, false);
});

test('store: PUT replaces, checks resourceVersion, keeps uid/creationTimestamp/status/clusterIP, no-op keeps resourceVersion', () => {
  const s = newStore();
  const created = s.create('services', 'default', svc('foo'));
  const put = (body: Record<string, unknown>) => s.update('services', 'default', 'foo', body).object;
  const upd = put({ ...svc('foo', { ports: [{ port: 81 }], selector: { app: 'x' } }), metadata: { name: 'foo', resourceVersion: created.metadata.resourceVersion } });
  assert.equal(upd.metadata.resourceVersion, '6');
  assert.equal(upd.metadata.uid, created.metadata.uid);
  assert.equal(upd.metadata.creationTimestamp, created.metadata.creationTimestamp);
  assert.equal(upd.metadata.generation, 2);
  assert.deepEqual(upd.spec, {
    ports: [{ port: 81, protocol: 'TCP', targetPort: 81 }],
    selector: { app: 'x' },
    clusterIP: '10.0.0.2',
    clusterIPs: ['10.0.0.2'],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    type: 'ClusterIP',
    sessionAffinity: 'None',
    internalTrafficPolicy: 'Cluster',
  });
  assert.deepEqual(statusOf(() => put({ ...svc('foo'), metadata: { name: 'foo', resourceVersion: created.metadata.resourceVersion } })), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Operation cannot be fulfilled on services "foo": the object has been modified; please apply your changes to the latest version and try again',
    reason: 'Conflict',
    details: { name: 'foo', kind: 'services' },
    code: 409,
  });
  // same content again (no resourceVersion given): nothing changes
  const same = put(svc('foo', { ports: [{ port: 81 }], selector: { app: 'x' } }));
  assert.equal(same.metadata.resourceVersion, '6');
  assert.equal(s.resourceVersion, '6');
  // status is not writable through the main resource, only through /status
  const st = put({ ...svc('foo', { ports: [{ port: 81 }], selector: { app: 'x' } }), status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } });
  assert.deepEqual(st.status, { loadBalancer: {} });
  const viaStatus = s.update('services', 'default', 'foo', { metadata: { name: 'foo' }, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }, { subresource: 'status' }).object;
  assert.deepEqual(viaStatus.status, { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } });
  assert.deepEqual(viaStatus.spec, upd.spec);
  assert.deepEqual(statusOf(() => s.update('services', 'default', 'nope', svc('nope'))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'services "nope" not found',
    reason: 'NotFound',
    details: { name: 'nope', kind: 'services' },
    code: 404,
  });
  assert.deepEqual(statusOf(() => s.update('services', 'default', 'foo', svc('bar'))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the name of the object (bar) does not match the name on the URL (foo)',
    reason: 'BadRequest',
    code: 400,
  });
  assert.deepEqual(statusOf(() => put(svc('foo', { clusterIP: '10.0.0.9', ports: [{ port: 81 }] }))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service "foo" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.0.0.9"}: may not change once set',
    reason: 'Invalid',
    details: { name: 'foo', kind: 'Service', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: []string{"10.0.0.9"}: may not change once set', field: 'spec.clusterIPs[0]' }] },
    code: 422,
  });
});

test('store: PUT of missing endpoints creates them (201 semantics)', () => {
  const s = newStore();
  const r = s.update('endpoints', 'default', 'ext', { metadata: { name: 'ext' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }] });
  assert.equal(r.created, true);
  assert.deepEqual(r.object.subsets, [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80, protocol: 'TCP' }] }]);
  const again = s.update('endpoints', 'default', 'ext', { metadata: { name: 'ext' }, subsets: [] });
  assert.equal(again.created, false);
  assert.equal('subsets' in again.object, false, 'empty subsets are omitted, as the real server does');
});

test('store: PATCH merge, strategic merge (ports by port number) and JSON patch', () => {
  const s = newStore();
  s.create('services', 'default', svc('p', { selector: { app: 'p' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }] }, { labels: { a: '1', b: '2' } }));
  const merged = s.patch('services', 'default', 'p', 'merge', { metadata: { labels: { a: null, c: '3' } }, spec: { ports: [{ name: 'only', port: 81 }] } });
  assert.deepEqual(merged.metadata.labels, { b: '2', c: '3' });
  assert.deepEqual((merged.spec as { ports: unknown }).ports, [{ name: 'only', port: 81, protocol: 'TCP', targetPort: 81 }]);

  s.create('services', 'default', svc('q', { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }] }));
  const strategic = s.patch('services', 'default', 'q', 'strategic', {
    $setElementOrder: undefined,
    spec: { $setElementOrder: undefined, ports: [{ port: 443, targetPort: 9443 }], '$setElementOrder/ports': [{ port: 80 }, { port: 443 }] },
  });
  assert.deepEqual((strategic.spec as { ports: unknown }).ports, [
    { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
    { name: 'https', port: 443, protocol: 'TCP', targetPort: 9443 },
  ]);
  const removed = s.patch('services', 'default', 'q', 'strategic', { spec: { ports: [{ port: 80, $patch: 'delete' }] } });
  assert.deepEqual((removed.spec as { ports: unknown }).ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 9443 }]);

  const json = s.patch('services', 'default', 'q', 'json', [
    { op: 'add', path: '/metadata/labels', value: { 'app.kubernetes.io/name': 'q' } },
    { op: 'replace', path: '/spec/ports/0/port', value: 8443 },
  ]);
  assert.deepEqual(json.metadata.labels, { 'app.kubernetes.io/name': 'q' });
  assert.equal((json.spec as { ports: Array<{ port: number }> }).ports[0].port, 8443);
  assert.deepEqual(statusOf(() => s.patch('services', 'default', 'q', 'json', [{ op: 'test', path: '/spec/type', value: 'NodePort' }])), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'testing value /spec/type failed: test failed',
    reason: 'Invalid',
    code: 422,
  });
  const stale = s.get('services', 'default', 'p').metadata.resourceVersion;
  s.patch('services', 'default', 'p', 'merge', { metadata: { labels: { d: '4' } } });
  assert.equal(statusOf(() => s.patch('services', 'default', 'p', 'merge', { metadata: { resourceVersion: stale, labels: { e: '5' } } })) !== undefined, true);
  assert.equal((statusOf(() => s.patch('services', 'default', 'p', 'merge', { metadata: { resourceVersion: stale } })) as { code: number }).code, 409);
  assert.equal((statusOf(() => s.patch('services', 'default', 'gone', 'merge', {})) as { message: string }).message, 'services "gone" not found');
});

test('store: DELETE returns the last state at the deletion resourceVersion; preconditions; namespaces cascade', () => {
  const s = newStore();
  s.create('namespaces', undefined, { metadata: { name: 'team' } });
  const a = s.create('services', 'team', svc('a'));
  s.create('pods', 'team', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] } });
  s.create('services', 'default', svc('keep'));
  assert.deepEqual(statusOf(() => s.delete('services', 'team', 'a', { preconditions: { uid: 'other' } })), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `Operation cannot be fulfilled on services "a": Precondition failed: UID in precondition: other, UID in object meta: ${a.metadata.uid}`,
    reason: 'Conflict',
    details: { name: 'a', kind: 'services' },
    code: 409,
  });
  const events: StoreEvent[] = [];
  s.subscribe((e) => events.push(e));
  const gone = s.delete('namespaces', undefined, 'team');
  assert.equal(gone.metadata.deletionTimestamp, '2024-05-01T12:00:00Z');
  assert.deepEqual(gone.status, { phase: 'Terminating' });
  assert.deepEqual(
    events.map((e) => [e.type, e.resource, e.object.metadata.name, e.object.metadata.resourceVersion]),
    [
      ['DELETED', 'services', 'a', '9'],
      ['DELETED', 'pods', 'p', '10'],
      ['DELETED', 'namespaces', 'team', '11'],
    ],
  );
  assert.deepEqual(s.list('services').items.map((o) => o.metadata.name), ['keep']);
  assert.equal(s.count('pods'), 0);
  assert.deepEqual(statusOf(() => s.delete('namespaces', undefined, 'kube-system')), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'namespaces "kube-system" is forbidden: this namespace may not be deleted',
    reason: 'Forbidden',
    details: { name: 'kube-system', kind: 'namespaces' },
    code: 403,
  });
  assert.deepEqual(statusOf(() => s.delete('services', 'default', 'nope')), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'services "nope" not found',
    reason: 'NotFound',
    details: { name: 'nope', kind: 'services' },
    code: 404,
  });
});

test('store: dry runs validate and allocate but store nothing', () => {
  const s = newStore();
  const rv = s.resourceVersion;
  const o = s.create('services', 'default', svc('dry'), { dryRun: true });
  assert.equal((o.spec as { clusterIP: string }).clusterIP, '10.0.0.2');
  assert.equal(s.tryGet('services', 'default', 'dry'), undefined);
  assert.equal(s.resourceVersion, rv);
  assert.equal(s.serviceIpam.allocatedIps(), 0, 'dry-run allocation is released');
  const real = s.create('services', 'default', svc('real'));
  assert.equal((real.spec as { clusterIP: string }).clusterIP, '10.0.0.3');
  s.delete('services', 'default', 'real', { dryRun: true });
  assert.ok(s.tryGet('services', 'default', 'real'));
});

test('store: event history, eventsSince, expiry when the history is exceeded, compact()', () => {
  const s = newStore({ history: 3 });
  // 4 namespace creations happened: rv 1..4, history holds 2..4
  assert.equal(s.oldestResourceVersion, '1');
  assert.equal(s.eventsSince(0), null);
  assert.deepEqual(s.eventsSince(1)?.map((e) => e.resourceVersion), [2, 3, 4]);
  assert.deepEqual(s.eventsSince(3)?.map((e) => e.resourceVersion), [4]);
  assert.deepEqual(s.eventsSince(4), []);
  s.create('services', 'default', svc('a'));
  s.patch('services', 'default', 'a', 'merge', { metadata: { labels: { x: 'y' } } });
  assert.equal(s.oldestResourceVersion, '3');
  assert.equal(s.eventsSince(2), null);
  assert.deepEqual(s.eventsSince(3)?.map((e) => e.resourceVersion), [4, 5, 6]);
  assert.deepEqual(s.eventsSince(4)?.map((e) => [e.type, e.resource, e.resourceVersion, e.oldObject?.metadata.resourceVersion]), [
    ['ADDED', 'services', 5, undefined],
    ['MODIFIED', 'services', 6, '5'],
  ]);
  s.setHistoryLimit(10);
  s.compact();
  assert.equal(s.oldestResourceVersion, '6');
  assert.equal(s.eventsSince(5), null);
  assert.deepEqual(s.eventsSince(6), []);
});

test('store: list by namespace and selectors, sorted by namespace then name', () => {
  const s = newStore();
  s.create('services', 'kube-system', svc('z', undefined, { labels: { tier: 'db' } }));
  s.create('services', 'default', svc('b', undefined, { labels: { tier: 'web' } }));
  s.create('services', 'default', svc('a', undefined, { labels: { tier: 'db', canary: 'true' } }));
  const names = (items: KubeObject[]) => items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  assert.deepEqual(names(s.list('services').items), ['default/a', 'default/b', 'kube-system/z']);
  assert.deepEqual(names(s.list('services', { namespace: 'default' }).items), ['default/a', 'default/b']);
  assert.deepEqual(names(s.list('services', { selectors: { labels: [{ key: 'tier', op: '=', values: ['db'] }], fields: [] } }).items), ['default/a', 'kube-system/z']);
  assert.deepEqual(names(s.list('services', { selectors: { labels: [], fields: [{ field: 'metadata.name', op: '=', value: 'b' }] } }).items), ['default/b']);
});
