#!/usr/bin/env node
/** exec-healthz: runs a command periodically and serves its last result on /healthz. */
import { parseCommandLine, str, num, bool, formatDuration } from '../lib/flags.js';
import { EXEC_HEALTHZ_FLAGS } from '../lib/healthz/flags.js';
import { Prober } from '../lib/healthz/exec.js';
import { startHealthzHttp } from '../lib/healthz/status-http.js';

function line(s: string): void {
  process.stderr.write(`${new Date().toISOString()} exec-healthz ${s}\n`);
}

async function main(): Promise<void> {
  const { flags: p } = parseCommandLine('exec-healthz', EXEC_HEALTHZ_FLAGS, process.argv.slice(2), (f) => {
    if (num(f, 'period') <= 0) throw new Error('-period must be positive');
    if (num(f, 'latency') <= 0) throw new Error('-latency must be positive');
    if (num(f, 'timeout') < 0) throw new Error('-timeout must not be negative');
    if (num(f, 'port') < 0 || num(f, 'port') > 65535) throw new Error(`-port ${num(f, 'port')} is out of range`);
  });
  const quiet = bool(p, 'quiet');
  const period = num(p, 'period');
  const prober = new Prober({
    cmd: str(p, 'cmd'),
    periodMs: period,
    timeoutMs: num(p, 'timeout') || period,
    latencyMs: num(p, 'latency'),
    log: (l) => {
      if (!quiet || l.startsWith('command failed')) line(l);
    },
  });
  const exit = () => {
    void prober.stop();
    process.exit(0);
  };
  try {
    await startHealthzHttp(prober, {
      host: str(p, 'address'),
      port: num(p, 'port'),
      enableQuit: bool(p, 'enable-quit'),
      log: (l) => {
        if (!quiet || !l.startsWith('Client ip')) line(l);
      },
      onQuit: () => setTimeout(exit, 50),
    });
  } catch (err) {
    line(`cannot listen on ${str(p, 'address')}:${num(p, 'port')}: ${(err as Error).message}`);
    process.exit(1);
  }
  line(`serving /healthz on ${str(p, 'address')}:${num(p, 'port')} for "${str(p, 'cmd')}" every ${formatDuration(period)} (timeout ${formatDuration(num(p, 'timeout') || period)}, latency ${formatDuration(num(p, 'latency'))})`);
  prober.start();
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
}

void main();
