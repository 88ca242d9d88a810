/**
 * How exec-healthz runs once its flags are parsed: the prober, its HTTP
 * server, the start line, and exit on a signal or /quit. Lines go to stderr
 * with a timestamp; -quiet keeps only failed runs and server problems.
 */
import { formatDuration } from '../flags.js';
import { Prober } from './exec.js';
import { startHealthzHttp } from './status-http.js';

export interface ExecHealthzOptions {
  cmd: string;
  periodMs: number;
  /** 0: the period. */
  timeoutMs: number;
  latencyMs: number;
  address: string;
  port: number;
  enableQuit: boolean;
  quiet: boolean;
}

function line(s: string): void {
  process.stderr.write(`${new Date().toISOString()} exec-healthz ${s}\n`);
}

export async function runExecHealthz(o: ExecHealthzOptions): Promise<void> {
  const timeoutMs = o.timeoutMs || o.periodMs;
  const prober = new Prober({
    cmd: o.cmd,
    periodMs: o.periodMs,
    timeoutMs,
    latencyMs: o.latencyMs,
    log: (l) => {
      if (!o.quiet || l.startsWith('command failed')) line(l);
    },
  });
  const exit = () => {
    void prober.stop();
    process.exit(0);
  };
  try {
    await startHealthzHttp(prober, {
      host: o.address,
      port: o.port,
      enableQuit: o.enableQuit,
      log: (l) => {
        if (!o.quiet || !l.startsWith('Client ip')) line(l);
      },
      onQuit: () => setTimeout(exit, 50),
    });
  } catch (err) {
    line(`cannot listen on ${o.address}:${o.port}: ${(err as Error).message}`);
    process.exit(1);
  }
  line(`serving /healthz on ${o.address}:${o.port} for "${o.cmd}" every ${formatDuration(o.periodMs)} (timeout ${formatDuration(timeoutMs)}, latency ${formatDuration(o.latencyMs)})`);
  prober.start();
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
}
