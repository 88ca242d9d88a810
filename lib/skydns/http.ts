/** The metrics/health HTTP endpoint: Prometheus exposition, /healthz and /readyz. */
import http from 'node:http';
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

export function startHttp(host: string | undefined, port: number, path: string, probe: HealthProbe, log: Logger): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === path) {
      const m = probe.metrics();
      if (m) {
        m.then(
          (text) => {
            res.writeHead(200, { 'Content-Type': EXPOSITION_TYPE });
            res.end(text);
          },
          (err: Error) => {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
            res.end(`metrics: ${err.message}\n`);
          },
        );
        return;
      }
    }
    if (url === '/healthz') {
      const ok = probe.live();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok' : 'dns listeners are not up\n');
      return;
    }
    if (url === '/readyz') {
      const r = probe.ready();
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(r.ok ? 'ok' : `not ready: ${r.reason}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 page not found\n');
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port }, () => {
      srv.off('error', reject);
      srv.on('error', (err) => log.error(`metrics http: ${err.message}`));
      resolve(srv);
    });
  });
}

/** Where metrics go: -metrics-addr, else PROMETHEUS_PORT on all interfaces (a non-number is logged and ignored). */
export function metricsEndpoint(metricsAddr: string, env: NodeJS.ProcessEnv, log: Logger, split: (s: string) => { host: string; port: number }): { host: string | undefined; port: number } | null {
  if (metricsAddr) return split(metricsAddr);
  const promPort = env.PROMETHEUS_PORT ?? '';
  if (promPort === '') return null;
  if (/^\d+$/.test(promPort) && Number(promPort) >= 1 && Number(promPort) <= 65535) return { host: undefined, port: Number(promPort) };
  log.warn(`PROMETHEUS_PORT=${JSON.stringify(promPort)} is not a port number (a Kubernetes service environment variable?); running without metrics`);
  return null;
}
