#!/usr/bin/env node
/** kube2sky: writes SkyDNS records for Kubernetes Services, Endpoints and Pods into etcd. */
import { parseCommandLine } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { KUBE2SKY_FLAGS, configFromFlags } from '../lib/kube2sky/config.js';
import { runKube2Sky } from '../lib/kube2sky/run.js';

const VERSION = '1.14 (kube-dns-ts 0.1.0)';

async function main(): Promise<void> {
  const { flags: parsed, config: cfg } = parseCommandLine('kube2sky', KUBE2SKY_FLAGS, process.argv.slice(2), (p) => configFromFlags(p), { underscores: true });
  if (parsed.values.get('version') === true) {
    process.stdout.write(`kube2sky ${VERSION}\n`);
    process.exit(0);
  }
  const log = createLogger('kube2sky', cfg.verbosity >= 2 ? 'debug' : 'info');
  for (const w of parsed.warnings) log.warn(w);
  process.on('uncaughtException', (err) => log.error(`uncaught exception (kept running): ${err.stack ?? String(err)}`));
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection (kept running): ${err instanceof Error ? err.stack : String(err)}`));

  await runKube2Sky(cfg, log);
}

void main();
