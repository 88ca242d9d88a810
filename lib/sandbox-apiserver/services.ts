/**
 * Service defaulting and the allocation of cluster IPs (from the service
 * CIDR(s)) and node ports, with the real server's error messages.
 */
import { type FieldError, internalError, invalid, invalidValue } from './errors.js';
import { Cidr, IpAllocator, RangeAllocator, formatIp, parseIp, type IpFamily } from './ipalloc.js';
import { deepEqual } from './json.js';
import type { Service, ServicePort } from './types.js';

export interface Reservation {
  /** Makes the change final (releases what the old object held). */
  commit(): void;
  /** Undoes every allocation made for this change. */
  rollback(): void;
}

export const NO_RESERVATION: Reservation = { commit: () => undefined, rollback: () => undefined };

const familyName = (f: IpFamily): string => (f === 4 ? 'IPv4' : 'IPv6');
const needsClusterIp = (s: Service): boolean => (s.spec?.type ?? 'ClusterIP') !== 'ExternalName' && s.spec?.clusterIP !== 'None';
const needsNodePorts = (s: Service): boolean => s.spec?.type === 'NodePort' || s.spec?.type === 'LoadBalancer';

/** Fills in what the real server defaults (mutates `svc`). On update, keeps allocated values the body omits. */
export function defaultService(svc: Service, old?: Service): void {
  const spec = (svc.spec ??= {});
  spec.type ??= 'ClusterIP';
  const ext = spec.type === 'ExternalName';
  if (old?.spec) {
    const o = old.spec;
    const bothNeedIp = needsClusterIp(old) && (spec.type ?? 'ClusterIP') !== 'ExternalName';
    if (bothNeedIp && (spec.clusterIP === undefined || spec.clusterIP === '') && (spec.clusterIPs === undefined || spec.clusterIPs.length === 0)) {
      spec.clusterIP = o.clusterIP;
      spec.clusterIPs = o.clusterIPs;
      spec.ipFamilies ??= o.ipFamilies;
      spec.ipFamilyPolicy ??= o.ipFamilyPolicy;
    }
    if (ext && (o.type ?? 'ClusterIP') !== 'ExternalName' && (spec.clusterIP === o.clusterIP || !spec.clusterIP)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
      delete spec.ipFamilies;
      delete spec.ipFamilyPolicy;
    }
    if (needsNodePorts(svc) && needsNodePorts(old)) {
      for (const p of spec.ports ?? []) {
        if (p.nodePort) continue;
        const prev = (o.ports ?? []).find((q) => q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        if (prev?.nodePort) p.nodePort = prev.nodePort;
      }
    } else if (!needsNodePorts(svc)) {
      for (const p of spec.ports ?? []) {
        const prev = (o.ports ?? []).find((q) => q.port === p.port);
        if (p.nodePort !== undefined && prev?.nodePort === p.nodePort) delete p.nodePort;
      }
    }
  }
  if ((spec.clusterIP === undefined || spec.clusterIP === '') && spec.clusterIPs && spec.clusterIPs.length > 0) spec.clusterIP = spec.clusterIPs[0];
  if (spec.clusterIP === '') delete spec.clusterIP;
  if (spec.clusterIPs && spec.clusterIPs.length === 0) delete spec.clusterIPs;
  spec.sessionAffinity ??= 'None';
  spec.ports = spec.ports?.map((p): ServicePort => {
    const q: ServicePort = { ...p, protocol: p.protocol || 'TCP' };
    if (q.targetPort === undefined || q.targetPort === 0 || q.targetPort === '') q.targetPort = q.port;
    return q;
  });
  if (spec.ports === undefined) delete spec.ports;
  if (!ext) spec.internalTrafficPolicy ??= 'Cluster';
  if (needsNodePorts(svc)) spec.externalTrafficPolicy ??= 'Cluster';
  svc.status ??= { loadBalancer: {} };
}

export interface ServiceIpamOptions {
  /** One CIDR, or an IPv4 and an IPv6 CIDR separated by a comma. */
  serviceCidr: string;
  /** Node port range, inclusive. */
  nodePorts?: readonly [number, number];
}

export class ServiceIpam {
  readonly cidrs: Cidr[];
  private readonly ips = new Map<IpFamily, IpAllocator>();
  private readonly nodePorts: RangeAllocator;
  private readonly nodePortRange: readonly [number, number];

  constructor(opts: ServiceIpamOptions) {
    this.cidrs = opts.serviceCidr.split(',').map((c) => Cidr.parse(c));
    if (this.cidrs.length === 0 || this.cidrs.length > 2 || (this.cidrs.length === 2 && this.cidrs[0].family === this.cidrs[1].family)) {
      throw new Error(`invalid service CIDR "${opts.serviceCidr}": want one CIDR or one IPv4 and one IPv6 CIDR`);
    }
    for (const c of this.cidrs) this.ips.set(c.family, new IpAllocator(c, { reserveFirst: true }));
    this.nodePortRange = opts.nodePorts ?? [30000, 32767];
    this.nodePorts = new RangeAllocator(BigInt(this.nodePortRange[0]), BigInt(this.nodePortRange[1]));
  }

  get primaryFamily(): IpFamily {
    return this.cidrs[0].family;
  }

  /** The first address of the primary CIDR (the `kubernetes` service). */
  firstIp(): string {
    return formatIp(this.cidrs[0].nth(1n));
  }

  allocatedIps(family: IpFamily = this.primaryFamily): number {
    return this.ips.get(family)?.allocatedCount ?? 0;
  }

  /**
   * Allocates what `svc` needs (mutating it: clusterIP, clusterIPs,
   * ipFamilies, ipFamilyPolicy, nodePorts), given what `old` already holds.
   * Throws 422/500 Status errors.
   */
  reserve(svc: Service, old?: Service): Reservation {
    const undo: Array<() => void> = [];
    const releaseLater: Array<() => void> = [];
    try {
      this.reserveIps(svc, old, undo, releaseLater);
      this.reservePorts(svc, old, undo, releaseLater);
    } catch (err) {
      for (const u of undo.reverse()) u();
      throw err;
    }
    return {
      commit: () => releaseLater.forEach((r) => r()),
      rollback: () => undo.reverse().forEach((u) => u()),
    };
  }

  /** Frees everything a deleted service held. */
  release(svc: Service): void {
    if (needsClusterIp(svc)) for (const ip of svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])) this.releaseIp(ip);
    for (const p of svc.spec?.ports ?? []) if (p.nodePort) this.nodePorts.release(BigInt(p.nodePort));
  }

  private releaseIp(ip: string): void {
    const p = parseIp(ip);
    if (p) this.ips.get(p.family)?.release(ip);
  }

  private reserveIps(svc: Service, old: Service | undefined, undo: Array<() => void>, releaseLater: Array<() => void>): void {
    const spec = svc.spec ?? {};
    const name = svc.metadata.name ?? '';
    const oldIps = old && needsClusterIp(old) ? (old.spec?.clusterIPs ?? (old.spec?.clusterIP ? [old.spec.clusterIP] : [])) : [];
    if (!needsClusterIp(svc)) {
      if (spec.clusterIP === 'None' && oldIps.length > 0) {
        throw invalid('Service', name, [invalidValue('spec.clusterIPs[0]', spec.clusterIPs ?? ['None'], 'may not change once set')]);
      }
      if (spec.clusterIP === 'None') {
        spec.clusterIPs = ['None'];
        spec.ipFamilies ??= [familyName(this.primaryFamily)];
        spec.ipFamilyPolicy ??= 'SingleStack';
      }
      for (const ip of oldIps) releaseLater.push(() => this.releaseIp(ip));
      return;
    }
    if (old && oldIps.length > 0) {
      const now = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
      if (!deepEqual(now.slice(0, 1), oldIps.slice(0, 1))) {
        throw invalid('Service', name, [invalidValue('spec.clusterIPs[0]', now, 'may not change once set')]);
      }
      spec.clusterIP = oldIps[0];
      spec.clusterIPs = spec.clusterIPs ?? oldIps;
      return;
    }
    const errs: FieldError[] = [];
    const families = this.wantedFamilies(svc, errs);
    if (errs.length) throw invalid('Service', name, errs);
    const got: string[] = [];
    const requested = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    families.forEach((fam, i) => {
      const alloc = this.ips.get(fam) as IpAllocator;
      const want = requested[i];
      if (want) {
        const r = alloc.allocate(want);
        if (r === 'ok') {
          undo.push(() => alloc.release(want));
          got.push(want);
          return;
        }
        const why =
          r === 'taken'
            ? 'provided IP is already allocated'
            : `the provided IP (${want}) is not in the valid range. The range of valid IPs is ${alloc.cidr.toString()}`;
        throw invalid('Service', name, [invalidValue('spec.clusterIPs', requested, `failed to allocate IP ${want}: ${why}`)]);
      }
      const ip = alloc.allocateNext();
      if (ip === null) throw internalError('failed to allocate a serviceIP: range is full');
      undo.push(() => alloc.release(ip));
      got.push(ip);
    });
    spec.clusterIP = got[0];
    spec.clusterIPs = got;
    spec.ipFamilies = families.map(familyName);
    spec.ipFamilyPolicy ??= 'SingleStack';
  }

  private wantedFamilies(svc: Service, errs: FieldError[]): IpFamily[] {
    const spec = svc.spec ?? {};
    const requested = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    let fams: IpFamily[];
    if (spec.ipFamilies && spec.ipFamilies.length > 0) fams = spec.ipFamilies.map((f) => (f === 'IPv6' ? 6 : 4));
    else if (requested.length > 0) fams = requested.map((ip) => parseIp(ip)?.family ?? this.primaryFamily);
    else fams = [this.primaryFamily];
    const policy = spec.ipFamilyPolicy ?? 'SingleStack';
    if (policy !== 'SingleStack' && fams.length === 1 && this.cidrs.length === 2) {
      fams.push(fams[0] === 4 ? 6 : 4);
    }
    if (policy === 'SingleStack' && fams.length > 1) {
      errs.push(invalidValue('spec.ipFamilyPolicy', policy, 'must be RequireDualStack or PreferDualStack when multiple IP families are specified'));
    }
    if (policy === 'RequireDualStack' && this.cidrs.length < 2) {
      errs.push(invalidValue('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'));
    }
    fams.forEach((f, i) => {
      if (!this.ips.has(f)) {
        if (policy === 'PreferDualStack' && i > 0) return;
        errs.push(invalidValue(`spec.ipFamilies[${i}]`, familyName(f), 'not configured on this cluster'));
      }
    });
    requested.forEach((ip, i) => {
      const p = parseIp(ip);
      if (p && fams[i] !== undefined && p.family !== fams[i]) {
        errs.push(invalidValue(`spec.clusterIPs[${i}]`, requested, `expected an ${familyName(fams[i])} value as indicated by \`ipFamilies[${i}]\``));
      }
    });
    return fams.filter((f, i) => this.ips.has(f) || i === 0);
  }

  private reservePorts(svc: Service, old: Service | undefined, undo: Array<() => void>, releaseLater: Array<() => void>): void {
    const name = svc.metadata.name ?? '';
    const held = new Set<number>();
    if (old && needsNodePorts(old)) for (const p of old.spec?.ports ?? []) if (p.nodePort) held.add(p.nodePort);
    const keep = new Set<number>();
    if (needsNodePorts(svc)) {
      const ports = svc.spec?.ports ?? [];
      ports.forEach((p, i) => {
        if (p.nodePort) {
          if (held.has(p.nodePort) || keep.has(p.nodePort)) {
            keep.add(p.nodePort);
            return;
          }
          const r = this.nodePorts.allocate(BigInt(p.nodePort));
          if (r !== 'ok') {
            const why =
              r === 'taken'
                ? 'provided port is already allocated'
                : `provided port is not in the valid range. The range of valid ports is ${this.nodePortRange[0]}-${this.nodePortRange[1]}`;
            throw invalid('Service', name, [invalidValue(`spec.ports[${i}].nodePort`, p.nodePort, why)]);
          }
          const n = BigInt(p.nodePort);
          undo.push(() => this.nodePorts.release(n));
          keep.add(p.nodePort);
          return;
        }
        const v = this.nodePorts.allocateNext();
        if (v === null) throw internalError('failed to allocate a nodePort: range is full');
        undo.push(() => this.nodePorts.release(v));
        p.nodePort = Number(v);
        keep.add(p.nodePort);
      });
    }
    for (const h of held) if (!keep.has(h)) releaseLater.push(() => this.nodePorts.release(BigInt(h)));
  }
}
