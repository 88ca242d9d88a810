/**
 * What the endpoints controller wants an Endpoints object to hold, as a pure
 * function of a Service and the Pods of its namespace (the rules of the real
 * controller: pkg/controller/endpoint, including RepackSubsets).
 */
import { parseIp, type IpFamily } from './ipalloc.js';
import { selectorMatches } from './selectors.js';
import type { EndpointAddress, EndpointPort, EndpointSubset, Pod, Service, ServicePort } from './types.js';

/** Label the real controller puts on the Endpoints of headless services. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** Legacy annotation equivalent to spec.publishNotReadyAddresses. */
export const TOLERATE_UNREADY_ANNOTATION = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';

export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Whether a pod belongs in endpoints at all (ShouldPodBeInEndpoints). */
export function podEligible(pod: Pod, includeTerminating: boolean): boolean {
  const st = pod.status ?? {};
  if (!st.podIP && (st.podIPs ?? []).length === 0) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  const policy = pod.spec?.restartPolicy ?? 'Always';
  if (policy === 'Never') return st.phase !== 'Failed' && st.phase !== 'Succeeded';
  if (policy === 'OnFailure') return st.phase !== 'Succeeded';
  return true;
}

/** The pod port a service port targets (FindPort), or undefined if the pod has no such port. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  const proto = sp.protocol ?? 'TCP';
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === proto) return p.containerPort;
  }
  return undefined;
}

function serviceFamily(svc: Service): IpFamily | undefined {
  const fam = svc.spec?.ipFamilies?.[0];
  if (fam === 'IPv4') return 4;
  if (fam === 'IPv6') return 6;
  const ip = svc.spec?.clusterIP ? parseIp(svc.spec.clusterIP) : null;
  return ip?.family;
}

/** The pod address of the service's IP family (the pod's primary address if the service has none). */
function podAddress(pod: Pod, family: IpFamily | undefined): string | undefined {
  const st = pod.status ?? {};
  const all = [...(st.podIP ? [st.podIP] : []), ...(st.podIPs ?? []).map((p) => p.ip)];
  if (family === undefined) return all[0];
  return all.find((ip) => parseIp(ip)?.family === family);
}

function compareIp(a: string, b: string): number {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}

function compareAddr(a: EndpointAddress, b: EndpointAddress): number {
  return compareIp(a.ip, b.ip) || ((a.targetRef?.uid ?? '') < (b.targetRef?.uid ?? '') ? -1 : (a.targetRef?.uid ?? '') > (b.targetRef?.uid ?? '') ? 1 : 0);
}

interface Entry {
  addr: EndpointAddress;
  ready: boolean;
  ports: EndpointPort[];
}

function portKey(p: EndpointPort): string {
  return `${p.name ?? ''}/${p.port}/${p.protocol}/${p.appProtocol ?? ''}`;
}

/**
 * The subsets for `svc` given all pods of its namespace: one address per
 * eligible matching pod (ready or not ready), grouped by identical port sets.
 * Empty for services without a selector (their Endpoints belong to the user).
 */
export function computeSubsets(svc: Service, pods: readonly Pod[]): EndpointSubset[] {
  const spec = svc.spec ?? {};
  const selector = spec.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const tolerate = spec.publishNotReadyAddresses === true || svc.metadata.annotations?.[TOLERATE_UNREADY_ANNOTATION] === 'true';
  const family = serviceFamily(svc);
  const headless = spec.clusterIP === 'None';
  const svcPorts = spec.ports ?? [];
  const entries: Entry[] = [];
  for (const pod of pods) {
    if (pod.metadata.namespace !== svc.metadata.namespace) continue;
    if (!selectorMatches(selector, pod.metadata.labels)) continue;
    if (!podEligible(pod, tolerate)) continue;
    const ip = podAddress(pod, family);
    if (!ip) continue;
    const addr: EndpointAddress = { ip };
    const ps = pod.spec ?? {};
    if (ps.hostname && ps.subdomain === svc.metadata.name) addr.hostname = ps.hostname;
    if (ps.nodeName) addr.nodeName = ps.nodeName;
    addr.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
    const ready = tolerate || isPodReady(pod);
    const ports: EndpointPort[] = [];
    for (const sp of svcPorts) {
      const port = resolveTargetPort(pod, sp);
      if (port === undefined) continue;
      const protocol = sp.protocol ?? 'TCP';
      const ep: EndpointPort = sp.name ? { name: sp.name, port, protocol } : { port, protocol };
      if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
      ports.push(ep);
    }
    if (ports.length === 0 && !(svcPorts.length === 0 && headless)) continue;
    entries.push({ addr, ready, ports });
  }
  return repack(entries);
}

/** RepackSubsets: addresses offering the same set of ports share a subset. */
function repack(entries: Entry[]): EndpointSubset[] {
  // port → addresses offering it
  const byPort = new Map<string, { port: EndpointPort | null; addrs: Map<string, Entry> }>();
  for (const e of entries) {
    const addrKey = `${e.addr.ip}/${e.addr.targetRef?.uid ?? ''}`;
    const ports = e.ports.length ? e.ports : [null];
    for (const p of ports) {
      const k = p ? portKey(p) : '<none>';
      let slot = byPort.get(k);
      if (!slot) byPort.set(k, (slot = { port: p, addrs: new Map() }));
      slot.addrs.set(addrKey, e);
    }
  }
  // address set → ports
  const groups = new Map<string, { entries: Entry[]; ports: EndpointPort[] }>();
  for (const slot of byPort.values()) {
    const key = [...slot.addrs].map(([k, e]) => `${k}:${e.ready ? 'r' : 'n'}`).sort().join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { entries: [...slot.addrs.values()], ports: [] }));
    if (slot.port) g.ports.push(slot.port);
  }
  const subsets: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const ready = g.entries.filter((e) => e.ready).map((e) => e.addr).sort(compareAddr);
    const notReady = g.entries.filter((e) => !e.ready).map((e) => e.addr).sort(compareAddr);
    const s: EndpointSubset = {};
    if (ready.length) s.addresses = ready;
    if (notReady.length) s.notReadyAddresses = notReady;
    if (g.ports.length) s.ports = g.ports;
    subsets.push(s);
  }
  const first = (s: EndpointSubset): string => (s.addresses ?? s.notReadyAddresses ?? [])[0]?.ip ?? '';
  return subsets.sort((a, b) => compareIp(first(a), first(b)) || JSON.stringify(a.ports ?? []).localeCompare(JSON.stringify(b.ports ?? [])));
}

/** Labels of the controller-managed Endpoints: the service's, plus the headless marker. */
export function endpointsLabels(svc: Service): Record<string, string> | undefined {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return Object.keys(labels).length ? labels : undefined;
}

/** Addresses an Endpoints object holds at most (the controller's maxCapacity). */
export const ENDPOINTS_MAX_CAPACITY = 1000;
/** Set on an Endpoints object the controller truncated. */
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';

/**
 * Truncates subsets to `max` addresses in all, as the endpoints controller
 * does: ready addresses are kept before not-ready ones, and what is cut is cut
 * from each subset in proportion to its size (rounded up, so the last subsets
 * give up a little more). Returns whether anything was cut.
 */
export function truncateSubsets(subsets: EndpointSubset[], max = ENDPOINTS_MAX_CAPACITY): boolean {
  let ready = 0;
  let notReady = 0;
  for (const s of subsets) {
    ready += s.addresses?.length ?? 0;
    notReady += s.notReadyAddresses?.length ?? 0;
  }
  if (ready + notReady <= max) return false;
  // Too many ready addresses: share max among them and drop every not-ready one; else keep every ready one.
  const cutReady = ready > max;
  const room = cutReady ? max : max - ready;
  const total = cutReady ? ready : notReady;
  let left = room;
  for (const s of subsets) {
    const have = (cutReady ? s.addresses?.length : s.notReadyAddresses?.length) ?? 0;
    const take = Math.min(left, Math.ceil((have / total) * room));
    if (cutReady) {
      s.addresses = (s.addresses ?? []).slice(0, take);
      delete s.notReadyAddresses;
      left -= s.addresses.length;
      if (s.addresses.length === 0) delete s.addresses;
    } else {
      s.notReadyAddresses = (s.notReadyAddresses ?? []).slice(0, take);
      left -= s.notReadyAddresses.length;
      if (s.notReadyAddresses.length === 0) delete s.notReadyAddresses;
    }
  }
  return true;
}
