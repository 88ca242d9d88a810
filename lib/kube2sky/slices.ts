/**
 * EndpointSlices (discovery.k8s.io/v1) as kube2sky reads them: every slice of a
 * service, merged into the Endpoints shape that record generation already
 * takes, so that one cluster state gives the same records whichever API they
 * were read from; and the grace an address keeps while it moves between slices.
 *
 * A service's endpoints are spread over any number of slices (at most 100
 * endpoints each by default, one address family each), found by the label
 * `kubernetes.io/service-name`. Each slice becomes one subset: its ready
 * endpoints (`conditions.ready` true or unset, as the API says an unset value
 * means) are the subset's addresses, the others its not-ready addresses (which
 * records.ts publishes only for publishNotReadyAddresses), its ports the
 * subset's ports. FQDN slices carry no addresses DNS can serve and are skipped.
 */
import type { Endpoints, EndpointAddress, EndpointSlice, EndpointSubset } from './types.js';
import type { Records } from './records.js';

/** The label tying a slice to its service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** `<namespace>/<name>` of the service a slice belongs to, or null (no label: not a service's slice). */
export function sliceService(slice: EndpointSlice): string | null {
  const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (typeof svc !== 'string' || svc === '') return null;
  return `${slice.metadata?.namespace ?? ''}/${svc}`;
}

function sliceKey(slice: EndpointSlice): string {
  return `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`;
}

/** One subset per IPv4/IPv6 slice, in slice-name order (so the merge does not depend on event order). */
export function endpointsFromSlices(namespace: string, service: string, slices: readonly EndpointSlice[]): Endpoints {
  const subsets: EndpointSubset[] = [];
  const ordered = [...slices].sort((a, b) => {
    const x = a.metadata?.name ?? '';
    const y = b.metadata?.name ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (const slice of ordered) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const ready: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const ep of Array.isArray(slice.endpoints) ? slice.endpoints : []) {
      const to = ep?.conditions?.ready === false ? notReady : ready;
      for (const ip of Array.isArray(ep?.addresses) ? ep.addresses : []) {
        to.push(typeof ep.hostname === 'string' && ep.hostname !== '' ? { ip, hostname: ep.hostname } : { ip });
      }
    }
    const subset: EndpointSubset = {};
    if (ready.length) subset.addresses = ready;
    if (notReady.length) subset.notReadyAddresses = notReady;
    const ports = Array.isArray(slice.ports) ? slice.ports : [];
    if (ports.length) subset.ports = ports.map((p) => ({ name: p?.name, protocol: p?.protocol, port: p?.port ?? undefined }));
    subsets.push(subset);
  }
  return { metadata: { name: service, namespace }, subsets };
}

/** The slices of every service, kept as slice events arrive. */
export class SliceIndex {
  private readonly byService = new Map<string, Map<string, EndpointSlice>>();
  private readonly owner = new Map<string, string>();

  /** Files a slice (added or changed); returns the services whose endpoints it changed (one, or two when its label moved). */
  upsert(slice: EndpointSlice): string[] {
    const key = sliceKey(slice);
    const svc = sliceService(slice);
    const before = this.owner.get(key);
    const touched: string[] = [];
    if (before !== undefined && before !== svc) {
      this.unfile(before, key);
      touched.push(before);
    }
    if (svc !== null) {
      let m = this.byService.get(svc);
      if (!m) this.byService.set(svc, (m = new Map()));
      m.set(key, slice);
      this.owner.set(key, svc);
      touched.push(svc);
    }
    return touched;
  }

  /** Forgets a deleted slice; returns the service it belonged to (none if it had no service label). */
  remove(slice: EndpointSlice): string[] {
    const key = sliceKey(slice);
    const svc = this.owner.get(key);
    if (svc === undefined) return [];
    this.unfile(svc, key);
    return [svc];
  }

  private unfile(svc: string, key: string): void {
    this.owner.delete(key);
    const m = this.byService.get(svc);
    if (!m) return;
    m.delete(key);
    if (m.size === 0) this.byService.delete(svc);
  }

  /** The service's endpoints merged from its slices, or null when it has none (as a missing Endpoints object). */
  endpoints(namespace: string, service: string): Endpoints | null {
    const m = this.byService.get(`${namespace}/${service}`);
    if (!m) return null;
    return endpointsFromSlices(namespace, service, [...m.values()]);
  }

  /** Every slice filed (for tests and resync). */
  get size(): number {
    return this.owner.size;
  }
}

/**
 * Records an address leaves behind while it moves between slices. The slice
 * controller spreads one change of a service over several slice updates
 * (endpoints moved from one slice to another, a slice replaced by a new one),
 * and between those events an address can be in neither slice. Written as they
 * come, its records would vanish for a moment and come back: a client asking
 * then gets NXDOMAIN for a name that never went away. So a record that leaves
 * a service's desired set because of a slice event stays for `graceMs` more;
 * records that appear are written at once, and a record that comes back
 * within the grace was never removed.
 */
export class RemovalGrace {
  /** What was last written per service, held records included. */
  private readonly written = new Map<string, Records>();
  private readonly held = new Map<string, Map<string, { value: string; until: number }>>();

  constructor(readonly graceMs: number) {}

  /**
   * The records to write for a service whose desired records are `desired`:
   * those, plus every record still in its grace. `hold` (a slice event): records
   * that left the desired set start a grace; otherwise (the service itself
   * changed, a resync) only graces already running are kept.
   * Returns the records and when the earliest grace ends (null: none running).
   */
  apply(service: string, desired: Records, now: number, hold: boolean): { records: Records; recheckAt: number | null } {
    let held = this.held.get(service);
    if (hold && this.graceMs > 0) {
      const prev = this.written.get(service);
      if (prev) {
        for (const [k, v] of prev) {
          if (desired.has(k) || held?.has(k)) continue;
          if (!held) this.held.set(service, (held = new Map()));
          held.set(k, { value: v, until: now + this.graceMs });
        }
      }
    }
    let recheckAt: number | null = null;
    let out = desired;
    if (held) {
      for (const [k, h] of held) if (desired.has(k) || h.until <= now) held.delete(k);
      if (held.size === 0) this.held.delete(service);
      else {
        out = new Map(desired);
        for (const [k, h] of held) {
          out.set(k, h.value);
          if (recheckAt === null || h.until < recheckAt) recheckAt = h.until;
        }
      }
    }
    this.written.set(service, out);
    return { records: out, recheckAt };
  }

  /** The service is gone, or no longer takes its records from endpoints: nothing to hold for it. */
  forget(service: string): void {
    this.written.delete(service);
    this.held.delete(service);
  }

  /** Records held for the service now (for tests). */
  heldKeys(service: string): string[] {
    return [...(this.held.get(service)?.keys() ?? [])];
  }
}
