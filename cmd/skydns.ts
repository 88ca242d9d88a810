#!/usr/bin/env -S node --min-semi-space-size=16 --no-memory-reducer
/** skydns: the cluster DNS server (SkyDNS-compatible flags and behaviour). */
import cluster from 'node:cluster';
import { FlagError, parseCommandLine } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { IMPLEMENTATION, SKYDNS_FLAGS, SKYDNS_VERSION, applyDefaults, configFromFlags } from '../lib/skydns/config.js';
import { KeyError, loadKey } from '../lib/dnssec/key.js';
import { runPrimary, runServer } from '../lib/skydns/run.js';
import { nodeFlagsNotice } from '../lib/skydns/node-flags.js';

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
  const notice = worker ? null : nodeFlagsNotice();
  if (notice) log.info(notice);
  process.on('uncaughtException', (err) => log.error(`uncaught exception (kept running): ${err.stack ?? String(err)}`));
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection (kept running): ${err instanceof Error ? err.stack : String(err)}`));
  if (!worker && cfg.workers === 1 && cfg.workersSource) log.info(`one server process (${cfg.workersSource})`);
  if (cfg.workers > 1 && cluster.isPrimary) await runPrimary(cfg, log);
  else await runServer(cfg, log, worker);
}

void main();
