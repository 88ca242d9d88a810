// The endpoints controller of the sandbox API server: what Endpoints a
// Service gets from the Pods its selector matches, and when it is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointsController } from '../../lib/sandbox-apiserver/controller.js';
import { createNamespaces } from '../../lib/sandbox-apiserver/defaults.js';
import { computeSubsets } from '../../lib/sandbox-apiserver/endpoints.js';
import { Store } from '../../lib/sandbox-apiserver/store.js';
import type { EndpointSubset, Pod, Service } from '../../lib/sandbox-apiserver/types.js';

function service(spec: Service['spec'], name = 'web', ns = 'default'): Service {
  return { metadata: { name, namespace: ns }, spec: { clusterIP: '10.0.0.9', ...spec } };
}

interface PodOpts {
  ip?: string;
  ready?: boolean;
  labels?: Record<string, string>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  hostname?: string;
  subdomain?: string;
  node?: string;
  phase?: string;
  restartPolicy?: string;
  ns?: string;
  deleting?: boolean;
}

function pod(name: string, o: PodOpts = {}): Pod {
  return {
    metadata: { name, namespace: o.ns ?? 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: {
      containers: [{ name: 'c', image: 'i', ports: o.ports ?? [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
      ...(o.node ? { nodeName: o.node } : {}),
      ...(o.restartPolicy ? { restartPolicy: o.restartPolicy } : {}),
    },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip !== undefined ? { podIP: o.ip } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

const ref = (name: string, ns = 'default') => ({ kind: 'Pod', namespace: ns, name, uid: `uid-${name}` });
const HTTP = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }];

interface Case {
  name: string;
  svc: Service;
  pods: Pod[];
  want: EndpointSubset[];
}

const CASES: Case[] = [
  {
    name: 'ready and not-ready pods, sorted by address; named targetPort resolved',
    svc: service({ selector: { app: 'web' }, ports: HTTP }),
    pods: [pod('b', { ip: '10.244.0.10', ready: false }), pod('a', { ip: '10.244.0.9', node: 'n1' }), pod('c', { ip: '10.244.0.2' })],
    want: [
      {
        addresses: [
          { ip: '10.244.0.2', targetRef: ref('c') },
          { ip: '10.244.0.9', nodeName: 'n1', targetRef: ref('a') },
        ],
        notReadyAddresses: [{ ip: '10.244.0.10', targetRef: ref('b') }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
  },
  {
    name: 'numeric targetPort as is; unnamed port; default targetPort = port; UDP',
    svc: service({ selector: { app: 'web' }, ports: [{ port: 53, protocol: 'UDP', targetPort: 5353 }] }),
    pods: [pod('a', { ip: '10.244.0.1' })],
    want: [{ addresses: [{ ip: '10.244.0.1', targetRef: ref('a') }], ports: [{ port: 5353, protocol: 'UDP' }] }],
  },
  {
    name: 'pods without an address, of another namespace, not matching, terminating or finished are left out',
    svc: service({ selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] }),
    pods: [
      pod('noip'),
      pod('other-ns', { ip: '10.244.0.3', ns: 'kube-system' }),
      pod('other-app', { ip: '10.244.0.4', labels: { app: 'db' } }),
      pod('terminating', { ip: '10.244.0.5', deleting: true }),
      pod('done', { ip: '10.244.0.6', phase: 'Succeeded', restartPolicy: 'Never' }),
      pod('failed-onfailure', { ip: '10.244.0.8', phase: 'Failed', restartPolicy: 'OnFailure' }),
      pod('ok', { ip: '10.244.0.7' }),
    ],
    want: [
      {
        addresses: [
          { ip: '10.244.0.7', targetRef: ref('ok') },
          { ip: '10.244.0.8', targetRef: ref('failed-onfailure') },
        ],
        ports: [{ port: 80, protocol: 'TCP' }],
      },
    ],
  },
  {
    name: 'hostname only when the pod subdomain is the service name',
    svc: service({ clusterIP: 'None', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }] }),
    pods: [pod('a', { ip: '10.244.0.1', hostname: 'alpha', subdomain: 'web' }), pod('b', { ip: '10.244.0.2', hostname: 'beta', subdomain: 'other' })],
    want: [
      {
        addresses: [
          { ip: '10.244.0.1', hostname: 'alpha', targetRef: ref('a') },
          { ip: '10.244.0.2', targetRef: ref('b') },
        ],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    ],
  },
  {
    name: 'publishNotReadyAddresses makes every address ready',
    svc: service({ selector: { app: 'web' }, publishNotReadyAddresses: true, ports: HTTP }),
    pods: [pod('a', { ip: '10.244.0.1', ready: false }), pod('b', { ip: '10.244.0.2' }), pod('t', { ip: '10.244.0.3', deleting: true })],
    want: [
      {
        addresses: [
          { ip: '10.244.0.1', targetRef: ref('a') },
          { ip: '10.244.0.2', targetRef: ref('b') },
          { ip: '10.244.0.3', targetRef: ref('t') },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
  },
  {
    name: 'a pod lacking a named port serves only the other ports: two subsets',
    svc: service({ selector: { app: 'web' }, ports: [...HTTP, { name: 'metrics', port: 9090, protocol: 'TCP', targetPort: 9090 }] }),
    pods: [pod('a', { ip: '10.244.0.1' }), pod('b', { ip: '10.244.0.2', ports: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }] })],
    want: [
      {
        addresses: [{ ip: '10.244.0.1', targetRef: ref('a') }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      {
        addresses: [
          { ip: '10.244.0.1', targetRef: ref('a') },
          { ip: '10.244.0.2', targetRef: ref('b') },
        ],
        ports: [{ name: 'metrics', port: 9090, protocol: 'TCP' }],
      },
    ],
  },
  {
    name: 'named targetPort must match the protocol too',
    svc: service({ selector: { app: 'web' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] }),
    pods: [pod('tcp-only', { ip: '10.244.0.1', ports: [{ name: 'dns', containerPort: 5353, protocol: 'TCP' }] }), pod('udp', { ip: '10.244.0.2', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] })],
    want: [{ addresses: [{ ip: '10.244.0.2', targetRef: ref('udp') }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }],
  },
  {
    name: 'headless service without ports: addresses without ports',
    svc: service({ clusterIP: 'None', selector: { app: 'web' } }),
    pods: [pod('a', { ip: '10.244.0.1' })],
    want: [{ addresses: [{ ip: '10.244.0.1', targetRef: ref('a') }] }],
  },
  {
    name: 'IPv6 service takes the IPv6 address of the pod',
    svc: service({ clusterIP: 'None', ipFamilies: ['IPv6'], selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] }),
    pods: [{ ...pod('a', { ip: '10.244.0.1' }), status: { podIP: '10.244.0.1', podIPs: [{ ip: '10.244.0.1' }, { ip: 'fd00::1' }], conditions: [{ type: 'Ready', status: 'True' }] } }],
    want: [{ addresses: [{ ip: 'fd00::1', targetRef: ref('a') }], ports: [{ port: 80, protocol: 'TCP' }] }],
  },
  {
    name: 'no selector: nothing (the user owns the Endpoints)',
    svc: service({ ports: HTTP }),
    pods: [pod('a', { ip: '10.244.0.1' })],
    want: [],
  },
  {
    name: 'no matching pod: no subsets',
    svc: service({ selector: { app: 'none' }, ports: HTTP }),
    pods: [pod('a', { ip: '10.244.0.1' })],
    want: [],
  },
];

for (const c of CASES) {
  test(`computeSubsets: ${c.name}`, () => {
    assert.deepEqual(computeSubsets(c.svc, c.pods), c.want);
  });
}

// ---------------------------------------------------------------- controller

function cluster(): { store: Store; ctl: EndpointsController } {
  const store = new Store();
  createNamespaces(store);
  // Endpoints alone here (slices write too, which moves the resourceVersions these tests check): see apiserver-slices.test.ts.
  const ctl = new EndpointsController(store, undefined, { slices: false });
  ctl.start();
  return { store, ctl };
}

const podBody = (name: string, labels: Record<string, string>, ready = true) => ({
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }] },
  ...(ready ? {} : { status: { conditions: [{ type: 'Ready', status: 'False' }] } }),
});

function addresses(store: Store, name: string): { ready: string[]; notReady: string[]; rv: string | undefined } | undefined {
  const ep = store.tryGet('endpoints', 'default', name) as { subsets?: EndpointSubset[]; metadata: { resourceVersion?: string } } | undefined;
  if (!ep) return undefined;
  return {
    ready: (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.targetRef?.name ?? a.ip)),
    notReady: (ep.subsets ?? []).flatMap((s) => (s.notReadyAddresses ?? []).map((a) => a.targetRef?.name ?? a.ip)),
    rv: ep.metadata.resourceVersion,
  };
}

test('controller: endpoints follow pods and the service; nothing is written when nothing changes', () => {
  const { store, ctl } = cluster();
  store.create('services', 'default', { metadata: { name: 'web', labels: { team: 'a' } }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  const first = store.get('endpoints', 'default', 'web');
  assert.deepEqual({ ...first, metadata: { ...first.metadata, uid: 'U', creationTimestamp: 'T' } }, {
    kind: 'Endpoints',
    apiVersion: 'v1',
    metadata: { name: 'web', namespace: 'default', uid: 'U', resourceVersion: '6', creationTimestamp: 'T', labels: { team: 'a' } },
  });
  store.create('pods', 'default', podBody('a', { app: 'web' }));
  store.create('pods', 'default', podBody('b', { app: 'web' }, false));
  assert.deepEqual(addresses(store, 'web'), { ready: ['a'], notReady: ['b'], rv: '10' });
  const writes = ctl.writes;

  // unrelated changes: another app's pod, a label the selector ignores, the same status again
  store.create('pods', 'default', podBody('x', { app: 'other' }));
  store.patch('pods', 'default', 'a', 'merge', { metadata: { labels: { extra: 'yes' } } });
  store.update('endpoints', 'default', 'web', { ...store.get('endpoints', 'default', 'web') });
  assert.equal(ctl.writes, writes, 'no endpoints write for changes that do not alter them');
  assert.equal(addresses(store, 'web')?.rv, '10');

  // readiness flips through the status subresource
  store.patch('pods', 'default', 'b', 'strategic', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
  assert.deepEqual(addresses(store, 'web'), { ready: ['a', 'b'], notReady: [], rv: '14' });

  // a pod leaves the selector by a label change
  store.patch('pods', 'default', 'a', 'merge', { metadata: { labels: { app: 'moved' } } });
  assert.deepEqual(addresses(store, 'web')?.ready, ['b']);

  // the service's selector changes
  store.patch('services', 'default', 'web', 'merge', { spec: { selector: { app: 'moved' } } });
  assert.deepEqual(addresses(store, 'web')?.ready, ['a']);

  // a pod deleted
  store.delete('pods', 'default', 'a');
  assert.deepEqual(addresses(store, 'web'), { ready: [], notReady: [], rv: addresses(store, 'web')?.rv });
  assert.equal('subsets' in store.get('endpoints', 'default', 'web'), false);

  // the user overwriting managed endpoints gets them put back
  store.update('endpoints', 'default', 'web', { metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }] }] });
  assert.equal('subsets' in store.get('endpoints', 'default', 'web'), false);

  // deleting the service deletes its endpoints
  store.delete('services', 'default', 'web');
  assert.equal(store.tryGet('endpoints', 'default', 'web'), undefined);
});

test('controller: services without a selector keep user endpoints; selector removal stops management', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'ext' }, spec: { ports: [{ port: 80 }] } });
  assert.equal(store.tryGet('endpoints', 'default', 'ext'), undefined);
  store.create('endpoints', 'default', { metadata: { name: 'ext' }, subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 80 }] }] });
  store.create('pods', 'default', podBody('a', { app: 'web' }));
  assert.deepEqual(addresses(store, 'ext')?.ready, ['192.0.2.10']);
  // ExternalName services are never managed
  store.create('services', 'default', { metadata: { name: 'cname' }, spec: { type: 'ExternalName', externalName: 'example.com', selector: { app: 'web' } } });
  assert.equal(store.tryGet('endpoints', 'default', 'cname'), undefined);
  // a service that gets a selector later becomes managed
  store.patch('services', 'default', 'ext', 'merge', { spec: { selector: { app: 'web' } } });
  assert.deepEqual(addresses(store, 'ext')?.ready, ['a']);
});

test('controller: hostname from spec.hostname when spec.subdomain is the service name', () => {
  const { store } = cluster();
  store.create('services', 'default', { metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] } });
  store.create('pods', 'default', { metadata: { name: 'db-0', labels: { app: 'db' } }, spec: { hostname: 'db-0', subdomain: 'db', containers: [{ name: 'c', image: 'i' }] } });
  const ep = store.get('endpoints', 'default', 'db') as { metadata: { labels?: Record<string, string> }; subsets?: EndpointSubset[] };
  assert.deepEqual(ep.metadata.labels, { 'service.kubernetes.io/headless': '' });
  const pod = store.get('pods', 'default', 'db-0') as Pod;
  assert.deepEqual(ep.subsets, [
    {
      addresses: [{ ip: pod.status?.podIP ?? '', hostname: 'db-0', nodeName: 'sandbox-node', targetRef: { kind: 'Pod', namespace: 'default', name: 'db-0', uid: pod.metadata.uid ?? '' } }],
      ports: [{ port: 5432, protocol: 'TCP' }],
    },
  ]);
});

test('controller: start() syncs what is already in the store', () => {
  const store = new Store();
  createNamespaces(store);
  store.create('services', 'default', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
  store.create('pods', 'default', podBody('a', { app: 'web' }));
  assert.equal(store.tryGet('endpoints', 'default', 'web'), undefined);
  new EndpointsController(store).start();
  assert.deepEqual(addresses(store, 'web')?.ready, ['a']);
});
