// What kube2sky's informer caches keep of an object (lib/kube2sky/trim.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { trimObject } from '../../lib/kube2sky/trim.js';

const managedFields = [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': {} } }];
const lastApplied = { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":"'.padEnd(5000, 'x') + '"}' };

test('services: name, namespace, resourceVersion, uid and the spec fields records are made from', () => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '42', labels: { app: 'web' }, annotations: lastApplied, managedFields, creationTimestamp: '2026-12-02T00:00:00Z' },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.0.0.20',
      clusterIPs: ['10.0.0.20', 'fd00::20'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, appProtocol: 'http' }],
      selector: { app: 'web' },
      sessionAffinity: 'None',
      publishNotReadyAddresses: true,
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
  assert.deepEqual(trimObject('services', svc as unknown as KubernetesObject), {
    metadata: { name: 'web', namespace: 'shop', resourceVersion: '42', uid: 'u1' },
    spec: { type: 'ClusterIP', clusterIP: '10.0.0.20', clusterIPs: ['10.0.0.20', 'fd00::20'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], publishNotReadyAddresses: true },
  });
  const ext = { metadata: { name: 'ext', namespace: 'default' }, spec: { type: 'ExternalName', externalName: 'www.example.org' } };
  assert.deepEqual(trimObject('services', ext as KubernetesObject), ext);
});

test('endpoints: addresses (ip, hostname), ports, and of the annotations only the hostnames map', () => {
  const ep = {
    metadata: { name: 'db', namespace: 'default', resourceVersion: '7', annotations: { ...lastApplied, 'endpoints.beta.kubernetes.io/hostnames-map': '{"10.1.0.5":{"HostName":"db-0"}}' } },
    subsets: [
      {
        addresses: [{ ip: '10.1.0.5', hostname: 'db-0', nodeName: 'n1', targetRef: { kind: 'Pod', name: 'db-0', namespace: 'default', uid: 'p' } }],
        notReadyAddresses: [{ ip: '10.1.0.6', targetRef: { kind: 'Pod', name: 'db-1' } }],
        ports: [{ name: 'postgres', protocol: 'TCP', port: 5432, appProtocol: 'postgresql' }],
      },
    ],
  };
  assert.deepEqual(trimObject('endpoints', ep as KubernetesObject), {
    metadata: { name: 'db', namespace: 'default', resourceVersion: '7', annotations: { 'endpoints.beta.kubernetes.io/hostnames-map': '{"10.1.0.5":{"HostName":"db-0"}}' } },
    subsets: [{ addresses: [{ ip: '10.1.0.5', hostname: 'db-0' }], notReadyAddresses: [{ ip: '10.1.0.6' }], ports: [{ name: 'postgres', protocol: 'TCP', port: 5432 }] }],
  });
  const plain = { metadata: { name: 'x', namespace: 'default', annotations: lastApplied } };
  assert.deepEqual(trimObject('endpoints', plain as KubernetesObject), { metadata: { name: 'x', namespace: 'default', annotations: {} } });
});

test('pods: podIP and podIPs only', () => {
  const pod = {
    metadata: { name: 'db-0', namespace: 'default', uid: 'p', resourceVersion: '9', labels: { app: 'db' }, ownerReferences: [{ kind: 'StatefulSet' }], managedFields },
    spec: { containers: [{ name: 'pg', image: 'postgres', env: [{ name: 'X', value: 'y' }] }], nodeName: 'n1', hostname: 'db-0' },
    status: { phase: 'Running', podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }], conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'pg', ready: true }] },
  };
  assert.deepEqual(trimObject('pods', pod as unknown as KubernetesObject), {
    metadata: { name: 'db-0', namespace: 'default', uid: 'p', resourceVersion: '9' },
    status: { podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }] },
  });
});

test('values of the wrong type are kept as they are (record generation reports them)', () => {
  const svc = { metadata: { name: 'bad', namespace: 'default' }, spec: { clusterIP: 7, ports: 'http' } };
  assert.deepEqual(trimObject('services', svc as unknown as KubernetesObject), svc);
  const ep = { metadata: { name: 'bad', namespace: 'default', annotations: 'x' }, subsets: [{ addresses: [null, 'x', { ip: 1 }] }] };
  assert.deepEqual(trimObject('endpoints', ep as unknown as KubernetesObject), ep);
  const pod = { metadata: { name: 'p', namespace: 'default' }, status: { podIPs: {} } };
  assert.deepEqual(trimObject('pods', pod as unknown as KubernetesObject), pod);
});
