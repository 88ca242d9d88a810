// EndpointSlices in kube2sky (merge, index, removal grace) and the sandbox's slice controller rules,
// and that one cluster state gives the same records from slices as from Endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeSubsets, truncateSubsets } from '../../lib/sandbox-apiserver/endpoints.js';
import { MAX_ENDPOINTS_PER_SLICE, planSlices, type EndpointSlice as ApiSlice } from '../../lib/sandbox-apiserver/endpointslices.js';
import type { Endpoints as ApiEndpoints, Pod, Service as ApiService } from '../../lib/sandbox-apiserver/types.js';
import { serviceRecords, type RecordOptions } from '../../lib/kube2sky/records.js';
import { endpointsFromSlices, RemovalGrace, SliceIndex } from '../../lib/kube2sky/slices.js';
import type { EndpointSlice, Endpoints, Service } from '../../lib/kube2sky/types.js';
import { rng } from '../harness/random.js';

const MODERN: RecordOptions = { domain: 'cluster.local.', legacy: false };
const LEGACY: RecordOptions = { domain: 'cluster.local.', legacy: true };
const sorted = (m: Map<string, string>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

function slice(name: string, svc: string | null, addressType: string, endpoints: EndpointSlice['endpoints'], ports: EndpointSlice['ports'] = []): EndpointSlice {
  return { metadata: { name, namespace: 'ns', ...(svc ? { labels: { 'kubernetes.io/service-name': svc } } : {}) }, addressType, endpoints, ports };
}

test('slices merge into one subset each: ready (true or unset) and not-ready addresses, hostnames, ports; FQDN slices skipped', () => {
  const ep = endpointsFromSlices('ns', 'web', [
    slice('web-b', 'web', 'IPv6', [{ addresses: ['fd00::1'], conditions: { ready: null } }], [{ name: 'http', protocol: 'TCP', port: 80 }]),
    slice('web-a', 'web', 'IPv4', [
      { addresses: ['10.0.0.1'], conditions: { ready: true }, hostname: 'one' },
      { addresses: ['10.0.0.2'], conditions: { ready: false } },
      { addresses: ['10.0.0.3'] },
    ], [{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'all', protocol: 'TCP', port: null }]),
    slice('web-c', 'web', 'FQDN', [{ addresses: ['example.com'] }]),
  ]);
  assert.deepEqual(ep, {
    metadata: { name: 'web', namespace: 'ns' },
    subsets: [
      {
        addresses: [{ ip: '10.0.0.1', hostname: 'one' }, { ip: '10.0.0.3' }],
        notReadyAddresses: [{ ip: '10.0.0.2' }],
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'all', protocol: 'TCP', port: undefined }],
      },
      { addresses: [{ ip: 'fd00::1' }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
    ],
  });
  // Records: A and AAAA for the ready addresses, SRV for the port with a number only.
  const svc: Service = { metadata: { name: 'web', namespace: 'ns' }, spec: { clusterIP: 'None', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } };
  const keys = [...serviceRecords(svc, ep, MODERN).records.keys()].filter((k) => k.startsWith('/skydns/local')).sort();
  assert.deepEqual(keys.filter((k) => k.includes('_all')), []);
  assert.ok(keys.includes('/skydns/local/cluster/svc/ns/web/one'));
  assert.ok(keys.includes('/skydns/local/cluster/svc/ns/web/_tcp/_http/one'));
  assert.equal(keys.filter((k) => !k.includes('/_tcp/')).length, 3, keys.join('\n'));
});

test('the slice index follows adds, changes, label moves and deletes', () => {
  const ix = new SliceIndex();
  assert.equal(ix.endpoints('ns', 'web'), null);
  assert.deepEqual(ix.upsert(slice('web-a', 'web', 'IPv4', [{ addresses: ['10.0.0.1'] }])), ['ns/web']);
  assert.deepEqual(ix.upsert(slice('web-b', 'web', 'IPv4', [{ addresses: ['10.0.0.2'] }])), ['ns/web']);
  assert.equal(ix.endpoints('ns', 'web')!.subsets!.length, 2);
  // The label now names another service: both change.
  assert.deepEqual(ix.upsert(slice('web-b', 'api', 'IPv4', [{ addresses: ['10.0.0.2'] }])), ['ns/web', 'ns/api']);
  assert.equal(ix.endpoints('ns', 'web')!.subsets!.length, 1);
  assert.equal(ix.endpoints('ns', 'api')!.subsets!.length, 1);
  // A slice without the label belongs to no service.
  assert.deepEqual(ix.upsert(slice('loose', null, 'IPv4', [{ addresses: ['10.0.0.9'] }])), []);
  assert.deepEqual(ix.remove(slice('web-a', 'web', 'IPv4', [])), ['ns/web']);
  assert.equal(ix.endpoints('ns', 'web'), null);
  assert.deepEqual(ix.remove(slice('never', 'web', 'IPv4', [])), []);
  assert.equal(ix.size, 1);
});

test('removal grace: a record that leaves on a slice event stays for the grace; one that comes back was never removed', () => {
  const g = new RemovalGrace(1000);
  const m = (...kv: string[]) => new Map(kv.map((k) => [k, `v${k}`]));
  let r = g.apply('ns/web', m('a', 'b'), 0, true);
  assert.deepEqual([...r.records.keys()], ['a', 'b']);
  assert.equal(r.recheckAt, null);
  // b leaves (slice event): kept until 1000.
  r = g.apply('ns/web', m('a'), 100, true);
  assert.deepEqual([...r.records.keys()].sort(), ['a', 'b']);
  assert.equal(r.recheckAt, 1100);
  assert.deepEqual(g.heldKeys('ns/web'), ['b']);
  // b comes back (the other slice's event): no longer held.
  r = g.apply('ns/web', m('a', 'b', 'c'), 200, true);
  assert.deepEqual(g.heldKeys('ns/web'), []);
  assert.equal(r.recheckAt, null);
  // c leaves at 300; a service change at 500 keeps the running grace but starts none for a.
  g.apply('ns/web', m('a', 'b'), 300, true);
  r = g.apply('ns/web', m('b'), 500, false);
  assert.deepEqual([...r.records.keys()].sort(), ['b', 'c']);
  assert.equal(r.recheckAt, 1300);
  // The recheck after the grace: c is gone.
  r = g.apply('ns/web', m('b'), 1300, false);
  assert.deepEqual([...r.records.keys()], ['b']);
  assert.equal(r.recheckAt, null);
  // Grace 0: removed at once.
  const none = new RemovalGrace(0);
  none.apply('x', m('a'), 0, true);
  assert.deepEqual([...none.apply('x', m(), 1, true).records.keys()], []);
  // forget drops everything held.
  g.apply('ns/web', m(), 2000, true);
  assert.deepEqual(g.heldKeys('ns/web'), ['b']);
  g.forget('ns/web');
  assert.deepEqual([...g.apply('ns/web', m(), 2001, true).records.keys()], []);
});

test('Endpoints truncation at 1,000 addresses: ready kept first, cut in proportion', () => {
  const addrs = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.${base}.${i >> 8}.${i & 255}` }));
  const a = [{ addresses: addrs(800, 1), notReadyAddresses: addrs(300, 2) }, { addresses: addrs(100, 3), notReadyAddresses: addrs(100, 4) }];
  assert.equal(truncateSubsets(a), true);
  assert.equal(a[0].addresses!.length + a[1].addresses!.length, 900);
  assert.equal((a[0].notReadyAddresses?.length ?? 0) + (a[1].notReadyAddresses?.length ?? 0), 100);
  assert.equal(a[0].notReadyAddresses!.length, 75); // 300/400 of 100
  const b = [{ addresses: addrs(1500, 1), notReadyAddresses: addrs(10, 2) }, { addresses: addrs(500, 3) }];
  assert.equal(truncateSubsets(b), true);
  assert.equal(b[0].addresses!.length, 750);
  assert.equal(b[1].addresses!.length, 250);
  assert.equal(b[0].notReadyAddresses, undefined);
  const c = [{ addresses: addrs(1000, 1) }];
  assert.equal(truncateSubsets(c), false);
});

// ---------------------------------------------------------------- a random cluster, both ways

interface World {
  services: ApiService[];
  pods: Pod[];
}

function randomWorld(r: () => number, nServices: number, nPods: number): World {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const services: ApiService[] = [];
  for (let i = 0; i < nServices; i++) {
    const ports = Array.from({ length: Math.floor(r() * 3) }, (_, j) => {
      const named = r() < 0.7;
      const targetPort = pick([8080, 'web', 'metrics'] as const);
      // Pods declare "web" for TCP only: a UDP port targeting it would resolve on no pod (the case tested apart below).
      return { ...(named ? { name: `p${j}` } : {}), port: 80 + j, protocol: targetPort === 'web' ? 'TCP' : pick(['TCP', 'UDP']), targetPort };
    });
    services.push({
      metadata: { name: `s${i}`, namespace: 'ns', uid: `svc-${i}` },
      spec: {
        clusterIP: r() < 0.8 ? 'None' : `10.0.0.${i + 10}`,
        selector: { app: `a${i % 3}` },
        ports: ports.length === 1 && !ports[0].name ? [{ ...ports[0] }] : ports.map((p, j) => ({ ...p, name: p.name ?? `u${j}` })),
        ...(r() < 0.2 ? { publishNotReadyAddresses: true } : {}),
      },
    });
  }
  const pods: Pod[] = [];
  for (let i = 0; i < nPods; i++) {
    const ready = r() < 0.7;
    pods.push({
      metadata: { name: `p${i}`, namespace: 'ns', uid: `pod-${i}`, labels: { app: `a${Math.floor(r() * 3)}` }, ...(r() < 0.1 ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
      spec: {
        // Every pod declares the named ports the services may target: see the test below for the one case where the two APIs differ.
        containers: [{ name: 'c', ports: [{ name: 'web', containerPort: 8000 + (i % 5) }, { name: 'metrics', containerPort: 9100, protocol: 'UDP' }, { name: 'metrics', containerPort: 9100 }] }],
        ...(r() < 0.3 ? { hostname: `h${i}`, subdomain: `s${Math.floor(r() * nServices)}` } : {}),
        restartPolicy: pick(['Always', 'OnFailure', 'Never']),
      },
      status: {
        phase: pick(['Running', 'Running', 'Succeeded', 'Failed']),
        podIP: `10.244.${i >> 8}.${i & 255}`,
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      },
    });
  }
  return { services, pods };
}

let sliceSeq = 0;
/** Applies a plan to a service's slice list as the API server would store it. */
function applyPlan(existing: ApiSlice[], svc: ApiService | null, pods: Pod[]): ApiSlice[] {
  const plan = planSlices(svc, pods, undefined, existing, () => `slice-${++sliceSeq}`);
  const byName = new Map(existing.map((s) => [s.metadata.name!, s]));
  for (const s of plan.create) byName.set(s.metadata.name!, s);
  for (const s of plan.update) byName.set(s.metadata.name!, s);
  for (const s of plan.delete) byName.delete(s.metadata.name!);
  for (const s of byName.values()) assert.ok(s.endpoints.length <= MAX_ENDPOINTS_PER_SLICE);
  return [...byName.values()];
}

function recordsBothWays(svc: ApiService, pods: Pod[], slices: ApiSlice[], opts: RecordOptions): { fromEndpoints: object; fromSlices: object } {
  const subsets = computeSubsets(svc, pods);
  const ep: ApiEndpoints = { metadata: { name: svc.metadata.name, namespace: 'ns' }, ...(subsets.length ? { subsets } : {}) };
  return {
    fromEndpoints: sorted(serviceRecords(svc as Service, ep as Endpoints, opts).records),
    fromSlices: sorted(serviceRecords(svc as Service, endpointsFromSlices('ns', svc.metadata.name!, slices as EndpointSlice[]), opts).records),
  };
}

test('a random cluster gives the same records from EndpointSlices as from Endpoints, through 30 rounds of pod changes', () => {
  const r = rng(20261204);
  for (let world = 0; world < 20; world++) {
    const w = randomWorld(r, 6, 40 + Math.floor(r() * 200));
    const slices = new Map<string, ApiSlice[]>();
    for (let round = 0; round < 30; round++) {
      for (const svc of w.services) {
        const s = applyPlan(slices.get(svc.metadata.name!) ?? [], svc, w.pods);
        slices.set(svc.metadata.name!, s);
        for (const opts of [MODERN, LEGACY]) {
          const { fromEndpoints, fromSlices } = recordsBothWays(svc, w.pods, s, opts);
          assert.deepEqual(fromSlices, fromEndpoints, `world ${world} round ${round} service ${svc.metadata.name}`);
        }
      }
      // Change some pods: readiness, deletion, labels, new pods, gone pods.
      for (let k = 0; k < 10; k++) {
        const i = Math.floor(r() * w.pods.length);
        const p = w.pods[i];
        const what = r();
        if (what < 0.3) p.status!.conditions = [{ type: 'Ready', status: r() < 0.5 ? 'True' : 'False' }];
        else if (what < 0.45) p.metadata.labels = { app: `a${Math.floor(r() * 3)}` };
        else if (what < 0.6) w.pods.splice(i, 1);
        else if (what < 0.7) p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
        else {
          const n = 10_000 + world * 1000 + round * 10 + k;
          // A hostname of its own: two pods of one subdomain with the same hostname make one name with two
          // candidate addresses, and which one wins depends on order in either API.
          const spec = { ...structuredClone(p.spec), ...(p.spec?.hostname ? { hostname: `h${n}` } : {}) };
          w.pods.push({ metadata: { ...p.metadata, name: `p${n}`, uid: `pod-${n}`, deletionTimestamp: undefined }, spec, status: { ...p.status, podIP: `10.245.${(n >> 8) & 255}.${n & 255}` } });
        }
      }
    }
  }
});

test('a service with 5,000 endpoints: 50 slices of 100, every address in the records (Endpoints would stop at 1,000)', () => {
  const svc: ApiService = { metadata: { name: 'big', namespace: 'ns', uid: 'u' }, spec: { clusterIP: 'None', selector: { app: 'big' } } };
  const pods: Pod[] = Array.from({ length: 5000 }, (_, i) => ({
    metadata: { name: `b${i}`, namespace: 'ns', uid: `b${i}`, labels: { app: 'big' } },
    spec: { containers: [{ name: 'c' }] },
    status: { phase: 'Running', podIP: `10.1.${i >> 8}.${i & 255}`, conditions: [{ type: 'Ready', status: 'True' }] },
  }));
  const slices = applyPlan([], svc, pods);
  assert.equal(slices.length, 50);
  const recs = serviceRecords(svc as Service, endpointsFromSlices('ns', 'big', slices as EndpointSlice[]), MODERN).records;
  assert.equal([...recs.keys()].filter((k) => k.startsWith('/skydns/local/cluster/svc/ns/big/')).length, 5000);
  const subsets = computeSubsets(svc, pods);
  assert.equal(truncateSubsets(subsets), true);
  assert.equal(subsets.reduce((n, s) => n + (s.addresses?.length ?? 0), 0), 1000);
  // One pod more goes into a slice with room; one fewer leaves the others untouched.
  const before = new Map(slices.map((s) => [s.metadata.name, JSON.stringify(s)]));
  pods.splice(123, 1);
  const plan = planSlices(svc, pods, undefined, slices, () => 'new');
  assert.equal(plan.create.length + plan.delete.length, 0);
  assert.equal(plan.update.length, 1);
  assert.ok(before.has(plan.update[0].metadata.name));
});

test('dual stack: slices give both families (Endpoints carries only the primary one)', () => {
  const svc: ApiService = { metadata: { name: 'ds', namespace: 'ns', uid: 'u' }, spec: { clusterIP: 'None', ipFamilies: ['IPv4', 'IPv6'], selector: { app: 'ds' } } };
  const pods: Pod[] = [{
    metadata: { name: 'd', namespace: 'ns', uid: 'd', labels: { app: 'ds' } },
    spec: {},
    status: { phase: 'Running', podIP: '10.1.0.1', podIPs: [{ ip: '10.1.0.1' }, { ip: 'fd00::1' }], conditions: [{ type: 'Ready', status: 'True' }] },
  }];
  const slices = applyPlan([], svc, pods);
  assert.deepEqual(slices.map((s) => s.addressType).sort(), ['IPv4', 'IPv6']);
  const { fromEndpoints, fromSlices } = recordsBothWays(svc, pods, slices, MODERN);
  const local = (o: object) => Object.keys(o).filter((k) => k.startsWith('/skydns/local'));
  assert.equal(local(fromEndpoints).length, 1);
  assert.equal(local(fromSlices).length, 2);
});

test('the one documented difference: a pod that resolves none of a headless service\'s ports is in its slices (ports []) but not in its Endpoints', () => {
  const svc: ApiService = { metadata: { name: 'h', namespace: 'ns', uid: 'u' }, spec: { clusterIP: 'None', selector: { app: 'h' }, ports: [{ name: 'web', port: 80, targetPort: 'web' }] } };
  const pods: Pod[] = [{ metadata: { name: 'x', namespace: 'ns', uid: 'x', labels: { app: 'h' } }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Running', podIP: '10.1.0.7', conditions: [{ type: 'Ready', status: 'True' }] } }];
  const slices = applyPlan([], svc, pods);
  assert.equal(slices.length, 1);
  assert.deepEqual(slices[0].ports, []);
  const { fromEndpoints, fromSlices } = recordsBothWays(svc, pods, slices, MODERN);
  assert.deepEqual(Object.keys(fromEndpoints), []);
  assert.equal(Object.keys(fromSlices).filter((k) => k.startsWith('/skydns/local')).length, 1);
});

test('slice plans: placeholder for a service without endpoints, mirrored slices for one without a selector, nothing for ExternalName', () => {
  const svc: ApiService = { metadata: { name: 'e', namespace: 'ns', uid: 'u' }, spec: { clusterIP: '10.0.0.5', selector: { app: 'none' }, ports: [{ port: 80 }] } };
  let slices = applyPlan([], svc, []);
  assert.equal(slices.length, 1);
  assert.deepEqual([slices[0].endpoints, slices[0].ports], [[], []]);
  assert.equal(slices[0].metadata.labels!['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
  // Still nothing to do: no writes.
  const again = planSlices(svc, [], undefined, slices, () => 'n');
  assert.deepEqual([again.create.length, again.update.length, again.delete.length], [0, 0, 0]);
  const manual: ApiService = { metadata: { name: 'm', namespace: 'ns', uid: 'm' }, spec: { clusterIP: 'None' } };
  const ep: ApiEndpoints = { metadata: { name: 'm', namespace: 'ns' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }, { ip: '2001:db8::1' }], notReadyAddresses: [{ ip: '192.0.2.2' }], ports: [{ name: 'x', port: 5, protocol: 'TCP' }] }] };
  const plan = planSlices(manual, [], ep, [], () => `m-${++sliceSeq}`);
  assert.equal(plan.create.length, 2);
  assert.ok(plan.create.every((s) => s.metadata.labels!['endpointslice.kubernetes.io/managed-by'] === 'endpointslicemirroring-controller.k8s.io'));
  const ext: ApiService = { metadata: { name: 'e', namespace: 'ns' }, spec: { type: 'ExternalName', externalName: 'example.com' } };
  slices = applyPlan(slices, ext, []);
  assert.equal(slices.length, 0);
});
