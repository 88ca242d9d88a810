/**
 * How skydns runs: one server process (SkyDnsApp), or, with -workers=N > 1, a
 * cluster primary that forks N server processes sharing the DNS port,
 * restarts any that die, and serves their merged metrics and health
 * (status-http.ts). The workers report their state and metrics to the
 * primary once a second and on every change that matters to /readyz.
 */
import cluster, { Worker } from 'node:cluster';
import type { Log } from '../log.js';
import type { Snapshot } from '../metrics/fast.js';
import { KeyError } from '../dnssec/key.js';
import { EtcdConfigError } from '../etcd/client.js';
import { SkyDnsApp } from './app.js';
import type { SkyConfig } from './config.js';
import type { StoreState } from './metrics.js';
import { serveStatus, statusEndpoint } from './status-http.js';

interface WorkerReport {
  type: 'report';
  state: StoreState;
  listening: boolean;
  snapshot: Snapshot | null;
}

/**
 * How long a stop may take before the process exits anyway. Nothing is lost
 * by cutting it short (queries still waiting on an upstream get no answer
 * either way); waiting longer only delays the replacement pod.
 */
const STOP_DEADLINE_MS = 800;

/** SIGTERM and SIGINT run `stop` once, then exit 0 (after STOP_DEADLINE_MS at the latest). */
function onSignals(log: Log, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}, shutting down`);
    setTimeout(() => {
      log.warn(`shutdown not finished after ${STOP_DEADLINE_MS} ms; exiting anyway`);
      process.exit(0);
    }, STOP_DEADLINE_MS).unref();
    stop().then(() => process.exit(0), (err: Error) => {
      log.warn(`shutdown: ${err.message}`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/** One process answering queries (alone, or as a cluster worker reporting to the primary). */
export async function runServer(cfg: SkyConfig, log: Log, worker: boolean): Promise<void> {
  const app = new SkyDnsApp(cfg, log, { worker });
  try {
    await app.start();
  } catch (err) {
    if (err instanceof KeyError) {
      // A key named in /skydns/config (the flag's key was checked before): the same line and status as a bad flag.
      process.stderr.write(`skydns: -dnssec: ${err.message}\n`);
      process.exit(2);
    }
    log.error(`cannot start: ${(err as Error).message}`);
    // Configuration the flags could not check (unreadable etcd certificate files) is exit 2, like a bad flag.
    process.exit(err instanceof EtcdConfigError ? 2 : 1);
  }
  if (worker) {
    const report = () => {
      const msg: WorkerReport = { type: 'report', state: app.state(), listening: app.isListening, snapshot: app.metrics?.snapshot() ?? null };
      process.send?.(msg);
    };
    report();
    setInterval(report, 1000).unref();
    app.store.on('synced', report);
    app.on('warmed', report);
    process.on('disconnect', () => process.exit(0));
  }
  onSignals(log, () => app.stop());
}

/** The cluster primary: forks the workers, restarts any that die, serves merged metrics and health. */
export async function runPrimary(cfg: SkyConfig, log: Log): Promise<void> {
  const reports = new Map<number, WorkerReport>();
  let stopping = false;
  const fork = () => {
    const w = cluster.fork({ SKYDNS_WORKER: '1' });
    w.on('message', (m: WorkerReport) => {
      if (m && m.type === 'report') reports.set(w.id, m);
    });
    return w;
  };
  cluster.on('exit', (w: Worker, code, signal) => {
    reports.delete(w.id);
    if (stopping) return;
    if (code === 2) {
      // A configuration error (a bad key in /skydns/config): every worker would fail the same way.
      stopping = true;
      log.error(`worker ${w.process.pid} exited with status 2 (a configuration error); stopping`);
      for (const o of Object.values(cluster.workers ?? {})) o?.process.kill('SIGTERM');
      setTimeout(() => process.exit(2), 200);
      return;
    }
    log.error(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
    setTimeout(fork, 500);
  });
  for (let i = 0; i < cfg.workers; i++) fork();
  log.info(`ready for queries on ${cfg.domain} for tcp/udp ${cfg.dnsAddr} with ${cfg.workers} workers${cfg.workersSource ? ` (${cfg.workersSource})` : ''}; etcd ${cfg.machines.join(',')}`);
  const endpoint = statusEndpoint(cfg, process.env, log);
  if (endpoint) {
    const all = () => [...reports.values()];
    try {
      await serveStatus(endpoint, process.env, log, {
        expected: cfg.workers,
        listening: () => all().length === cfg.workers && all().every((r) => r.listening),
        processes: all,
      });
    } catch (err) {
      log.error(`cannot serve metrics on ${endpoint.host ?? '*'}:${endpoint.port}: ${(err as Error).message}`);
    }
  }
  onSignals(log, async () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
  });
}
