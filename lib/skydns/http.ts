/** The metrics/health HTTP endpoint: Prometheus exposition, /healthz and /readyz. */
import http from 'node:http';
import { Metrics } from './metrics.js';
import type { Logger } from './resolver.js';

export interface HealthProbe {
  /** Listening for DNS. */
  live(): boolean;
  /** Ready to answer from etcd data; a reason when not. */
  ready(): { ok: boolean; reason: string };
}

export function startHttp(host: string | undefined, port: number, path: string, metrics: Metrics | null, probe: HealthProbe, log: Logger): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (metrics && url === path) {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`metrics: ${err.message}\n`);
        },
      );
      return;
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
