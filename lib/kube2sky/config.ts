/** kube2sky flags (docs/kube2sky.md §1.1) and their validation. */
import { FlagDef, FlagError, ParsedFlags, bool, num, str } from '../flags.js';
import { normaliseDomain } from './records.js';

export const KUBE2SKY_FLAGS: readonly FlagDef[] = [
  { name: 'domain', type: 'string', default: 'cluster.local', usage: 'domain under which to create names (lower-cased; a trailing dot is optional)' },
  { name: 'etcd-server', type: 'string', default: 'http://127.0.0.1:4001', usage: 'URL of the etcd server; a comma-separated list for an etcd cluster' },
  { name: 'etcd-mutation-timeout', type: 'duration', default: '10s', usage: 'deadline of one etcd write attempt (failed writes are retried with backoff, never fatal)' },
  { name: 'etcd-cafile', type: 'string', default: '', usage: 'CA certificate file for etcd TLS' },
  { name: 'etcd-certfile', type: 'string', default: '', usage: 'client certificate file for etcd TLS' },
  { name: 'etcd-keyfile', type: 'string', default: '', usage: 'client key file for etcd TLS' },
  { name: 'kube-master-url', type: 'string', default: '', usage: 'URL to reach the Kubernetes master; $VAR and ${VAR} are expanded' },
  { name: 'kubecfg-file', type: 'string', default: '', usage: 'location of a kubeconfig file (otherwise the in-cluster service account is used)' },
  { name: 'healthz-port', type: 'int', default: 8081, usage: 'port on which to serve /readiness, /healthz and /metrics' },
  { name: 'healthz-address', type: 'string', default: '0.0.0.0', usage: 'address on which to serve /readiness, /healthz and /metrics' },
  { name: 'resync-period', type: 'duration', default: '30m', usage: 'how often to reconcile etcd against the API caches' },
  { name: 'watch-stall-timeout', type: 'duration', default: '60s', usage: 'a watch silent this long (no event, bookmark or new connection) fails /readiness and is restarted; each watch asks the API server to end it after half this time, so a healthy watch is never silent that long (0: off)' },
  { name: 'endpoint-slices', type: 'string', default: 'auto', usage: 'where headless services\' endpoints are read: true (discovery.k8s.io/v1 EndpointSlices), false (core/v1 Endpoints), auto (EndpointSlices when the API server serves discovery.k8s.io/v1, else Endpoints)' },
  { name: 'endpoint-slice-grace', type: 'duration', default: '1s', usage: 'how long a record whose address left a service\'s EndpointSlices is kept, so that an address moving from one slice to another never disappears (0: removed at once)' },
  { name: 'leader-elect', type: 'bool', default: false, usage: 'run as one of several replicas sharing an etcd cluster: an election in etcd picks one writer; the others wait, and one of them takes over when the leader\'s lease ends. Every write is conditional on still holding the leadership' },
  { name: 'leader-elect-lease-duration', type: 'duration', default: '15s', usage: 'lease of the leader: how long a leader that stopped (crash, pause, partition) keeps others waiting (whole seconds, at least 2s)' },
  { name: 'leader-elect-name', type: 'string', default: 'kube2sky', usage: 'name of the election (keys election/<name>/<lease>): replicas writing the same records must share it' },
  { name: 'pod-records', type: 'bool', default: true, usage: 'watch pods and write <a-b-c-d>.<ns>.pod.<domain> records' },
  { name: 'legacy-records', type: 'bool', default: false, usage: 'write exactly what kube2sky 1.14 wrote: no PTR, ExternalName, dns-version, publishNotReadyAddresses or endpoint hostname records' },
  { name: 'wait-for-kubernetes-service', type: 'bool', default: true, usage: 'at start, wait for default/kubernetes and write its records first (as v1.2 did)' },
  { name: 'v', type: 'int', default: 0, usage: 'log level for V logs (1: missing endpoints, failed writes; 2: every record written)' },
  { name: 'logtostderr', type: 'bool', default: true, usage: 'accepted for compatibility (logs always go to stderr)' },
  { name: 'alsologtostderr', type: 'bool', default: false, usage: 'accepted for compatibility' },
  { name: 'log-dir', type: 'string', default: '', usage: 'accepted for compatibility (ignored)' },
  { name: 'stderrthreshold', type: 'string', default: '', usage: 'accepted for compatibility (ignored)' },
  { name: 'vmodule', type: 'string', default: '', usage: 'accepted for compatibility (ignored)' },
  { name: 'version', type: 'bool', default: false, usage: 'print the version and exit' },
];

export interface Kube2SkyConfig {
  domain: string;
  etcdUrls: string[];
  mutationTimeoutMs: number;
  etcdCa: string;
  etcdCert: string;
  etcdKey: string;
  masterUrl: string;
  kubeconfig: string;
  healthzPort: number;
  healthzAddress: string;
  resyncMs: number;
  /** A watch silent longer than this is stalled (0: not checked). */
  watchStallMs: number;
  /** Where headless services' endpoints come from. */
  endpointSlices: 'auto' | 'true' | 'false';
  sliceGraceMs: number;
  leaderElect: boolean;
  /** Lease TTL in whole seconds. */
  leaderLeaseSeconds: number;
  leaderElectName: string;
  podRecords: boolean;
  legacy: boolean;
  waitForKubernetes: boolean;
  verbosity: number;
}

/** Expands $VAR and ${VAR} from the environment (unset → empty), as os.ExpandEnv does. */
export function expandEnv(s: string, env: NodeJS.ProcessEnv = process.env): string {
  return s.replace(/\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => env[a ?? b ?? ''] ?? '');
}

export function configFromFlags(p: ParsedFlags, env: NodeJS.ProcessEnv = process.env): Kube2SkyConfig {
  const domain = str(p, 'domain');
  if (domain.trim() === '' || domain.trim() === '.') throw new FlagError('--domain must not be empty');
  const labels = normaliseDomain(domain).slice(0, -1).split('.');
  if (!labels.every((l) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(l) && l.length <= 63)) throw new FlagError(`--domain "${domain}" is not a valid DNS name`);
  const etcdUrls = str(p, 'etcd-server').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (etcdUrls.length === 0) throw new FlagError('--etcd-server must name at least one URL');
  for (const u of etcdUrls) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new FlagError(`--etcd-server "${u}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FlagError(`--etcd-server "${u}" must be an http:// or https:// URL`);
  }
  let masterUrl = str(p, 'kube-master-url');
  if (masterUrl !== '') {
    masterUrl = expandEnv(masterUrl, env);
    let url: URL;
    try {
      url = new URL(masterUrl);
    } catch {
      throw new FlagError(`--kube-master-url "${masterUrl}" is not a URL`);
    }
    if (!url.protocol || !url.host || url.host === ':') throw new FlagError(`--kube-master-url "${masterUrl}" has no host`);
  }
  const port = num(p, 'healthz-port');
  if (port < 0 || port > 65535) throw new FlagError(`--healthz-port ${port} is out of range`);
  const mt = num(p, 'etcd-mutation-timeout');
  if (mt <= 0) throw new FlagError('--etcd-mutation-timeout must be positive');
  const resync = num(p, 'resync-period');
  if (resync < 1000) throw new FlagError('--resync-period must be at least 1s');
  const stall = num(p, 'watch-stall-timeout');
  if (stall !== 0 && stall < 2000) throw new FlagError('--watch-stall-timeout must be 0 (off) or at least 2s');
  const slices = str(p, 'endpoint-slices').trim().toLowerCase();
  if (slices !== 'auto' && slices !== 'true' && slices !== 'false') throw new FlagError(`--endpoint-slices "${str(p, 'endpoint-slices')}" must be auto, true or false`);
  const grace = num(p, 'endpoint-slice-grace');
  if (grace < 0 || grace > 60_000) throw new FlagError('--endpoint-slice-grace must be between 0 and 60s');
  const lease = num(p, 'leader-elect-lease-duration');
  if (lease < 2000 || lease > 3_600_000) throw new FlagError('--leader-elect-lease-duration must be between 2s and 1h');
  const electName = str(p, 'leader-elect-name');
  if (!/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(electName)) throw new FlagError(`--leader-elect-name "${electName}" must be 1-63 letters, digits, '-', '_' or '.'`);
  return {
    domain: normaliseDomain(domain),
    etcdUrls,
    mutationTimeoutMs: mt,
    etcdCa: str(p, 'etcd-cafile'),
    etcdCert: str(p, 'etcd-certfile'),
    etcdKey: str(p, 'etcd-keyfile'),
    masterUrl,
    kubeconfig: str(p, 'kubecfg-file'),
    healthzPort: port,
    healthzAddress: str(p, 'healthz-address'),
    resyncMs: resync,
    watchStallMs: stall,
    endpointSlices: slices,
    sliceGraceMs: grace,
    leaderElect: bool(p, 'leader-elect'),
    leaderLeaseSeconds: Math.ceil(lease / 1000),
    leaderElectName: electName,
    podRecords: bool(p, 'pod-records'),
    legacy: bool(p, 'legacy-records'),
    waitForKubernetes: bool(p, 'wait-for-kubernetes-service'),
    verbosity: num(p, 'v'),
  };
}
