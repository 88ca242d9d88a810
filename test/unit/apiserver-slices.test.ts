// The sandbox's EndpointSlice controllers, in the store: slices follow pods (100 per slice), a
// placeholder for a service without endpoints, mirroring of a selectorless service's Endpoints,
// the write order, hand edits put back, dual stack; and Endpoints truncated at 1,000.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointsController } from '../../lib/sandbox-apiserver/controller.js';
import { createNamespaces } from '../../lib/sandbox-apiserver/defaults.js';
import { Store, type StoreEvent } from '../../lib/sandbox-apiserver/store.js';
import type { KubeObject } from '../../lib/sandbox-apiserver/types.js';

function cluster(opts: { slices?: boolean; serviceCidr?: string } = {}): { store: Store; ctl: EndpointsController } {
  const store = new Store(opts.serviceCidr ? { serviceCidr: opts.serviceCidr } : {});
  createNamespaces(store);
  const ctl = new EndpointsController(store, undefined, { slices: opts.slices ?? true });
  ctl.start();
  return { store, ctl };
}

const pod = (name: string, labels: Record<string, string>, extra: { ready?: boolean; ips?: string[] } = {}) => ({
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: {
    phase: 'Running',
    ...(extra.ips ? { podIP: extra.ips[0], podIPs: extra.ips.map((ip) => ({ ip })) } : {}),
    conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
  },
});

type Slice = KubeObject & { addressType: string; endpoints: Array<{ addresses: string[]; conditions: { ready: boolean } }>; ports: Array<{ name: string; port: number }> };

function slicesOf(store: Store, svc: string, ns = 'default'): Slice[] {
  return store.list('endpointslices', { namespace: ns }).items.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc) as Slice[];
}

const addressesOf = (slices: Slice[]) => slices.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)).sort();

test('slices follow pods: one endpoint per pod, at most 100 per slice, labels and owner of the real controller', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'web', labels: { team: 'a' } }, spec: { clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  for (let i = 0; i < 250; i++) store.create('pods', 'default', pod(`p${i}`, { app: 'web' }, { ready: i % 10 !== 0 }));
  const slices = slicesOf(store, 'web');
  assert.equal(slices.length, 3);
  assert.ok(slices.every((s) => s.endpoints.length <= 100));
  assert.equal(addressesOf(slices).length, 250);
  const s = slices[0];
  assert.equal(s.apiVersion, 'discovery.k8s.io/v1');
  assert.equal(s.kind, 'EndpointSlice');
  assert.equal(s.addressType, 'IPv4');
  assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(s.metadata.labels, { team: 'a', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'service.kubernetes.io/headless': '' });
  assert.match(s.metadata.name ?? '', /^web-[a-z0-9]{5}$/);
  assert.equal((s.metadata.ownerReferences?.[0] as { kind: string }).kind, 'Service');
  assert.equal(slices.flatMap((x) => x.endpoints).filter((e) => !e.conditions.ready).length, 25);
  // A pod goes: one slice changes, the others are not written.
  const before = new Map(slices.map((x) => [x.metadata.name, x.metadata.resourceVersion]));
  store.delete('pods', 'default', 'p7');
  const after = slicesOf(store, 'web');
  assert.equal(addressesOf(after).length, 249);
  assert.equal(after.filter((x) => before.get(x.metadata.name) !== x.metadata.resourceVersion).length, 1);
  // The service goes: its slices go.
  store.delete('services', 'default', 'web');
  assert.equal(slicesOf(store, 'web').length, 0);
});

test('a service without endpoints keeps one empty slice; ExternalName has none; nothing is written when nothing changes', () => {
  const { store, ctl } = cluster();
  store.create('services', 'default', { metadata: { name: 'empty' }, spec: { selector: { app: 'none' }, ports: [{ port: 80 }] } });
  const s = slicesOf(store, 'empty');
  assert.equal(s.length, 1);
  assert.deepEqual([s[0].endpoints, s[0].ports], [[], []]);
  const writes = ctl.sliceWrites;
  store.create('pods', 'default', pod('other', { app: 'other' }));
  store.patch('services', 'default', 'empty', 'merge', { metadata: { annotations: { a: 'b' } } });
  assert.equal(ctl.sliceWrites, writes);
  store.update('services', 'default', 'empty', { ...store.get('services', 'default', 'empty'), spec: { type: 'ExternalName', externalName: 'example.com' } });
  assert.equal(slicesOf(store, 'empty').length, 0);
});

test('mirroring: the Endpoints a user writes for a selectorless service become slices (and follow it)', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'ext' }, spec: { clusterIP: 'None', ports: [{ name: 'db', port: 5432 }] } });
  store.create('endpoints', 'default', { metadata: { name: 'ext' }, subsets: [{ addresses: [{ ip: '192.0.2.1', hostname: 'one' }, { ip: '2001:db8::1' }], notReadyAddresses: [{ ip: '192.0.2.2' }], ports: [{ name: 'db', port: 5432 }] }] });
  let s = slicesOf(store, 'ext');
  assert.deepEqual(s.map((x) => x.addressType).sort(), ['IPv4', 'IPv6']);
  assert.ok(s.every((x) => x.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'endpointslicemirroring-controller.k8s.io'));
  assert.deepEqual(addressesOf(s), ['192.0.2.1', '192.0.2.2', '2001:db8::1']);
  store.update('endpoints', 'default', 'ext', { ...store.get('endpoints', 'default', 'ext'), subsets: [{ addresses: [{ ip: '192.0.2.9' }], ports: [{ name: 'db', port: 5432 }] }] });
  s = slicesOf(store, 'ext');
  assert.deepEqual(addressesOf(s), ['192.0.2.9']);
  store.delete('endpoints', 'default', 'ext');
  assert.equal(slicesOf(store, 'ext').length, 0);
  // Endpoints without a service are not mirrored (nor deleted).
  store.create('endpoints', 'default', { metadata: { name: 'lonely' }, subsets: [{ addresses: [{ ip: '192.0.2.3' }] }] });
  assert.equal(slicesOf(store, 'lonely').length, 0);
  assert.ok(store.tryGet('endpoints', 'default', 'lonely'));
});

test('write order: new slices first, then changed ones, then deletions; a slice edited by hand is put back', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'w' }, spec: { clusterIP: 'None', selector: { app: 'w' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  for (let i = 0; i < 3; i++) store.create('pods', 'default', pod(`w${i}`, { app: 'w' }));
  const events: string[] = [];
  const off = store.subscribe((ev: StoreEvent) => {
    if (ev.resource === 'endpointslices') events.push(ev.type);
  });
  // The port changes: every endpoint moves to a slice of the new port mapping.
  store.update('services', 'default', 'w', { ...store.get('services', 'default', 'w'), spec: { ...(store.get('services', 'default', 'w').spec as object), ports: [{ name: 'http', port: 80, targetPort: 9090 }] } });
  off();
  assert.deepEqual(events, ['ADDED', 'DELETED']);
  const [s] = slicesOf(store, 'w');
  assert.deepEqual(s.ports, [{ name: 'http', port: 9090, protocol: 'TCP' }]);
  // Someone empties the slice: the controller writes it back.
  store.update('endpointslices', 'default', s.metadata.name ?? '', { ...s, endpoints: [] });
  assert.equal(addressesOf(slicesOf(store, 'w')).length, 3);
});

test('dual stack: one slice per address family', () => {
  const { store } = cluster({ serviceCidr: '10.0.0.0/24,fd00::/108' });
  store.create('services', 'default', { metadata: { name: 'ds' }, spec: { clusterIP: 'None', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], selector: { app: 'ds' } } });
  store.create('pods', 'default', pod('d', { app: 'ds' }, { ips: ['10.1.0.1', 'fd00:1::1'] }));
  const s = slicesOf(store, 'ds');
  assert.deepEqual(s.map((x) => [x.addressType, addressesOf([x])]).sort(), [['IPv4', ['10.1.0.1']], ['IPv6', ['fd00:1::1']]]);
});

test('Endpoints stop at 1,000 addresses with the over-capacity annotation (slices carry them all); the annotation goes when they fit again', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'big' }, spec: { clusterIP: 'None', selector: { app: 'big' } } });
  for (let i = 0; i < 1100; i++) store.create('pods', 'default', pod(`b${i}`, { app: 'big' }));
  const ep = store.get('endpoints', 'default', 'big') as KubeObject & { subsets: Array<{ addresses?: unknown[] }> };
  assert.equal(ep.subsets.reduce((n, s) => n + (s.addresses?.length ?? 0), 0), 1000);
  assert.equal(ep.metadata.annotations?.['endpoints.kubernetes.io/over-capacity'], 'truncated');
  assert.equal(addressesOf(slicesOf(store, 'big')).length, 1100);
  assert.equal(slicesOf(store, 'big').length, 11);
  for (let i = 0; i < 150; i++) store.delete('pods', 'default', `b${i}`);
  const fit = store.get('endpoints', 'default', 'big') as KubeObject & { subsets: Array<{ addresses?: unknown[] }> };
  assert.equal(fit.subsets.reduce((n, s) => n + (s.addresses?.length ?? 0), 0), 950);
  assert.equal(fit.metadata.annotations?.['endpoints.kubernetes.io/over-capacity'], undefined);
});

test('with slices off, the controller writes none', () => {
  const { store, ctl } = cluster({ slices: false });
  store.create('services', 'default', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
  store.create('pods', 'default', pod('p', { app: 'web' }));
  assert.equal(store.list('endpointslices').items.length, 0);
  assert.equal(ctl.sliceWrites, 0);
  assert.ok(store.tryGet('endpoints', 'default', 'web'));
});
