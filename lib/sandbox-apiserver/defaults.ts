/** The objects a fresh cluster has: its namespaces and the `kubernetes` service. */
import type { Store } from './store.js';

export const DEFAULT_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];

export function createNamespaces(store: Store): void {
  for (const name of DEFAULT_NAMESPACES) {
    if (!store.tryGet('namespaces', undefined, name)) store.create('namespaces', undefined, { metadata: { name } });
  }
}

/**
 * `default/kubernetes` (first address of the service CIDR, port https 443)
 * and its Endpoints pointing at this server (`address`:`port`).
 */
export function createKubernetesService(store: Store, address: string, port: number): void {
  if (!store.tryGet('services', 'default', 'kubernetes')) {
    store.create('services', 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { clusterIP: store.serviceIpam.firstIp(), ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }] },
    });
  }
  if (!store.tryGet('endpoints', 'default', 'kubernetes')) {
    store.create('endpoints', 'default', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: [{ ip: address }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
    });
  }
}
