#!/usr/bin/env node
/** skydns: the cluster DNS server (SkyDNS-compatible flags and behaviour). */
import cluster, { Worker } from 'node:cluster';
import { FlagError, parseCommandLine } from '../lib/flags.js';
import { createLogger, Log } from '../lib/log.js';
import { IMPLEMENTATION, SKYDNS_FLAGS, SKYDNS_VERSION, SkyConfig, applyDefaults, configFromFlags, splitHostPort } from '../lib/skydns/config.js';
import { KeyError, loadKey } from '../lib/dnssec/key.js';
import { SkyDnsApp } from '../lib/skydns/app.js';
import { EtcdConfigError } from '../lib/etcd/client.js';
import { metricsEndpoint, startHttp } from '../lib/skydns/status-http.js';
import { Metrics, StoreState, processRegistry } from '../lib/skydns/metrics.js';
import type { Snapshot } from '../lib/metrics/fast.js';

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
async function runServer(cfg: SkyConfig, log: Log, worker: boolean): Promise<void> {
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
async function runPrimary(cfg: SkyConfig, log: Log): Promise<void> {
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
  const endpoint = metricsEndpoint(cfg.metricsAddr, process.env, log, splitHostPort);
  if (endpoint) {
    const metrics = new Metrics(process.env.PROMETHEUS_NAMESPACE || 'skydns', process.env.PROMETHEUS_SUBSYSTEM || 'skydns');
    const registry = processRegistry();
    const path = process.env.PROMETHEUS_PATH || '/metrics';
    const all = () => [...reports.values()];
    try {
      await startHttp(endpoint.host, endpoint.port, path, {
        live: () => all().length === cfg.workers && all().every((r) => r.listening),
        ready: () => {
          const r = all();
          if (r.length < cfg.workers) return { ok: false, reason: `${r.length} of ${cfg.workers} workers running` };
          if (!r.every((x) => x.state.synced)) return { ok: false, reason: 'records not read from etcd yet' };
          if (!r.every((x) => x.state.warmed)) return { ok: false, reason: 'warming up' };
          return { ok: true, reason: '' };
        },
        metrics: async () => metrics.render(all().flatMap((r) => (r.snapshot ? [r.snapshot] : []))) + metrics.renderState(all().map((r) => r.state)) + (await registry.metrics()),
      }, log);
      log.info(`metrics on ${endpoint.host ?? '*'}:${endpoint.port}${path}, health on /healthz and /readyz`);
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

async function main(): Promise<void> {
  const { flags: parsed, config: cfg } = parseCommandLine('skydns', SKYDNS_FLAGS, process.argv.slice(2), (p) => {
    if (p.values.get('systemd') === true) throw new FlagError('-systemd: socket activation is not supported by this implementation; use -addr');
    const c = configFromFlags(p);
    if (c.dnssec !== '') {
      // Checked once here, before any worker starts, so that a bad key fails once (each process loads it again).
      const probe = { ...c };
      applyDefaults(probe);
      try {
        loadKey(probe.dnssec, probe.domain);
      } catch (err) {
        if (err instanceof KeyError) throw new FlagError(`-dnssec: ${err.message}`);
        throw err;
      }
    }
    return c;
  });
  if (parsed.values.get('version') === true) {
    process.stdout.write(`skydns server version: ${SKYDNS_VERSION} (${IMPLEMENTATION})\n`);
    process.exit(0);
  }
  const worker = cluster.isWorker;
  const name = worker ? `skydns[${process.pid}]` : 'skydns';
  const log = createLogger(name, parsed.values.get('verbose') === true ? 'debug' : 'info');
  if (!worker) for (const w of parsed.warnings) log.warn(w);
  process.on('uncaughtException', (err) => log.error(`uncaught exception (kept running): ${err.stack ?? String(err)}`));
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection (kept running): ${err instanceof Error ? err.stack : String(err)}`));
  if (!worker && cfg.workers === 1 && cfg.workersSource) log.info(`one server process (${cfg.workersSource})`);
  if (cfg.workers > 1 && cluster.isPrimary) await runPrimary(cfg, log);
  else await runServer(cfg, log, worker);
}

void main();
