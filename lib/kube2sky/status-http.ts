/** kube2sky's HTTP endpoint: /readiness (legacy), /healthz, /metrics. */
import type http from 'node:http';
import type { Kube2Sky } from './app.js';
import { finishRoutes, listen, plainApp, sendText } from '../http/serve.js';

const TEXT = 'text/plain; charset=utf-8';

export function startKube2SkyHttp(app: Kube2Sky, host: string, port: number): Promise<http.Server> {
  const web = plainApp();
  web.all(['/readiness', '/readyz'], (_req, res) => {
    const r = app.ready();
    sendText(res, r.ok ? 200 : 503, TEXT, r.ok ? (r.reason ? `ok: ${r.reason}\n` : 'ok\n') : `not ready: ${r.reason}\n`);
  });
  web.all('/healthz', (_req, res) => sendText(res, 200, TEXT, 'ok'));
  web.all('/metrics', (_req, res) => {
    app.metrics.registry.metrics().then(
      (text) => sendText(res, 200, app.metrics.registry.contentType, text),
      // The registry failing is reported as before: a bare 500 with the message, no content type.
      (err: Error) => sendText(res, 500, undefined, err.message),
    );
  });
  finishRoutes(web, TEXT);
  return listen(web, host, port);
}
