/** kube2sky's HTTP endpoint: /readiness (legacy), /healthz, /metrics. */
import http from 'node:http';
import type { Kube2Sky } from './app.js';

export function startKube2SkyHttp(app: Kube2Sky, host: string, port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/readiness' || url === '/readyz') {
      const r = app.ready();
      res.writeHead(r.ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(r.ok ? 'ok\n' : `not ready: ${r.reason}\n`);
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (url === '/metrics') {
      app.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': app.metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port }, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}
