#!/usr/bin/env node
/** apiserver: the sandbox Kubernetes API server (tests and the local stack use it instead of a real one). */
import { parseCommandLine } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { APISERVER_FLAGS, extractRepeated, optionsFromFlags } from '../lib/sandbox-apiserver/index.js';
import { runApiServer } from '../lib/sandbox-apiserver/run.js';

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
  await runApiServer(opts, log);
}

void main();
