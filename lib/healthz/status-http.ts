/** exec-healthz's HTTP server: /healthz, /metrics, an index at /, and /quit only when enabled. */
import type http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { Prober } from './exec.js';
import { finishRoutes, listen, plainApp, sendText, type Request } from '../http/serve.js';

export interface HealthzHttpOptions {
  host: string;
  port: number;
  enableQuit: boolean;
  log: (line: string) => void;
  onQuit: () => void;
}

/**
 * exec-healthz's metrics, on prom-client like every other program's: the
 * values are the prober's, read at each scrape.
 */
function metricsRegistry(p: Prober): Registry {
  const r = new Registry();
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [r],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [r],
      collect() {
        this.set(value());
      },
    });
  counter('exec_healthz_runs_total', 'Completed runs of the command.', () => p.runs);
  counter('exec_healthz_failures_total', 'Runs that failed (non-zero exit, error or timeout).', () => p.failures);
  gauge('exec_healthz_last_duration_seconds', 'Duration of the last completed run.', () => (p.last ? p.last.durationMs / 1000 : 0));
  gauge('exec_healthz_last_success', 'Whether the last completed run succeeded (1) or not (0).', () => (p.last && !p.last.error ? 1 : 0));
  gauge('exec_healthz_last_run_timestamp_seconds', 'Completion time of the last run.', () => (p.last ? p.last.at / 1000 : 0));
  return r;
}

const TEXT = 'text/plain; charset=utf-8';

function client(req: Request): string {
  return `Client ip ${req.socket.remoteAddress}:${req.socket.remotePort}`;
}

export function startHealthzHttp(p: Prober, o: HealthzHttpOptions): Promise<http.Server> {
  const app = plainApp();
  const registry = metricsRegistry(p);
  app.all('/healthz', (req, res) => {
    o.log(`${client(req)} requesting /healthz probe servicing cmd ${p.opts.cmd}`);
    const s = p.status();
    if (s.code !== 200) o.log(s.body.trimEnd());
    sendText(res, s.code, TEXT, s.body);
  });
  app.all('/metrics', (_req, res) => {
    registry.metrics().then((text) => sendText(res, 200, registry.contentType, text), (err: Error) => sendText(res, 500, TEXT, `metrics: ${err.message}\n`));
  });
  // Without -enable-quit the route does not exist at all: /quit is a 404 like any other unknown path.
  if (o.enableQuit) {
    app.all('/quit', (req, res) => {
      o.log(`${client(req)} requesting /quit`);
      sendText(res, 200, TEXT, 'quitting\n');
      o.onQuit();
    });
  }
  app.all('/', (_req, res) => {
    sendText(res, 200, 'text/html; charset=utf-8', `<html><body><a href="/healthz">/healthz</a> <a href="/metrics">/metrics</a>${o.enableQuit ? ' <a href="/quit">/quit</a>' : ''}</body></html>\n`);
  });
  finishRoutes(app, TEXT);
  return listen(app, o.host, o.port);
}
