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

/** How a /<prefix>/config value is typed in JSON. */
type Kind = 'string' | 'bool' | 'int' | 'strings';

const MAX_TTL = 2 ** 31 - 1;

/**
 * One skydns setting: the SkyConfig field it sets (null: accepted and not
 * kept), its command-line flag (name, type, default, environment variable,
 * help), its key in the `/<prefix>/config` JSON object (Go field names,
 * matched case-insensitively) with the JSON type and the numbers accepted
 * there, and the default as the README shows it when the flag's own default
 * is not what an operator gets.
 */
export interface Setting {
  field: keyof SkyConfig | null;
  flag?: FlagDef;
  json?: string;
  kind?: Kind;
  range?: [number, number];
  shownDefault?: string;
}

/**
 * Every skydns setting, once. The flags (SKYDNS_FLAGS), the config object's
 * keys (mergeConfigObject) and the README's tables (checked by
 * test/unit/readme-flags.test.ts) come from here.
 */
export const SKYDNS_SETTINGS: readonly Setting[] = [
  { field: 'domain', flag: { name: 'domain', type: 'string', default: 'skydns.local.', env: 'SKYDNS_DOMAIN', usage: 'domain to anchor requests to' }, json: 'domain', kind: 'string' },
  { field: 'dnsAddr', flag: { name: 'addr', type: 'string', default: '127.0.0.1:53', env: 'SKYDNS_ADDR', usage: 'ip:port to bind to (UDP and TCP)' }, json: 'dns_addr', kind: 'string' },
  { field: 'nameservers', flag: { name: 'nameservers', type: 'string', default: '', env: 'SKYDNS_NAMESERVERS', usage: 'nameserver address(es) to forward (non-local) queries to, e.g. 8.8.8.8:53,8.8.4.4:53 (default: the nameserver lines of /etc/resolv.conf)' }, json: 'nameservers', kind: 'strings', shownDefault: 'the `nameserver` lines of `/etc/resolv.conf`' },
  { field: 'noRec', flag: { name: 'no-rec', type: 'bool', default: false, usage: 'do not provide a recursive service (out-of-zone queries get SERVFAIL)' }, json: 'no_rec', kind: 'bool' },
  { field: 'machines', flag: { name: 'machines', type: 'string', default: 'http://127.0.0.1:2379', env: 'ETCD_MACHINES', usage: 'comma-separated list of etcd endpoint URLs' } },
  { field: 'dnssec', flag: { name: 'dnssec', type: 'string', default: '', usage: 'basename of a DNSSEC key pair (<base>.key and <base>.private, as dnssec-keygen writes them) to sign the zone with; empty: no DNSSEC' }, json: 'dnssec', kind: 'string' },
  { field: 'local', flag: { name: 'local', type: 'string', default: '', usage: 'optional unique value for this skydns instance, answered for local.dns.<domain>' }, json: 'local', kind: 'string' },
  { field: 'tlsKey', flag: { name: 'tls-key', type: 'string', default: '', env: 'ETCD_TLSKEY', usage: 'client TLS private key file for etcd' } },
  { field: 'tlsPem', flag: { name: 'tls-pem', type: 'string', default: '', env: 'ETCD_TLSPEM', usage: 'client TLS certificate file for etcd' } },
  { field: 'caCert', flag: { name: 'ca-cert', type: 'string', default: '', env: 'ETCD_CACERT', usage: 'CA certificate file for etcd TLS' } },
  { field: 'username', flag: { name: 'username', type: 'string', default: '', env: 'ETCD_USERNAME', usage: 'etcd user name (etcd v3 authentication)' } },
  { field: 'password', flag: { name: 'password', type: 'string', default: '', env: 'ETCD_PASSWORD', usage: 'etcd password (etcd v3 authentication)' } },
  { field: 'readTimeoutMs', flag: { name: 'rtimeout', type: 'duration', default: '2s', usage: 'read/write timeout of queries sent to upstream nameservers' }, json: 'read_timeout', kind: 'int', range: [1, 3_600_000] },
  { field: 'roundRobin', flag: { name: 'round-robin', type: 'bool', default: true, usage: 'shuffle A and AAAA records' }, json: 'round_robin', kind: 'bool' },
  { field: 'nsRotate', flag: { name: 'ns-rotate', type: 'bool', default: true, usage: 'pick the first upstream nameserver by message ID instead of always the first' }, json: 'ns_rotate', kind: 'bool' },
  { field: 'stubzones', flag: { name: 'stubzones', type: 'bool', default: false, usage: 'support stub zones (servers under stub.dns.<domain>)' } },
  { field: 'verbose', flag: { name: 'verbose', type: 'bool', default: false, usage: 'log every query' } },
  { field: null, flag: { name: 'systemd', type: 'bool', default: false, env: 'SKYDNS_SYSTEMD', usage: 'bind to sockets activated by systemd (not supported: start-up fails if set)' }, json: 'systemd', kind: 'bool', shownDefault: '' },
  { field: null, flag: { name: 'version', type: 'bool', default: false, usage: 'print the version and exit' }, json: 'version', kind: 'bool', shownDefault: '' },
  { field: 'hostmaster', flag: { name: 'hostmaster', type: 'string', default: 'hostmaster@skydns.local.', usage: 'hostmaster email address for the SOA (default: hostmaster@<domain>)' }, json: 'hostmaster', kind: 'string', shownDefault: '`hostmaster@<domain>`' },
  { field: 'scache', flag: { name: 'scache', type: 'int', default: 10000, usage: 'capacity of the DNSSEC signature cache (signatures); 0: every answer signed afresh' }, json: 'scache', kind: 'int', range: [-MAX_TTL, 10_000_000] },
  { field: 'rcache', flag: { name: 'rcache', type: 'int', default: 0, usage: 'capacity of the response cache for forwarded answers (0 disables it)' }, json: 'rcache', kind: 'int', range: [0, 10_000_000] },
  { field: 'rcacheTtl', flag: { name: 'rcache-ttl', type: 'int', default: 60, usage: 'seconds a response cache entry lives; also the TTL of records obtained from upstream lookups' }, json: 'rcache_ttl', kind: 'int', range: [0, MAX_TTL] },
  { field: 'ndots', flag: { name: 'ndots', type: 'int', default: 2, env: 'SKYDNS_NDOTS', usage: 'minimum number of labels a name needs before it is forwarded or looked up upstream' }, json: 'ndot', kind: 'int', range: [0, 127] },
  { field: 'prefix', flag: { name: 'path-prefix', type: 'string', default: 'skydns', env: 'SKYDNS_PATH_PREFIX', usage: 'first path component of every etcd key' } },
  { field: null, flag: { name: 'etcd3', type: 'bool', default: true, usage: 'use the etcd v3 API (always on: this implementation speaks only v3)' }, json: 'etcd3', kind: 'bool' },
  // Beyond SkyDNS:
  { field: 'metricsAddr', flag: { name: 'metrics-addr', type: 'string', default: '', env: 'SKYDNS_METRICS_ADDR', usage: 'ip:port for /metrics, /healthz and /readyz (overrides PROMETHEUS_PORT, which binds all interfaces)' } },
  { field: 'tcpMaxConns', flag: { name: 'tcp-max-conns', type: 'int', default: 1000, usage: 'maximum number of concurrent TCP client connections; when all are taken, a new client takes the slot of the one idle longest (else of the one busy longest)' } },
  { field: 'tcpIdleMs', flag: { name: 'tcp-idle-timeout', type: 'duration', default: '10s', usage: 'close TCP client connections that send no query for this long after their last query or answer' } },
  { field: 'tcpIoMs', flag: { name: 'tcp-io-timeout', type: 'duration', default: '3s', usage: 'close TCP client connections whose query is not whole this long after its first byte' } },
  { field: 'maxForwards', flag: { name: 'max-forwards', type: 'int', default: 1000, usage: 'upstream exchanges (forwarded and stub-zone queries, lookups of out-of-zone CNAME targets) outstanding at once in each server process; beyond it a forwarded query gets REFUSED at once (0: no bound)' } },
  { field: 'answerCacheSize', flag: { name: 'answer-cache', type: 'int', default: 50000, usage: 'capacity (entries) of the cache of encoded authoritative answers; an etcd change drops exactly the answers it can alter, and a question is kept the second time it is asked (0 disables it)' } },
  { field: 'udpMaxPayload', flag: { name: 'udp-max-payload', type: 'int', default: 1232, usage: 'the EDNS0 UDP payload size skydns advertises and the most a UDP reply carries (a client\'s larger buffer is not used beyond it; a longer answer is truncated, TC set): 512–65507' } },
  { field: 'udpIo', flag: { name: 'udp-io', type: 'string', default: 'auto', env: 'SKYDNS_UDP_IO', usage: 'UDP socket I/O: "batch" (many datagrams per system call, through native/udpio.node), "dgram" (Node\'s dgram, one per call) or "auto" (batch when the module is built and loads, else dgram)' } },
  { field: 'workers', flag: { name: 'workers', type: 'string', default: '1', env: 'SKYDNS_WORKERS', usage: 'server processes sharing the DNS sockets, or "auto": one per CPU the process may use (its cgroup CPU quota, else the CPU count); each holds its own copy of the records' } },
  // Only in /<prefix>/config (no flag): fixed values on the command line.
  { field: 'ttl', json: 'ttl', kind: 'int', range: [0, MAX_TTL] },
  { field: 'minTtl', json: 'min_ttl', kind: 'int', range: [0, MAX_TTL] },
  { field: 'priority', json: 'priority', kind: 'int', range: [0, 65535] },
];

export const SKYDNS_FLAGS: readonly FlagDef[] = SKYDNS_SETTINGS.flatMap((s) => (s.flag ? [s.flag] : []));

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

/** JSON keys of /skydns/config, lower case → the setting. */
const CONFIG_KEYS = new Map(SKYDNS_SETTINGS.flatMap((s) => (s.json ? [[s.json, s] as const] : [])));

/** What mergeConfigObject did with each key of the object. */
export interface ConfigMerge {
  /** Keys whose values now override the flags. */
  applied: string[];
  /** Keys skydns does not know or does not support (left alone). */
  ignored: string[];
  /** Keys refused, with the reason (the flag value stays). */
  refused: string[];
}

const DOMAIN_NAME = /^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;

/** Why value v of key k (of field `field`) cannot be used, or null. */
function configValueProblem(field: keyof SkyConfig, kind: Kind, range: [number, number] | undefined, v: unknown): string | null {
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
    const setting = CONFIG_KEYS.get(k.toLowerCase());
    const field = setting?.field;
    if (!setting || !field) {
      out.ignored.push(k);
      continue;
    }
    if (v === null) continue;
    const problem = configValueProblem(field, setting.kind!, setting.range, v);
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
