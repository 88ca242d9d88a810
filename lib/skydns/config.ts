/**
 * skydns configuration: the SkyDNS flags (with their environment defaults),
 * the `/<prefix>/config` JSON object merged over them, and SetDefaults.
 */
import { readFileSync } from 'node:fs';
import { FlagDef, FlagError, ParsedFlags, bool, num, parseFlags, str } from '../flags.js';
import { fqdn } from '../msg/path.js';
import { CpuBudget, cpuBudget } from './cpus.js';

export const SKYDNS_VERSION = '2.5.3a';
export const IMPLEMENTATION = 'kube-dns-ts 0.1.0';

export const SKYDNS_FLAGS: readonly FlagDef[] = [
  { name: 'domain', type: 'string', default: 'skydns.local.', env: 'SKYDNS_DOMAIN', usage: 'domain to anchor requests to' },
  { name: 'addr', type: 'string', default: '127.0.0.1:53', env: 'SKYDNS_ADDR', usage: 'ip:port to bind to (UDP and TCP)' },
  { name: 'nameservers', type: 'string', default: '', env: 'SKYDNS_NAMESERVERS', usage: 'nameserver address(es) to forward (non-local) queries to, e.g. 8.8.8.8:53,8.8.4.4:53 (default: the nameserver lines of /etc/resolv.conf)' },
  { name: 'no-rec', type: 'bool', default: false, usage: 'do not provide a recursive service (out-of-zone queries get SERVFAIL)' },
  { name: 'machines', type: 'string', default: 'http://127.0.0.1:2379', env: 'ETCD_MACHINES', usage: 'comma-separated list of etcd endpoint URLs' },
  { name: 'dnssec', type: 'string', default: '', usage: 'basename of a DNSSEC key pair (<base>.key and <base>.private, as dnssec-keygen writes them) to sign the zone with; empty: no DNSSEC' },
  { name: 'local', type: 'string', default: '', usage: 'optional unique value for this skydns instance, answered for local.dns.<domain>' },
  { name: 'tls-key', type: 'string', default: '', env: 'ETCD_TLSKEY', usage: 'client TLS private key file for etcd' },
  { name: 'tls-pem', type: 'string', default: '', env: 'ETCD_TLSPEM', usage: 'client TLS certificate file for etcd' },
  { name: 'ca-cert', type: 'string', default: '', env: 'ETCD_CACERT', usage: 'CA certificate file for etcd TLS' },
  { name: 'username', type: 'string', default: '', env: 'ETCD_USERNAME', usage: 'etcd user name (etcd v3 authentication)' },
  { name: 'password', type: 'string', default: '', env: 'ETCD_PASSWORD', usage: 'etcd password (etcd v3 authentication)' },
  { name: 'rtimeout', type: 'duration', default: '2s', usage: 'read/write timeout of queries sent to upstream nameservers' },
  { name: 'round-robin', type: 'bool', default: true, usage: 'shuffle A and AAAA records' },
  { name: 'ns-rotate', type: 'bool', default: true, usage: 'pick the first upstream nameserver by message ID instead of always the first' },
  { name: 'stubzones', type: 'bool', default: false, usage: 'support stub zones (servers under stub.dns.<domain>)' },
  { name: 'verbose', type: 'bool', default: false, usage: 'log every query' },
  { name: 'systemd', type: 'bool', default: false, env: 'SKYDNS_SYSTEMD', usage: 'bind to sockets activated by systemd (not supported: start-up fails if set)' },
  { name: 'version', type: 'bool', default: false, usage: 'print the version and exit' },
  { name: 'hostmaster', type: 'string', default: 'hostmaster@skydns.local.', usage: 'hostmaster email address for the SOA (default: hostmaster@<domain>)' },
  { name: 'scache', type: 'int', default: 10000, usage: 'capacity of the DNSSEC signature cache (signatures); 0: every answer signed afresh' },
  { name: 'rcache', type: 'int', default: 0, usage: 'capacity of the response cache for forwarded answers (0 disables it)' },
  { name: 'rcache-ttl', type: 'int', default: 60, usage: 'seconds a response cache entry lives; also the TTL of records obtained from upstream lookups' },
  { name: 'ndots', type: 'int', default: 2, env: 'SKYDNS_NDOTS', usage: 'minimum number of labels a name needs before it is forwarded or looked up upstream' },
  { name: 'path-prefix', type: 'string', default: 'skydns', env: 'SKYDNS_PATH_PREFIX', usage: 'first path component of every etcd key' },
  { name: 'etcd3', type: 'bool', default: true, usage: 'use the etcd v3 API (always on: this implementation speaks only v3)' },
  // Beyond SkyDNS:
  { name: 'metrics-addr', type: 'string', default: '', env: 'SKYDNS_METRICS_ADDR', usage: 'ip:port for /metrics, /healthz and /readyz (overrides PROMETHEUS_PORT, which binds all interfaces)' },
  { name: 'tcp-max-conns', type: 'int', default: 1000, usage: 'maximum number of concurrent TCP client connections; when all are taken, a new client takes the slot of the one idle longest (else of the one busy longest)' },
  { name: 'tcp-idle-timeout', type: 'duration', default: '10s', usage: 'close TCP client connections that send no query for this long after their last query or answer' },
  { name: 'tcp-io-timeout', type: 'duration', default: '3s', usage: 'close TCP client connections whose query is not whole this long after its first byte' },
  { name: 'max-forwards', type: 'int', default: 1000, usage: 'upstream exchanges (forwarded and stub-zone queries, lookups of out-of-zone CNAME targets) outstanding at once in each server process; beyond it a forwarded query gets REFUSED at once (0: no bound)' },
  { name: 'answer-cache', type: 'int', default: 50000, usage: 'capacity (entries) of the cache of encoded authoritative answers; an etcd change drops exactly the answers it can alter, and a question is kept the second time it is asked (0 disables it)' },
  { name: 'udp-max-payload', type: 'int', default: 1232, usage: 'the EDNS0 UDP payload size skydns advertises and the most a UDP reply carries (a client\'s larger buffer is not used beyond it; a longer answer is truncated, TC set): 512–65507' },
  { name: 'udp-io', type: 'string', default: 'auto', env: 'SKYDNS_UDP_IO', usage: 'UDP socket I/O: "batch" (many datagrams per system call, through native/udpio.node), "dgram" (Node\'s dgram, one per call) or "auto" (batch when the module is built and loads, else dgram)' },
  { name: 'workers', type: 'string', default: '1', env: 'SKYDNS_WORKERS', usage: 'server processes sharing the DNS sockets, or "auto": one per CPU the process may use (its cgroup CPU quota, else the CPU count); each holds its own copy of the records' },
];

export interface SkyConfig {
  domain: string;
  dnsAddr: string;
  host: string;
  port: number;
  nameservers: string[];
  noRec: boolean;
  machines: string[];
  local: string;
  tlsKey: string;
  tlsPem: string;
  caCert: string;
  username: string;
  password: string;
  readTimeoutMs: number;
  roundRobin: boolean;
  nsRotate: boolean;
  stubzones: boolean;
  verbose: boolean;
  hostmaster: string;
  ttl: number;
  minTtl: number;
  priority: number;
  rcache: number;
  rcacheTtl: number;
  ndots: number;
  prefix: string;
  metricsAddr: string;
  tcpMaxConns: number;
  tcpIdleMs: number;
  tcpIoMs: number;
  answerCacheSize: number;
  /** -udp-max-payload: advertised EDNS0 size and the cap of every UDP reply. */
  udpMaxPayload: number;
  /** Upstream exchanges outstanding at once (-max-forwards; 0: no bound; absent: the default). */
  maxForwards?: number;
  /** UDP socket I/O: batched through the native module, Node's dgram, or the first that works. */
  udpIo: 'auto' | 'batch' | 'dgram';
  workers: number;
  /** How the worker count was chosen (for the start-up log), when -workers=auto. */
  workersSource?: string;
  /** -dnssec: base name of the key pair to sign with ('' = no DNSSEC); spaces read as '+'. */
  dnssec: string;
  /** -scache: capacity of the signature cache (0: none). */
  scache: number;
}

/** Splits "ip:port" (IPv6 in brackets) strictly, as SkyDNS validates -addr and -nameservers. */
export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:\[\]]*):(\d+)$/.exec(s);
  if (!m) throw new FlagError(`"${s}" is not an ip:port address`);
  const host = m[1];
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw new FlagError(`"${s}": port must be 1-65535`);
  if (!isIPLiteral(host)) throw new FlagError(`"${s}": "${host}" is not an IP address`);
  return { host, port };
}

function isIPLiteral(h: string): boolean {
  return /^(\d{1,3}\.){3}\d{1,3}$/.test(h) ? h.split('.').every((p) => Number(p) <= 255) : /^[0-9a-fA-F:.]+$/.test(h) && h.includes(':');
}

/** The `nameserver` lines of a resolv.conf, as ip:53 (IPv6 in brackets). Missing file → []. */
export function resolvConfNameservers(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1].replace(/%.*$/, '');
    if (!isIPLiteral(ip)) continue;
    out.push(ip.includes(':') ? `[${ip}]:53` : `${ip}:53`);
  }
  return out;
}

export function configFromFlags(p: ParsedFlags): SkyConfig {
  const dnsAddr = str(p, 'addr');
  const { host, port } = splitHostPort(dnsAddr);
  const nameservers = str(p, 'nameservers').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const ns of nameservers) splitHostPort(ns);
  const machines = str(p, 'machines').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const m of machines) {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      throw new FlagError(`-machines: "${m}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FlagError(`-machines: "${m}" must be an http:// or https:// URL`);
  }
  if (machines.length === 0) throw new FlagError('-machines: at least one etcd URL is needed');
  const prefix = str(p, 'path-prefix');
  if (prefix === '' || prefix.includes('/')) throw new FlagError(`-path-prefix: "${prefix}" must be a single non-empty path segment`);
  const ndots = num(p, 'ndots');
  const { workers, workersSource } = parseWorkers(str(p, 'workers'));
  const udpIo = str(p, 'udp-io');
  if (udpIo !== 'auto' && udpIo !== 'batch' && udpIo !== 'dgram') throw new FlagError(`-udp-io: "${udpIo}" is not one of auto, batch, dgram`);
  if (num(p, 'answer-cache') < 0) throw new FlagError('-answer-cache must not be negative');
  const udpMax = num(p, 'udp-max-payload');
  if (udpMax < 512 || udpMax > 65507) throw new FlagError(`-udp-max-payload: ${udpMax} is outside 512–65507`);
  if (num(p, 'max-forwards') < 0) throw new FlagError('-max-forwards must not be negative');
  if (num(p, 'tcp-max-conns') < 1) throw new FlagError('-tcp-max-conns must be at least 1');
  for (const f of ['tcp-idle-timeout', 'tcp-io-timeout']) if (num(p, f) <= 0) throw new FlagError(`-${f} must be longer than 0`);
  return {
    domain: str(p, 'domain'),
    dnsAddr,
    host,
    port,
    nameservers,
    noRec: bool(p, 'no-rec'),
    machines,
    local: str(p, 'local'),
    tlsKey: str(p, 'tls-key'),
    tlsPem: str(p, 'tls-pem'),
    caCert: str(p, 'ca-cert'),
    username: str(p, 'username'),
    password: str(p, 'password'),
    readTimeoutMs: num(p, 'rtimeout'),
    roundRobin: bool(p, 'round-robin'),
    nsRotate: bool(p, 'ns-rotate'),
    stubzones: bool(p, 'stubzones'),
    verbose: bool(p, 'verbose'),
    hostmaster: p.explicit.has('hostmaster') ? str(p, 'hostmaster') : '',
    ttl: 3600,
    minTtl: 60,
    priority: 10,
    rcache: num(p, 'rcache'),
    rcacheTtl: num(p, 'rcache-ttl'),
    ndots,
    prefix,
    metricsAddr: str(p, 'metrics-addr'),
    tcpMaxConns: num(p, 'tcp-max-conns'),
    tcpIdleMs: num(p, 'tcp-idle-timeout'),
    tcpIoMs: num(p, 'tcp-io-timeout'),
    answerCacheSize: num(p, 'answer-cache'),
    udpMaxPayload: udpMax,
    maxForwards: num(p, 'max-forwards'),
    udpIo,
    workers,
    ...(workersSource !== undefined ? { workersSource } : {}),
    dnssec: str(p, 'dnssec'),
    scache: num(p, 'scache'),
  };
}

/**
 * The configuration the given skydns arguments make, with SkyDNS's defaults
 * applied, environment ignored, then `over` on top (tests and benchmarks).
 * Throws FlagError like the command line does.
 */
export function configFor(args: readonly string[], over: Partial<SkyConfig> = {}): SkyConfig {
  const cfg = configFromFlags(parseFlags(SKYDNS_FLAGS, args, { env: {} }));
  applyDefaults(cfg);
  return { ...cfg, ...over };
}

/** -workers: a count 1..64, or "auto" (the CPUs the process may use, at most 64). */
export function parseWorkers(raw: string, budget: () => CpuBudget = cpuBudget): { workers: number; workersSource?: string } {
  const v = raw.trim();
  if (v === 'auto') {
    const b = budget();
    return { workers: Math.min(64, b.count), workersSource: `auto: ${b.source}` };
  }
  if (!/^[0-9]+$/.test(v)) throw new FlagError(`-workers: "${raw}" is neither a number nor "auto"`);
  const n = Number(v);
  if (n < 1 || n > 64) throw new FlagError(`-workers: ${n} is out of range 1..64`);
  return { workers: n };
}

export class ConfigObjectError extends Error {}

type Kind = 'string' | 'bool' | 'int' | 'strings';
/** JSON keys of /skydns/config (Go field names matched case-insensitively). */
const CONFIG_KEYS: Record<string, [keyof SkyConfig | null, Kind]> = {
  dns_addr: ['dnsAddr', 'string'],
  domain: ['domain', 'string'],
  local: ['local', 'string'],
  hostmaster: ['hostmaster', 'string'],
  round_robin: ['roundRobin', 'bool'],
  ns_rotate: ['nsRotate', 'bool'],
  nameservers: ['nameservers', 'strings'],
  no_rec: ['noRec', 'bool'],
  read_timeout: ['readTimeoutMs', 'int'],
  ttl: ['ttl', 'int'],
  min_ttl: ['minTtl', 'int'],
  priority: ['priority', 'int'],
  rcache: ['rcache', 'int'],
  rcache_ttl: ['rcacheTtl', 'int'],
  ndot: ['ndots', 'int'],
  systemd: [null, 'bool'],
  dnssec: ['dnssec', 'string'],
  scache: ['scache', 'int'],
  etcd3: [null, 'bool'],
  version: [null, 'bool'],
};

/** What mergeConfigObject did with each key of the object. */
export interface ConfigMerge {
  /** Keys whose values now override the flags. */
  applied: string[];
  /** Keys skydns does not know or does not support (left alone). */
  ignored: string[];
  /** Keys refused, with the reason (the flag value stays). */
  refused: string[];
}

const MAX_TTL = 2 ** 31 - 1;
const DOMAIN_NAME = /^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;

/** Numbers a config key accepts: [min, max]. */
const INT_RANGE: Partial<Record<keyof SkyConfig, [number, number]>> = {
  readTimeoutMs: [1, 3_600_000],
  ttl: [0, MAX_TTL],
  minTtl: [0, MAX_TTL],
  priority: [0, 65535],
  rcache: [0, 10_000_000],
  scache: [-MAX_TTL, 10_000_000],
  rcacheTtl: [0, MAX_TTL],
  ndots: [0, 127],
};

/** Why value v of key k (of field `field`) cannot be used, or null. */
function configValueProblem(field: keyof SkyConfig, kind: Kind, v: unknown): string | null {
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') return `${JSON.stringify(v)} is not a string`;
      break;
    case 'bool':
      if (typeof v !== 'boolean') return `${JSON.stringify(v)} is not a bool`;
      break;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `${JSON.stringify(v)} is not an integer`;
      break;
    case 'strings':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return `${JSON.stringify(v)} is not a list of strings`;
      break;
  }
  const range = INT_RANGE[field];
  if (range) {
    const n = field === 'readTimeoutMs' ? (v as number) / 1e6 : (v as number);
    if (n < range[0] || n > range[1]) return `${v} is out of range ${field === 'readTimeoutMs' ? `${range[0] * 1e6}..${range[1] * 1e6} (nanoseconds)` : `${range[0]}..${range[1]}`}`;
  }
  try {
    if (field === 'dnsAddr' && v !== '') splitHostPort(v as string);
    if (field === 'nameservers') for (const ns of v as string[]) splitHostPort(ns);
  } catch (err) {
    return (err as Error).message;
  }
  if ((field === 'domain' || field === 'local') && v !== '' && !DOMAIN_NAME.test(v as string)) return `${JSON.stringify(v)} is not a domain name`;
  if (field === 'hostmaster' && v !== '' && !DOMAIN_NAME.test((v as string).replace('@', '.'))) return `${JSON.stringify(v)} is not a mailbox (user@domain)`;
  return null;
}

/**
 * Merges the `/<prefix>/config` JSON object over the flag values, key by key:
 * a key with a usable value overrides its flag, an absent or null key keeps
 * the flag value, an unknown key is ignored, and a key whose value is of the
 * wrong type, out of range or not an address/name is refused (its flag value
 * stays). What is applied is exactly what the returned lists say. Throws
 * ConfigObjectError only when the value is not a JSON object at all.
 */
export function mergeConfigObject(cfg: SkyConfig, json: string): ConfigMerge {
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch (err) {
    throw new ConfigObjectError(`config object is not valid JSON: ${(err as Error).message}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigObjectError('config object is not a JSON object');
  const out: ConfigMerge = { applied: [], ignored: [], refused: [] };
  const target = cfg as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const spec = CONFIG_KEYS[k.toLowerCase()];
    const field = spec?.[0];
    if (!spec || !field) {
      out.ignored.push(k);
      continue;
    }
    if (v === null) continue;
    const problem = configValueProblem(field, spec[1], v);
    if (problem) {
      out.refused.push(`${k}: ${problem}`);
      continue;
    }
    if (field === 'readTimeoutMs') target[field] = (v as number) / 1e6; // Go Duration: nanoseconds
    else target[field] = v;
    out.applied.push(k);
  }
  return out;
}

/** SkyDNS SetDefaults plus normalisation; call after flags and the config object are merged. */
export function applyDefaults(cfg: SkyConfig): void {
  if (!cfg.readTimeoutMs) cfg.readTimeoutMs = 2000;
  if (!cfg.dnsAddr) cfg.dnsAddr = '127.0.0.1:53';
  const hp = splitHostPort(cfg.dnsAddr);
  cfg.host = hp.host;
  cfg.port = hp.port;
  if (!cfg.domain) cfg.domain = 'skydns.local.';
  cfg.domain = fqdn(cfg.domain.toLowerCase());
  if (!cfg.hostmaster) cfg.hostmaster = `hostmaster@${cfg.domain}`;
  cfg.hostmaster = fqdn(cfg.hostmaster.replace('@', '.'));
  if (!cfg.minTtl) cfg.minTtl = 60;
  if (!cfg.ttl) cfg.ttl = 3600;
  if (!cfg.priority) cfg.priority = 10;
  if (cfg.rcache < 0) cfg.rcache = 0;
  // Form encoding once turned the key name's '+' into spaces (SkyDNS turns them back).
  cfg.dnssec = cfg.dnssec.trim().replace(/ /g, '+');
  if (cfg.scache < 0) cfg.scache = 0;
  if (!cfg.rcacheTtl) cfg.rcacheTtl = 60;
  if (cfg.ndots <= 0) cfg.ndots = 2;
  for (const ns of cfg.nameservers) splitHostPort(ns);
  if (cfg.nameservers.length === 0) cfg.nameservers = resolvConfNameservers();
  if (cfg.local) cfg.local = fqdn(cfg.local);
}
