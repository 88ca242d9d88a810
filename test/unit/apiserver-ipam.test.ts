// Cluster IP, node port and pod IP allocation of the sandbox API server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../lib/sandbox-apiserver/errors.js';
import { Cidr, IpAllocator, canonicalIp, parseIp } from '../../lib/sandbox-apiserver/ipalloc.js';
import { Store } from '../../lib/sandbox-apiserver/store.js';
import { createKubernetesService, createNamespaces } from '../../lib/sandbox-apiserver/defaults.js';
import type { KubeObject, Service } from '../../lib/sandbox-apiserver/types.js';

function newStore(opts: ConstructorParameters<typeof Store>[0] = {}): Store {
  const s = new Store(opts);
  createNamespaces(s);
  return s;
}

const svc = (name: string, spec: Record<string, unknown> = {}): Record<string, unknown> => ({ metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });
const spec = (o: KubeObject) => (o as Service).spec ?? {};

function statusOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
  assert.fail('expected an ApiError');
}

test('ipalloc: parse and format addresses like Go', () => {
  const cases: Array<[string, string | null]> = [
    ['10.0.0.1', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['::1', '::1'],
    ['FD00:0:0:0:0:0:0:5', 'fd00::5'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::', '2001:db8::'],
    ['::', '::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['010.0.0.1', null],
    ['10.0.0', null],
    ['10.0.0.256', null],
    ['abc', null],
    ['', null],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
  assert.equal(parseIp('10.0.0.1')?.value, 167772161n);
  assert.equal(Cidr.parse('10.0.0.77/24').toString(), '10.0.0.0/24');
  assert.equal(Cidr.parse('fd00::1/108').toString(), 'fd00::/108');
  assert.throws(() => Cidr.parse('10.0.0.0/33'), /invalid CIDR address: 10.0.0.0\/33/);
  assert.throws(() => Cidr.parse('10.0.0.0'), /invalid CIDR address/);
});

test('ipalloc: sequential allocation skips network, broadcast and the reserved first address; wraps; reuses released', () => {
  const a = new IpAllocator(Cidr.parse('10.0.0.0/29'), { reserveFirst: true });
  const got: Array<string | null> = [];
  for (let i = 0; i < 6; i++) got.push(a.allocateNext());
  assert.deepEqual(got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', null]);
  assert.equal(a.allocate('10.0.0.1'), 'ok');
  assert.equal(a.allocate('10.0.0.1'), 'taken');
  assert.equal(a.allocate('10.0.0.7'), 'out-of-range');
  assert.equal(a.allocate('10.0.0.0'), 'out-of-range');
  assert.equal(a.allocate('fd00::1'), 'invalid');
  a.release('10.0.0.4');
  assert.equal(a.allocateNext(), '10.0.0.4');
  assert.equal(a.allocatedCount, 6);
});

test('services: cluster IPs from the CIDR, .1 for kubernetes, exhaustion, release on delete', () => {
  const s = newStore({ serviceCidr: '10.0.0.0/29' });
  createKubernetesService(s, '127.0.0.1', 6443);
  assert.equal(spec(s.get('services', 'default', 'kubernetes')).clusterIP, '10.0.0.1');
  const ips = ['a', 'b', 'c', 'd', 'e'].map((n) => spec(s.create('services', 'default', svc(n))).clusterIP);
  assert.deepEqual(ips, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('f'))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Internal error occurred: failed to allocate a serviceIP: range is full',
    reason: 'InternalError',
    details: { causes: [{ message: 'failed to allocate a serviceIP: range is full' }] },
    code: 500,
  });
  // headless and ExternalName services need no address
  const headless = s.create('services', 'default', svc('h', { clusterIP: 'None' }));
  assert.deepEqual([spec(headless).clusterIP, spec(headless).clusterIPs, spec(headless).ipFamilies], ['None', ['None'], ['IPv4']]);
  const ext = s.create('services', 'default', { metadata: { name: 'x' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
  assert.equal(spec(ext).clusterIP, undefined);
  assert.equal(spec(ext).clusterIPs, undefined);
  s.delete('services', 'default', 'c');
  assert.equal(spec(s.create('services', 'default', svc('g'))).clusterIP, '10.0.0.4');
});

test('services: requested cluster IPs are checked', () => {
  const s = newStore();
  assert.equal(spec(s.create('services', 'default', svc('a', { clusterIP: '10.0.0.50' }))).clusterIP, '10.0.0.50');
  assert.deepEqual(spec(s.create('services', 'default', svc('b', { clusterIPs: ['10.0.0.51'] }))).clusterIPs, ['10.0.0.51']);
  assert.deepEqual(statusOf(() => s.create('services', 'default', svc('c', { clusterIP: '10.0.0.50' }))), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.50"}: failed to allocate IP 10.0.0.50: provided IP is already allocated',
    reason: 'Invalid',
    details: {
      name: 'c',
      kind: 'Service',
      causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: []string{"10.0.0.50"}: failed to allocate IP 10.0.0.50: provided IP is already allocated', field: 'spec.clusterIPs' }],
    },
    code: 422,
  });
  assert.equal(
    (statusOf(() => s.create('services', 'default', svc('d', { clusterIP: '10.1.0.5' }))) as { message: string }).message,
    'Service "d" is invalid: spec.clusterIPs: Invalid value: []string{"10.1.0.5"}: failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/24',
  );
  assert.equal(
    (statusOf(() => s.create('services', 'default', svc('e', { clusterIP: '10.0.0.300' }))) as { message: string }).message,
    'Service "e" is invalid: spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  );
  assert.equal(
    (statusOf(() => s.create('services', 'default', svc('f', { ipFamilies: ['IPv6'] }))) as { message: string }).message,
    'Service "f" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
  );
  assert.equal(s.serviceIpam.allocatedIps(), 2, 'failed creates hold no address');
});

test('services: type changes allocate and release addresses', () => {
  const s = newStore();
  s.create('services', 'default', { metadata: { name: 'x' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
  const toIp = s.update('services', 'default', 'x', svc('x', { type: 'ClusterIP' })).object;
  assert.equal(spec(toIp).clusterIP, '10.0.0.2');
  assert.equal(s.serviceIpam.allocatedIps(), 1);
  const back = s.update('services', 'default', 'x', { metadata: { name: 'x' }, spec: { type: 'ExternalName', externalName: 'example.org' } }).object;
  assert.equal(spec(back).clusterIP, undefined);
  assert.equal(s.serviceIpam.allocatedIps(), 0);
  s.create('services', 'default', svc('y'));
  assert.equal(
    (statusOf(() => s.update('services', 'default', 'y', svc('y', { clusterIP: 'None' }))) as { message: string }).message,
    'Service "y" is invalid: spec.clusterIPs[0]: Invalid value: []string{"None"}: may not change once set',
  );
});

test('services: dual stack and node ports', () => {
  const s = newStore({ serviceCidr: '10.0.0.0/24,fd00::/120' });
  const v6 = s.create('services', 'default', svc('v6', { ipFamilies: ['IPv6'] }));
  assert.deepEqual([spec(v6).clusterIP, spec(v6).clusterIPs, spec(v6).ipFamilies, spec(v6).ipFamilyPolicy], ['fd00::2', ['fd00::2'], ['IPv6'], 'SingleStack']);
  const dual = s.create('services', 'default', svc('dual', { ipFamilyPolicy: 'PreferDualStack' }));
  assert.deepEqual([spec(dual).clusterIPs, spec(dual).ipFamilies], [['10.0.0.2', 'fd00::3'], ['IPv4', 'IPv6']]);
  const np = s.create('services', 'default', svc('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 31000 }] }));
  assert.deepEqual(spec(np).ports?.map((p) => p.nodePort), [30000, 31000]);
  assert.equal(spec(np).externalTrafficPolicy, 'Cluster');
  assert.equal(
    (statusOf(() => s.create('services', 'default', svc('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }))) as { message: string }).message,
    'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated',
  );
  assert.equal(
    (statusOf(() => s.create('services', 'default', svc('np3', { ports: [{ port: 80, nodePort: 31001 }] }))) as { message: string }).message,
    "Service \"np3\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  );
  // an update that omits the allocated node ports keeps them
  const upd = s.update('services', 'default', 'np', svc('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] })).object;
  assert.deepEqual(spec(upd).ports?.map((p) => p.nodePort), [30000, 31000]);
  s.delete('services', 'default', 'np');
  assert.deepEqual(spec(s.create('services', 'default', svc('np4', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }))).ports?.map((p) => p.nodePort), [31000]);
});

test('pods: the simulated kubelet gives an address, node and Ready unless the pod says otherwise; released on delete', () => {
  const s = newStore({ podCidr: '10.244.0.0/30', now: () => new Date('2024-05-01T12:00:00Z') });
  const pod = (name: string, status?: Record<string, unknown>) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] }, ...(status ? { status } : {}) });
  const a = s.create('pods', 'default', pod('a'));
  assert.deepEqual(a.status, {
    phase: 'Running',
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' },
      { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' },
      { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T12:00:00Z' },
    ],
    hostIP: '127.0.0.1',
    hostIPs: [{ ip: '127.0.0.1' }],
    podIP: '10.244.0.1',
    podIPs: [{ ip: '10.244.0.1' }],
    startTime: '2024-05-01T12:00:00Z',
    containerStatuses: [
      { name: 'c', state: { running: { startedAt: '2024-05-01T12:00:00Z' } }, lastState: {}, ready: true, restartCount: 0, image: 'nginx:1', imageID: '', containerID: '', started: true },
    ],
    qosClass: 'BestEffort',
  });
  assert.equal((a.spec as { nodeName: string }).nodeName, 'sandbox-node');
  const b = s.create('pods', 'default', pod('b', { conditions: [{ type: 'Ready', status: 'False' }] }));
  assert.deepEqual([b.status?.constructor === Object, (b.status as { podIP: string }).podIP, (b.status as { conditions: unknown }).conditions], [true, '10.244.0.2', [{ type: 'Ready', status: 'False' }]]);
  const given = s.create('pods', 'default', pod('c', { podIP: '192.0.2.7', phase: 'Running' }));
  assert.deepEqual(given.status, { podIP: '192.0.2.7', phase: 'Running' });
  assert.equal(
    (statusOf(() => s.create('pods', 'default', pod('d'))) as { message: string }).message,
    'Internal error occurred: failed to allocate a pod IP: range 10.244.0.0/30 is full',
  );
  s.delete('pods', 'default', 'a');
  assert.equal((s.create('pods', 'default', pod('e')).status as { podIP: string }).podIP, '10.244.0.1');

  const off = newStore({ simulateKubelet: false });
  assert.deepEqual(off.create('pods', 'default', pod('p')).status, { phase: 'Pending', qosClass: 'BestEffort' });
});
