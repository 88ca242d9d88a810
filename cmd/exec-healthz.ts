#!/usr/bin/env node
/** exec-healthz: runs a command periodically and serves its last result on /healthz. */
import { parseCommandLine, str, num, bool } from '../lib/flags.js';
import { EXEC_HEALTHZ_FLAGS } from '../lib/healthz/flags.js';
import { runExecHealthz } from '../lib/healthz/run.js';

async function main(): Promise<void> {
  const { flags: p } = parseCommandLine('exec-healthz', EXEC_HEALTHZ_FLAGS, process.argv.slice(2), (f) => {
    if (num(f, 'period') <= 0) throw new Error('-period must be positive');
    if (num(f, 'latency') <= 0) throw new Error('-latency must be positive');
    if (num(f, 'timeout') < 0) throw new Error('-timeout must not be negative');
    if (num(f, 'port') < 0 || num(f, 'port') > 65535) throw new Error(`-port ${num(f, 'port')} is out of range`);
  });
  await runExecHealthz({
    cmd: str(p, 'cmd'),
    periodMs: num(p, 'period'),
    timeoutMs: num(p, 'timeout'),
    latencyMs: num(p, 'latency'),
    address: str(p, 'address'),
    port: num(p, 'port'),
    enableQuit: bool(p, 'enable-quit'),
    quiet: bool(p, 'quiet'),
  });
}

void main();
