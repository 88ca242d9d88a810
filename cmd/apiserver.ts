#!/usr/bin/env node
/** apiserver: the sandbox Kubernetes API server (tests and the local stack use it instead of a real one). */
import { parseCommandLine } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { APISERVER_FLAGS, extractRepeated, optionsFromFlags, startApiServer } from '../lib/sandbox-apiserver/index.js';

const INTRO = 'A sandbox Kubernetes API server: core/v1 Services, Endpoints, Pods and Namespaces in memory, served over the real REST list/watch protocol on loopback.';

async function main(): Promise<void> {
  let extracted;
  try {
    extracted = extractRepeated(process.argv.slice(2), 'load');
  } catch (err) {
    process.stderr.write(`apiserver: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const { values: load, rest } = extracted;
  const { config: opts } = parseCommandLine('apiserver', APISERVER_FLAGS, rest, (p) => optionsFromFlags(p, load), { intro: INTRO });
  const log = createLogger('apiserver', opts.logLevel ?? 'info');
  let server;
  try {
    server = await startApiServer(opts, log);
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  process.stdout.write(`apiserver listening on ${server.url}\n`);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}, shutting down`);
    const hard = setTimeout(() => process.exit(0), 3000);
    hard.unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
