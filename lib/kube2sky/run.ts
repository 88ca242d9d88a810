/**
 * How kube2sky runs once its flags are parsed: the Kubernetes client, the
 * app, its HTTP endpoint, and how it stops (a signal: exit 0; leadership
 * lost: exit 1, so the replica restarts as a standby). Fatal configuration
 * problems print one line and exit 2, as a bad flag does.
 */
import type { Log } from '../log.js';
import { Kube2Sky } from './app.js';
import type { Kube2SkyConfig } from './config.js';
import { kubeConfigFor } from './kube.js';
import { startKube2SkyHttp } from './status-http.js';

export async function runKube2Sky(cfg: Kube2SkyConfig, log: Log): Promise<void> {
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
