/**
 * The generated cluster the kube2sky and scale-out benchmarks load into the sandbox API server
 * (--load of a JSON List), and the record counts kube2sky must write for it.
 */

/** How big, and how much of it headless. */
export interface ClusterShape {
  services: number;
  pods: number;
  namespaces: number;
  headlessPct: number;
}

export interface Expected {
  svcKeys: number;
  podKeys: number;
  arpaKeys: number;
  clusterIpServices: number;
  headlessServices: number;
  namedPorts: number;
}

/**
 * Namespaces ns0..ns<N-1>; Service i = `svc-<i>` in ns<i % N> with selector app=svc-<i>:
 * headless (clusterIP None, one named port "tcp" 5432) for BENCH_HEADLESS_PCT % of them
 * (spread evenly), else ClusterIP with port "http" 80 and, for every other one, "metrics" 9090.
 * Pod j = `svc-<j % S>-<j / S>` in its service's namespace with label app=svc-<j % S>, a
 * given status (Running, Ready=True, podIP 10.128.0.1 upwards) — so every service has
 * ⌈P/S⌉ or ⌊P/S⌋ ready endpoints, which the API server's endpoints controller writes.
 */
export function isHeadless(i: number, s: ClusterShape): boolean {
  // Evenly spread: service i is headless when the running count of headless services crosses a step.
  return Math.floor(((i + 1) * s.headlessPct) / 100) > Math.floor((i * s.headlessPct) / 100);
}

export function podIp(j: number): string {
  const n = j + 1;
  return `10.${128 + ((n >>> 16) & 63)}.${(n >>> 8) & 255}.${n & 255}`;
}

export function generateCluster(s: ClusterShape, legacy: boolean, podRecords: boolean): { objects: unknown[]; expected: Expected } {
  const items: unknown[] = [];
  for (let n = 0; n < s.namespaces; n++) items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns${n}` } });
  // default/kubernetes: an A record, an SRV for its named port "https", a PTR.
  let svcKeys = 2;
  let arpaKeys = 1;
  let clusterIpServices = 0;
  let headlessServices = 0;
  let namedPorts = 0;
  for (let i = 0; i < s.services; i++) {
    const ns = `ns${i % s.namespaces}`;
    const name = `svc-${i}`;
    const headless = isHeadless(i, s);
    const ports = headless
      ? [{ name: 'tcp', port: 5432, protocol: 'TCP' }]
      : i % 2 === 0
        ? [{ name: 'http', port: 80, protocol: 'TCP' }]
        : [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }];
    namedPorts += ports.length;
    items.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: { app: name } },
      spec: { ...(headless ? { clusterIP: 'None' } : {}), selector: { app: name }, ports },
    });
    if (headless) {
      headlessServices++;
      const endpoints = i < s.pods ? Math.floor((s.pods - 1 - i) / s.services) + 1 : 0;
      svcKeys += endpoints * (1 + ports.length); // A leaf + one SRV per named port, per ready address
      arpaKeys += endpoints;
    } else {
      clusterIpServices++;
      svcKeys += 1 + ports.length; // A leaf + one SRV per named port
      arpaKeys += 1;
    }
  }
  for (let j = 0; j < s.pods; j++) {
    const i = j % s.services;
    const ip = podIp(j);
    items.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `svc-${i}-${Math.floor(j / s.services)}`, namespace: `ns${i % s.namespaces}`, labels: { app: `svc-${i}` } },
      spec: {
        nodeName: `node-${j % 100}`,
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', ports: [{ containerPort: 80, name: 'http' }] }],
      },
      status: {
        phase: 'Running',
        hostIP: `192.168.0.${1 + (j % 100)}`,
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
  }
  return {
    objects: items,
    expected: {
      svcKeys,
      podKeys: podRecords ? s.pods : 0,
      arpaKeys: legacy ? 0 : arpaKeys,
      clusterIpServices,
      headlessServices,
      namedPorts,
    },
  };
}
