/**
 * What the EndpointSlice controllers want a service's discovery.k8s.io/v1
 * EndpointSlices to hold, as pure functions, with the rules of the real ones
 * (kube-controller-manager's endpointslice and endpointslicemirroring
 * controllers):
 *
 *   - a service with a selector: one endpoint per eligible pod and address
 *     family of the service (terminating pods included, with their
 *     conditions), grouped by the ports the pod resolves; each group packed
 *     into slices of at most 100 endpoints; a service with no endpoints keeps
 *     one empty placeholder slice;
 *   - a service without a selector: the Endpoints its owner wrote, mirrored
 *     (one slice per subset and address family, at most 1,000 addresses in all);
 *   - the plan keeps existing slices and the place of every endpoint in them
 *     where it can, and is written as the real controller writes it: new slices
 *     first, then changed ones, then deletions.
 */
import { isPodReady, podEligible, resolveTargetPort, TOLERATE_UNREADY_ANNOTATION } from './endpoints.js';
import { parseIp } from './ipalloc.js';
import { selectorMatches } from './selectors.js';
import type { EndpointAddress, Endpoints, JsonValue, KubeObject, ObjectMeta, Pod, Service } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
export const MIRROR_CONTROLLER = 'endpointslicemirroring-controller.k8s.io';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** The controller's default --max-endpoints-per-slice. */
export const MAX_ENDPOINTS_PER_SLICE = 100;
/** Addresses the mirroring controller copies at most, per Endpoints object. */
export const MAX_MIRRORED = 1000;

export type AddressType = 'IPv4' | 'IPv6';

export interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace: string; name: string; uid: string };
}

export interface SlicePort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType: AddressType;
  endpoints: SliceEndpoint[];
  ports: SlicePort[];
}

/** One group of endpoints sharing ports and address type, as the slices should hold them. */
interface Group {
  addressType: AddressType;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
}

export interface SlicePlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
}

const groupKey = (addressType: string, ports: readonly SlicePort[]): string => `${addressType}|${JSON.stringify(ports)}`;
const endpointKey = (e: SliceEndpoint): string => `${e.addresses.join(',')}|${e.targetRef?.uid ?? ''}`;

function familiesOf(svc: Service): AddressType[] {
  const fams = (svc.spec?.ipFamilies ?? []).filter((f): f is AddressType => f === 'IPv4' || f === 'IPv6');
  if (fams.length) return fams;
  const ip = svc.spec?.clusterIP ? parseIp(svc.spec.clusterIP) : null;
  return [ip?.family === 6 ? 'IPv6' : 'IPv4'];
}

function addressOf(pod: Pod, type: AddressType): string | undefined {
  const st = pod.status ?? {};
  const all = [...(st.podIP ? [st.podIP] : []), ...(st.podIPs ?? []).map((p) => p.ip)];
  return all.find((ip) => parseIp(ip)?.family === (type === 'IPv6' ? 6 : 4));
}

function selectorOf(svc: Service): Record<string, string> | null {
  const sel = svc.spec?.selector;
  return sel && Object.keys(sel).length > 0 ? sel : null;
}

/** The endpoint groups of a service with a selector, given pods of its namespace (those its selector matches count). */
export function desiredFromPods(svc: Service, pods: readonly Pod[]): Group[] {
  const selector = selectorOf(svc) ?? {};
  const tolerate = svc.spec?.publishNotReadyAddresses === true || svc.metadata.annotations?.[TOLERATE_UNREADY_ANNOTATION] === 'true';
  const groups = new Map<string, Group>();
  for (const type of familiesOf(svc)) {
    for (const pod of pods) {
      if (pod.metadata.namespace !== svc.metadata.namespace || !selectorMatches(selector, pod.metadata.labels)) continue;
      // The slice controller keeps terminating pods (with their conditions); Endpoints does not.
      if (!podEligible(pod, true)) continue;
      const ip = addressOf(pod, type);
      if (!ip) continue;
      const terminating = pod.metadata.deletionTimestamp !== undefined;
      const serving = isPodReady(pod);
      const ep: SliceEndpoint = {
        addresses: [ip],
        conditions: { ready: tolerate || (serving && !terminating), serving, terminating },
      };
      const ps = pod.spec ?? {};
      if (ps.hostname && ps.subdomain === svc.metadata.name) ep.hostname = ps.hostname;
      if (ps.nodeName) ep.nodeName = ps.nodeName;
      ep.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
      const ports: SlicePort[] = [];
      for (const sp of svc.spec?.ports ?? []) {
        const port = resolveTargetPort(pod, sp);
        if (port === undefined) continue;
        const p: SlicePort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
        if (sp.appProtocol) p.appProtocol = sp.appProtocol;
        ports.push(p);
      }
      const k = groupKey(type, ports);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { addressType: type, ports, endpoints: [] }));
      g.endpoints.push(ep);
    }
  }
  return [...groups.values()];
}

/** The endpoint groups mirrored from the Endpoints of a service without a selector. */
export function desiredFromEndpoints(ep: Endpoints | undefined): Group[] {
  const groups = new Map<string, Group>();
  let budget = MAX_MIRRORED;
  for (const subset of ep?.subsets ?? []) {
    const ports: SlicePort[] = (subset.ports ?? []).map((p) => {
      const out: SlicePort = { name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' };
      if (p.appProtocol) out.appProtocol = p.appProtocol;
      return out;
    });
    const add = (a: EndpointAddress, ready: boolean): void => {
      const fam = parseIp(a.ip)?.family;
      if (fam === undefined || budget <= 0) return;
      budget--;
      const type: AddressType = fam === 6 ? 'IPv6' : 'IPv4';
      const e: SliceEndpoint = { addresses: [a.ip], conditions: { ready, serving: ready, terminating: false } };
      if (a.hostname) e.hostname = a.hostname;
      if (a.nodeName) e.nodeName = a.nodeName;
      if (a.targetRef) e.targetRef = { ...a.targetRef };
      const k = groupKey(type, ports);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { addressType: type, ports, endpoints: [] }));
      g.endpoints.push(e);
    };
    for (const a of subset.addresses ?? []) add(a, true);
    for (const a of subset.notReadyAddresses ?? []) add(a, false);
  }
  return [...groups.values()];
}

/** Labels of a service's slices: the service's own (for slices it manages), the service name, the manager, the headless mark. */
function sliceLabels(svc: Service, manager: string): Record<string, string> {
  const labels: Record<string, string> = manager === SLICE_CONTROLLER ? { ...(svc.metadata.labels ?? {}) } : {};
  delete labels[HEADLESS_LABEL];
  labels[SERVICE_NAME_LABEL] = svc.metadata.name ?? '';
  labels[MANAGED_BY_LABEL] = manager;
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  return labels;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The writes that bring a service's slices from `existing` (the slices this
 * controller manages for it) to what the service wants. `newName()` names a
 * new slice (the real controller: generateName `<service>-`). A null service
 * (deleted) deletes every slice.
 */
export function planSlices(svc: Service | null, pods: readonly Pod[], endpoints: Endpoints | undefined, existing: readonly EndpointSlice[], newName: () => string): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], delete: [] };
  if (svc === null || (svc.spec?.type ?? 'ClusterIP') === 'ExternalName') {
    plan.delete.push(...existing);
    return plan;
  }
  const selector = selectorOf(svc);
  const manager = selector ? SLICE_CONTROLLER : MIRROR_CONTROLLER;
  const groups = selector ? desiredFromPods(svc, pods) : desiredFromEndpoints(endpoints);
  const ns = svc.metadata.namespace ?? '';
  const name = svc.metadata.name ?? '';
  const labels = sliceLabels(svc, manager);
  const owner: JsonValue[] = [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
  const meta = (base: ObjectMeta): ObjectMeta => ({ ...base, namespace: ns, labels, ownerReferences: owner });

  // Existing slices by the group they hold; the desired endpoints of each group by key.
  const byGroup = new Map<string, EndpointSlice[]>();
  for (const s of existing) {
    const k = groupKey(s.addressType, s.ports ?? []);
    let l = byGroup.get(k);
    if (!l) byGroup.set(k, (l = []));
    l.push(s);
  }
  const kept = new Set<EndpointSlice>();
  const changed = new Set<EndpointSlice>();
  const result = new Map<EndpointSlice, SliceEndpoint[]>();
  for (const g of groups) {
    const want = new Map(g.endpoints.map((e) => [endpointKey(e), e]));
    const slices = byGroup.get(groupKey(g.addressType, g.ports)) ?? [];
    const open: Array<{ slice: EndpointSlice; eps: SliceEndpoint[] }> = [];
    const emptied: EndpointSlice[] = [];
    // Endpoints stay in the slice that holds them (updated in place when their conditions change).
    for (const s of slices) {
      const eps: SliceEndpoint[] = [];
      for (const e of s.endpoints ?? []) {
        const k = endpointKey(e);
        const w = want.get(k);
        if (!w) continue;
        want.delete(k);
        eps.push(w);
      }
      if (eps.length === 0) emptied.push(s);
      else open.push({ slice: s, eps });
    }
    // New endpoints fill the fullest open slices first, then slices left empty, then new slices.
    const rest = [...want.values()];
    open.sort((a, b) => b.eps.length - a.eps.length);
    for (const s of emptied) if (rest.length > open.reduce((room, o) => room + MAX_ENDPOINTS_PER_SLICE - o.eps.length, 0)) open.push({ slice: s, eps: [] });
    for (const o of open) {
      while (rest.length && o.eps.length < MAX_ENDPOINTS_PER_SLICE) o.eps.push(rest.shift()!);
      kept.add(o.slice);
      result.set(o.slice, o.eps);
    }
    while (rest.length) {
      const eps = rest.splice(0, MAX_ENDPOINTS_PER_SLICE);
      plan.create.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: meta({ name: newName(), generateName: `${name}-` }),
        addressType: g.addressType,
        endpoints: eps,
        ports: g.ports,
      });
    }
  }
  for (const [s, eps] of result) {
    if (!sameJson(s.endpoints ?? [], eps) || !sameJson(s.metadata.labels ?? {}, labels)) changed.add(s);
  }
  for (const s of changed) {
    plan.update.push({ ...s, metadata: { ...s.metadata, labels, ownerReferences: owner }, endpoints: result.get(s) ?? [] });
  }
  const placeholderNeeded = plan.create.length === 0 && kept.size === 0;
  for (const s of existing) {
    if (kept.has(s)) continue;
    // A service with no endpoints keeps one empty slice (the controller's placeholder): reuse one.
    if (placeholderNeeded && manager === SLICE_CONTROLLER && plan.update.length === 0 && s.addressType === familiesOf(svc)[0]) {
      if ((s.endpoints ?? []).length > 0 || (s.ports ?? []).length > 0 || !sameJson(s.metadata.labels ?? {}, labels)) {
        plan.update.push({ ...s, metadata: { ...s.metadata, labels, ownerReferences: owner }, endpoints: [], ports: [] });
      }
      kept.add(s);
      continue;
    }
    plan.delete.push(s);
  }
  if (placeholderNeeded && manager === SLICE_CONTROLLER && ![...kept].length) {
    plan.create.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: meta({ name: newName(), generateName: `${name}-` }),
      addressType: familiesOf(svc)[0],
      endpoints: [],
      ports: [],
    });
  }
  return plan;
}
