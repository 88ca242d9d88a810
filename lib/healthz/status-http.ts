/** exec-healthz's HTTP server: /healthz, /metrics, an index at /, and /quit only when enabled. */
import type http from 'node:http';
import { Prober } from './exec.js';
import { finishRoutes, listen, plainApp, sendText, type Request } from '../http/serve.js';

export interface HealthzHttpOptions {
  host: string;
  port: number;
  enableQuit: boolean;
  log: (line: string) => void;
  onQuit: () => void;
}

function metrics(p: Prober): string {
  const r = p.last;
  return [
    '# HELP exec_healthz_runs_total Completed runs of the command.',
    '# TYPE exec_healthz_runs_total counter',
    `exec_healthz_runs_total ${p.runs}`,
    '# HELP exec_healthz_failures_total Runs that failed (non-zero exit, error or timeout).',
    '# TYPE exec_healthz_failures_total counter',
    `exec_healthz_failures_total ${p.failures}`,
    '# HELP exec_healthz_last_duration_seconds Duration of the last completed run.',
    '# TYPE exec_healthz_last_duration_seconds gauge',
    `exec_healthz_last_duration_seconds ${r ? r.durationMs / 1000 : 0}`,
    '# HELP exec_healthz_last_success Whether the last completed run succeeded (1) or not (0).',
    '# TYPE exec_healthz_last_success gauge',
    `exec_healthz_last_success ${r && !r.error ? 1 : 0}`,
    '# HELP exec_healthz_last_run_timestamp_seconds Completion time of the last run.',
    '# TYPE exec_healthz_last_run_timestamp_seconds gauge',
    `exec_healthz_last_run_timestamp_seconds ${r ? r.at / 1000 : 0}`,
    '',
  ].join('\n');
}

const TEXT = 'text/plain; charset=utf-8';

function client(req: Request): string {
  return `Client ip ${req.socket.remoteAddress}:${req.socket.remotePort}`;
}

export function startHealthzHttp(p: Prober, o: HealthzHttpOptions): Promise<http.Server> {
  const app = plainApp();
  app.all('/healthz', (req, res) => {
    o.log(`${client(req)} requesting /healthz probe servicing cmd ${p.opts.cmd}`);
    const s = p.status();
    if (s.code !== 200) o.log(s.body.trimEnd());
    sendText(res, s.code, TEXT, s.body);
  });
  app.all('/metrics', (_req, res) => sendText(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics(p)));
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
