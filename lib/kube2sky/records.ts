/**
 * kube2sky record generation: API objects → the etcd keys and values the
 * legacy kube2sky 1.14 wrote (docs/kube2sky.md §2), plus the documented
 * extensions. Pure functions: (object, domain, options) → desired records.
 */
import { encodeRecord, hashLabel } from '../msg/record.js';
import { formatIPv6, nameToKey, parseIP, reverseName } from '../msg/path.js';
import type { Endpoints, Pod, Service } from './types.js';

export const HOSTNAMES_MAP_ANNOTATION = 'endpoints.beta.kubernetes.io/hostnames-map';
export const DNS_SCHEMA_VERSION = '1.1.0';

export interface RecordOptions {
  /** Cluster domain, lower-case, with trailing dot (e.g. `cluster.local.`). */
  domain: string;
  /** Byte-identical legacy output: no PTR, ExternalName, notReady publishing, dns-version, endpoint hostname field. */
  legacy: boolean;
}

/** Desired etcd records of one object: key → value. */
export type Records = Map<string, string>;

/** A problem with an object; the offending part is skipped, the rest written. */
export interface Problem {
  object: string;
  message: string;
}

export interface Generated {
  records: Records;
  problems: Problem[];
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** The A-type value (also used for pods and endpoints). */
export function addressValue(ip: string): string {
  return encodeRecord({ host: ip, priority: 10, weight: 10, ttl: 30 });
}

/** The SRV-type value pointing at `host` (a FQDN with trailing dot). */
export function srvValue(host: string, port: number): string {
  return encodeRecord({ host, port, priority: 10, weight: 10, ttl: 30 });
}

export function normaliseDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.+$/, '');
  return d + '.';
}

/** `<name>.<ns>.svc.<domain>` with trailing dot. */
export function serviceFqdn(name: string, ns: string, domain: string): string {
  return `${name}.${ns}.svc.${domain}`;
}

function objName(o: { metadata?: { name?: string; namespace?: string } }): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** Longest port name whose SRV label `_<name>` still fits DNS's 63-byte label limit. */
export const MAX_SRV_PORT_NAME = 62;

/**
 * The `_<port>._<proto>` labels of a named port, or null (no SRV) with a problem. The API
 * allows service and endpoint port names of up to 63 characters (DNS-1123 labels), but
 * `_` + 63 characters is a 64-byte label no resolver can ask for; a name that is no DNS-1123
 * label at all (an API server that does not validate) would break the key apart.
 */
function portLabels(port: { name?: string; protocol?: string }, obj: string, problems: Problem[]): string | null {
  if (!port.name) return null;
  const name = port.name.toLowerCase();
  const bad = !isDns1123Label(name)
    ? 'is not a DNS-1123 label'
    : name.length > MAX_SRV_PORT_NAME
      ? `is ${name.length} characters: the SRV label "_${name}" would be ${name.length + 1} bytes, over DNS's 63`
      : '';
  if (bad) {
    problems.push({ object: obj, message: `port name ${JSON.stringify(port.name)} ${bad}; no SRV record for it` });
    return null;
  }
  if (!port.protocol) {
    problems.push({ object: obj, message: `port "${port.name}" has a name but no protocol; no SRV record for it` });
    return null;
  }
  return `_${name}._${port.protocol.toLowerCase()}`;
}

function validPort(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536;
}

function put(out: Records, name: string, value: string): void {
  out.set(nameToKey(name), value);
}

/**
 * The one spelling kube2sky writes for an IP literal, or null if it is not one. Names and
 * keys (pod labels, hash labels of the value, PTR keys) are built from this text, so an
 * address must always give the same text: an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`,
 * as dual-stack sockets report IPv4 peers) becomes its IPv4 address, which skydns answers
 * with an A record anyway; other IPv6 addresses take their RFC 5952 form (lower case, the
 * longest run of zero groups as `::`), which has no dotted tail to put a dot into a label.
 */
export function canonicalIP(s: string): string | null {
  const p = parseIP(s);
  if (!p) return null;
  return p.family === 4 ? Array.from(p.bytes).join('.') : formatIPv6(p.bytes);
}

/** PTR record key for an address, or null if it is not an IP. */
export function ptrKey(ip: string): string | null {
  const r = reverseName(ip);
  return r ? nameToKey(r) : null;
}

/** What a service's builder writes into: its name, the object named in problems, the options, and the result. */
interface ServiceCtx {
  /** `<name>.<ns>.svc.<domain>.` */
  fq: string;
  obj: string;
  opts: RecordOptions;
  records: Records;
  problems: Problem[];
}

type ServiceSpec = NonNullable<Service['spec']>;

/**
 * Records of a Service, given its Endpoints (used only for headless
 * services): the name checked here, then one builder per kind of service —
 * ExternalName, with a cluster IP, headless.
 */
export function serviceRecords(svc: Service, endpoints: Endpoints | null, opts: RecordOptions): Generated {
  const records: Records = new Map();
  const problems: Problem[] = [];
  const obj = `service ${objName(svc)}`;
  const name = svc.metadata?.name ?? '';
  const ns = svc.metadata?.namespace ?? '';
  if (!isDns1123Label(name) || !isDns1123Label(ns)) {
    problems.push({ object: obj, message: `name or namespace is not a DNS-1123 label; no records` });
    return { records, problems };
  }
  const ctx: ServiceCtx = { fq: serviceFqdn(name, ns, opts.domain), obj, opts, records, problems };
  const spec = svc.spec ?? {};
  const clusterIP = spec.clusterIP ?? '';
  if (spec.type === 'ExternalName') externalNameRecords(spec, ctx);
  else if (clusterIP !== '' && clusterIP !== 'None') clusterIPRecords(spec, ctx);
  else if (endpoints) headlessRecords(spec, endpoints, ctx);
  return { records, problems };
}

/** An ExternalName service: one CNAME-type record at the service's own key (none in legacy mode). */
function externalNameRecords(spec: ServiceSpec, { fq, obj, opts, records, problems }: ServiceCtx): void {
  if (opts.legacy) return;
  const target = (spec.externalName ?? '').trim().toLowerCase().replace(/\.$/, '');
  if (target === '' || parseIP(target) || !target.split('.').every((l) => isDns1123Label(l))) {
    problems.push({ object: obj, message: `externalName ${JSON.stringify(spec.externalName ?? '')} is not a DNS name; no records` });
    return;
  }
  // At the service's own key, nothing below it (as kube-dns 1.14 stored it): skydns
  // answers a CNAME question by exact lookup, so the record must be the name's own.
  put(records, fq, encodeRecord({ host: target + '.', priority: 10, weight: 10, ttl: 30 }));
}

/** A service with cluster IPs: per IP an A leaf, SRV leaves for its named ports, and (unless legacy) a PTR. */
function clusterIPRecords(spec: ServiceSpec, { fq, obj, opts, records, problems }: ServiceCtx): void {
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : [spec.clusterIP ?? ''];
  // Once per service: a bad port is reported once, not once per cluster IP.
  const srvPorts: Array<{ labels: string; port: number }> = [];
  for (const port of spec.ports ?? []) {
    const pl = portLabels(port, obj, problems);
    if (!pl) continue;
    if (!validPort(port.port)) {
      problems.push({ object: obj, message: `port "${port.name}" has no valid port number; no SRV record for it` });
      continue;
    }
    srvPorts.push({ labels: pl, port: port.port });
  }
  let first = true;
  for (const raw of ips) {
    const ip = canonicalIP(raw);
    if (!ip) {
      problems.push({ object: obj, message: `cluster IP ${JSON.stringify(raw)} is not an IP address; skipped` });
      continue;
    }
    if (!first && opts.legacy) break;
    const value = addressValue(ip);
    const label = hashLabel(value);
    put(records, `${label}.${fq}`, value);
    for (const p of srvPorts) put(records, `${label}.${p.labels}.${fq}`, srvValue(fq, p.port));
    if (!opts.legacy) {
      const k = ptrKey(ip);
      if (k) records.set(k, srvValue(fq, 0));
    }
    first = false;
  }
}

/**
 * A headless service (cluster IP None or empty): records from its endpoint
 * addresses (the ready ones, and the others too with publishNotReadyAddresses
 * unless legacy), labelled by hostname where one is given.
 */
function headlessRecords(spec: ServiceSpec, endpoints: Endpoints, { fq, opts, records, problems }: ServiceCtx): void {
  let hostnames: Record<string, { HostName?: string }> = {};
  const ann = endpoints.metadata?.annotations?.[HOSTNAMES_MAP_ANNOTATION];
  if (ann) {
    try {
      const parsed: unknown = JSON.parse(ann);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      hostnames = parsed as Record<string, { HostName?: string }>;
    } catch (err) {
      problems.push({ object: `endpoints ${objName(endpoints)}`, message: `annotation ${HOSTNAMES_MAP_ANNOTATION} is not valid JSON (${(err as Error).message}); using hash labels` });
    }
  }
  const includeNotReady = !opts.legacy && spec.publishNotReadyAddresses === true;
  const epObj = `endpoints ${objName(endpoints)}`;
  for (const subset of endpoints.subsets ?? []) {
    const addrs = [...(subset.addresses ?? []), ...(includeNotReady ? subset.notReadyAddresses ?? [] : [])];
    // Once per subset: a bad port is reported once, not once per address.
    const srvPorts: Array<{ labels: string; port: number }> = [];
    for (const port of subset.ports ?? []) {
      const pl = portLabels(port, epObj, problems);
      if (pl && validPort(port.port)) srvPorts.push({ labels: pl, port: port.port });
    }
    for (const addr of addrs) {
      const raw = addr.ip ?? '';
      const ip = canonicalIP(raw);
      if (!ip) {
        problems.push({ object: epObj, message: `address ${JSON.stringify(raw)} is not an IP address; skipped` });
        continue;
      }
      const value = addressValue(ip);
      let label = hashLabel(value);
      const fromField = !opts.legacy && addr.hostname && isDns1123Label(addr.hostname) ? addr.hostname : '';
      const entry = hostnames[raw] ?? hostnames[ip];
      const fromMap = entry && typeof entry === 'object' && typeof entry.HostName === 'string' && isDns1123Label(entry.HostName) ? entry.HostName : '';
      if (fromField) label = fromField;
      else if (fromMap) label = fromMap;
      put(records, `${label}.${fq}`, value);
      const target = `${label}.${fq}`;
      for (const p of srvPorts) put(records, `${label}.${p.labels}.${fq}`, srvValue(target, p.port));
      if (!opts.legacy) {
        const k = ptrKey(ip);
        if (k) records.set(k, srvValue(target, 0));
      }
    }
  }
}

/** The pod label of a canonical IP (see canonicalIP): IPv4 dots → dashes; IPv6 colons → dashes. */
export function podLabel(ip: string): string {
  return ip.includes(':') ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-');
}

/** Records of a Pod: one A leaf under `/pod/<ns>/<a-b-c-d>/<hash>` per pod IP. */
export function podRecords(pod: Pod, opts: RecordOptions): Generated {
  const records: Records = new Map();
  const problems: Problem[] = [];
  const ns = pod.metadata?.namespace ?? '';
  const ips = new Set<string>();
  if (pod.status?.podIP) ips.add(pod.status.podIP);
  if (!opts.legacy) for (const p of pod.status?.podIPs ?? []) if (p.ip) ips.add(p.ip);
  if (ips.size === 0) return { records, problems };
  if (!isDns1123Label(ns)) {
    problems.push({ object: `pod ${objName(pod)}`, message: 'namespace is not a DNS-1123 label; no records' });
    return { records, problems };
  }
  const canonical = new Set<string>();
  for (const raw of ips) {
    const ip = canonicalIP(raw);
    if (!ip) {
      problems.push({ object: `pod ${objName(pod)}`, message: `pod IP ${JSON.stringify(raw)} is not an IP address; skipped` });
      continue;
    }
    canonical.add(ip);
  }
  for (const ip of canonical) {
    const value = addressValue(ip);
    put(records, `${hashLabel(value)}.${podLabel(ip)}.${ns}.pod.${opts.domain}`, value);
  }
  return { records, problems };
}

/** The `dns-version.<domain>` TXT record (Kubernetes DNS schema version). */
export function versionRecords(opts: RecordOptions): Records {
  const records: Records = new Map();
  if (!opts.legacy) put(records, `dns-version.${opts.domain}`, encodeRecord({ text: DNS_SCHEMA_VERSION, ttl: 30 }));
  return records;
}

/**
 * Key prefixes kube2sky owns (reconcile deletes anything under them that no API
 * object backs): `svc/`, `pod/`, and — unless legacy — the reverse zones and dns-version.
 */
export function ownedPrefixes(opts: RecordOptions): string[] {
  const base = nameToKey(opts.domain);
  const out = [`${base}/svc/`, `${base}/pod/`];
  if (!opts.legacy) out.push('/skydns/arpa/in-addr/', '/skydns/arpa/ip6/', `${base}/dns-version`);
  return out;
}
