#!/usr/bin/env node
/** kube2sky: writes SkyDNS records for Kubernetes Services, Endpoints and Pods into etcd. */
import { parseCommandLine } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { Kube2Sky } from '../lib/kube2sky/app.js';
import { KUBE2SKY_FLAGS, configFromFlags } from '../lib/kube2sky/config.js';
import { startKube2SkyHttp } from '../lib/kube2sky/status-http.js';
import { kubeConfigFor } from '../lib/kube2sky/kube.js';

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

  let kc;
  try {
    const k = kubeConfigFor(cfg.masterUrl, cfg.kubeconfig);
    kc = k.kc;
    log.info(`Using ${k.how} for kubernetes master, kubernetes API: v1`);
  } catch (err) {
    process.stderr.write(`kube2sky: cannot configure the Kubernetes client: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let app: Kube2Sky;
  try {
    app = new Kube2Sky(cfg, kc, log);
  } catch (err) {
    // Bad etcd configuration (unreadable certificate files, bad URLs): one line, exit 2.
    process.stderr.write(`kube2sky: ${(err as Error).message}\n`);
    process.exit(2);
  }
  log.info(`etcd ${cfg.etcdUrls.join(',')}, domain ${cfg.domain}${cfg.legacy ? ', legacy records' : ''}${cfg.podRecords ? '' : ', no pod records'}`);
  try {
    await startKube2SkyHttp(app, cfg.healthzAddress, cfg.healthzPort);
  } catch (err) {
    log.error(`cannot serve /readiness on ${cfg.healthzAddress}:${cfg.healthzPort}: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`Received signal ${sig}, shutting down`);
    setTimeout(() => process.exit(0), 3000).unref();
    app.stop().then(() => process.exit(0), () => process.exit(0));
  };
  // Leadership lost (lease ended, or etcd refused a fenced write): stop and exit non-zero, so that the
  // replica restarts as a standby; the new leader already writes.
  app.leadershipLost = (why) => {
    if (stopping) return;
    stopping = true;
    log.error(`exiting: leadership lost (${why})`);
    setTimeout(() => process.exit(1), 3000).unref();
    app.stop().then(() => process.exit(1), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await app.start();
}

void main();
