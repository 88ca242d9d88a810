/**
 * One etcd member as the local stack and the tests start it: its command line,
 * its environment and its health check, written once.
 */

export interface EtcdMember {
  name: string;
  dataDir: string;
  /** http(s)://127.0.0.1:PORT */
  clientUrl: string;
  /** http://127.0.0.1:PORT */
  peerUrl: string;
  /** NAME=PEER_URL,… (default: this member alone) */
  initialCluster?: string;
  /** Client TLS with client-certificate auth; health is then read from metricsUrl, over plain HTTP. */
  tls?: { certFile: string; keyFile: string; caFile: string; metricsUrl: string };
}

/** The command-line arguments of `etcd` for the member (a new cluster; zap logs on stderr, level info). */
export function etcdArgs(m: EtcdMember): string[] {
  return [
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl,
    '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', m.initialCluster ?? `${m.name}=${m.peerUrl}`,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', 'skydns-etcd',
    // zap (JSON lines with a level) rather than 3.4's deprecated default capnslog, which warns about itself
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'info',
    ...(m.tls ? ['--cert-file', m.tls.certFile, '--key-file', m.tls.keyFile, '--trusted-ca-file', m.tls.caFile, '--client-cert-auth', '--listen-metrics-urls', m.tls.metricsUrl] : []),
  ];
}

/** Where the member's /health answers: the client URL, or the metrics URL when clients need TLS. */
export function etcdHealthUrl(m: EtcdMember): string {
  return m.tls ? m.tls.metricsUrl : m.clientUrl;
}

/**
 * This process's environment without ETCD_* and ETCDCTL_* variables: etcd
 * reads ETCD_<FLAG> as flags and refuses to start when one repeats a flag
 * given on its command line.
 */
export function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_') && !k.startsWith('ETCDCTL_')) env[k] = v;
  return env;
}

/** Whether etcd at `url` says it is healthy (GET /health → {"health":"true"}), within 1 s. */
export async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body: unknown = await res.json();
    return typeof body === 'object' && body !== null && (body as Record<string, unknown>).health === 'true';
  } catch {
    return false;
  }
}
