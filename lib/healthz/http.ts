/** exec-healthz's HTTP server: /healthz, /metrics, an index at /, and /quit only when enabled. */
import http from 'node:http';
import { Prober } from './exec.js';

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

export function startHealthzHttp(p: Prober, o: HealthzHttpOptions): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      o.log(`Client ip ${req.socket.remoteAddress}:${req.socket.remotePort} requesting /healthz probe servicing cmd ${p.opts.cmd}`);
      const s = p.status();
      if (s.code !== 200) o.log(s.body.trimEnd());
      res.writeHead(s.code, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(s.body);
    } else if (url === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metrics(p));
    } else if (url === '/quit' && o.enableQuit) {
      o.log(`Client ip ${req.socket.remoteAddress}:${req.socket.remotePort} requesting /quit`);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('quitting\n');
      o.onQuit();
    } else if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<html><body><a href="/healthz">/healthz</a> <a href="/metrics">/metrics</a>${o.enableQuit ? ' <a href="/quit">/quit</a>' : ''}</body></html>\n`);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: o.host, port: o.port }, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}
