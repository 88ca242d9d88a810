/** The metrics/health HTTP endpoint: Prometheus exposition, /healthz and /readyz. */
import type http from 'node:http';
import type { Snapshot } from '../metrics/fast.js';
import { exactPath, finishRoutes, listen, plainApp, sendText } from '../http/serve.js';
import { type SkyConfig, splitHostPort } from './config.js';
import { type StoreState, mergeAll, statusRegistry } from './metrics.js';
import type { Logger } from './resolver.js';

export interface HealthProbe {
  /** Listening for DNS. */
  live(): boolean;
  /** Ready to answer from etcd data; a reason when not. */
  ready(): { ok: boolean; reason: string };
  /** The exposition text, or null when metrics are off. */
  metrics(): Promise<string> | null;
}

export const EXPOSITION_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const TEXT = 'text/plain';

export function startHttp(host: string | undefined, port: number, path: string, probe: HealthProbe, log: Logger): Promise<http.Server> {
  const app = plainApp();
  // PROMETHEUS_PATH may name /healthz or /readyz; metrics win there, as before. With metrics off the
  // route passes the request on, so /healthz still answers and any other metrics path is a 404.
  app.all(exactPath(path), (_req, res, next) => {
    const m = probe.metrics();
    if (!m) return next();
    m.then(
      (text) => sendText(res, 200, EXPOSITION_TYPE, text),
      (err: Error) => sendText(res, 500, TEXT, `metrics: ${err.message}\n`),
    );
  });
  app.all('/healthz', (_req, res) => {
    const ok = probe.live();
    sendText(res, ok ? 200 : 503, TEXT, ok ? 'ok' : 'dns listeners are not up\n');
  });
  app.all('/readyz', (_req, res) => {
    const r = probe.ready();
    sendText(res, r.ok ? 200 : 503, TEXT, r.ok ? 'ok' : `not ready: ${r.reason}\n`);
  });
  finishRoutes(app, TEXT);
  return listen(app, host, port).then((srv) => {
    srv.on('error', (err) => log.error(`metrics http: ${err.message}`));
    return srv;
  });
}

/**
 * Where the status endpoint listens: -metrics-addr, else PROMETHEUS_PORT on
 * all interfaces (a value that is not a port number is logged and ignored),
 * else null: none.
 */
export function statusEndpoint(cfg: SkyConfig, env: NodeJS.ProcessEnv, log: Logger): { host: string | undefined; port: number } | null {
  if (cfg.metricsAddr) return splitHostPort(cfg.metricsAddr);
  const promPort = env.PROMETHEUS_PORT ?? '';
  if (promPort === '') return null;
  if (/^\d+$/.test(promPort) && Number(promPort) >= 1 && Number(promPort) <= 65535) return { host: undefined, port: Number(promPort) };
  log.warn(`PROMETHEUS_PORT=${JSON.stringify(promPort)} is not a port number (a Kubernetes service environment variable?); running without metrics`);
  return null;
}

/** What the status endpoint reports on: one server process, or the workers a cluster primary hears from. */
export interface StatusSource {
  /** How many server processes there should be. */
  expected: number;
  /** Every expected process listens for DNS. */
  listening(): boolean;
  /** Each running server process's state and DNS metrics. */
  processes(): { state: StoreState; snapshot: Snapshot | null }[];
}

/**
 * The one way skydns serves /metrics, /healthz and /readyz, alone or as a
 * cluster primary: ready once every expected process has read the records
 * and warmed up; metrics merged over the processes, then the state gauges,
 * then this process's own (prom-client's default metrics). Logs where it listens.
 */
export async function serveStatus(endpoint: { host: string | undefined; port: number }, env: NodeJS.ProcessEnv, log: Logger, src: StatusSource): Promise<http.Server> {
  // One reading of the processes per scrape: prom-client asks every metric for its samples at
  // once when the scrape starts, and they all read this.
  let taken: { snapshot: Snapshot; states: StoreState[] } = { snapshot: mergeAll([]), states: [] };
  const registry = statusRegistry(env, () => taken.snapshot, () => taken.states);
  const path = env.PROMETHEUS_PATH || '/metrics';
  const srv = await startHttp(endpoint.host, endpoint.port, path, {
    live: () => src.listening(),
    ready: () => {
      const ps = src.processes();
      if (ps.length < src.expected) return { ok: false, reason: `${ps.length} of ${src.expected} workers running` };
      if (!ps.every((p) => p.state.synced)) return { ok: false, reason: 'records not read from etcd yet' };
      if (!ps.every((p) => p.state.warmed)) return { ok: false, reason: 'warming up' };
      return { ok: true, reason: '' };
    },
    metrics: () => {
      const ps = src.processes();
      taken = { snapshot: mergeAll(ps.flatMap((p) => (p.snapshot ? [p.snapshot] : []))), states: ps.map((p) => p.state) };
      return registry.metrics();
    },
  }, log);
  log.info(`metrics on ${endpoint.host ?? '*'}:${endpoint.port}${path}, health on /healthz and /readyz`);
  return srv;
}
