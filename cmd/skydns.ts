#!/usr/bin/env node
/** skydns: the cluster DNS server (SkyDNS-compatible flags and behaviour). */
import { FlagError, HelpRequested, parseFlags, usageText } from '../lib/flags.js';
import { createLogger } from '../lib/log.js';
import { IMPLEMENTATION, SKYDNS_FLAGS, SKYDNS_VERSION, configFromFlags } from '../lib/skydns/config.js';
import { SkyDnsApp } from '../lib/skydns/app.js';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(SKYDNS_FLAGS, process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stderr.write(usageText('skydns', SKYDNS_FLAGS));
      process.exit(0);
    }
    process.stderr.write(`skydns: ${(err as Error).message}\n${usageText('skydns', SKYDNS_FLAGS)}`);
    process.exit(2);
  }
  if (parsed.values.get('version') === true) {
    process.stdout.write(`skydns server version: ${SKYDNS_VERSION} (${IMPLEMENTATION})\n`);
    process.exit(0);
  }
  const log = createLogger('skydns', parsed.values.get('verbose') === true ? 'debug' : 'info');
  for (const w of parsed.warnings) log.warn(w);
  let cfg;
  try {
    cfg = configFromFlags(parsed);
    if (parsed.values.get('systemd') === true) throw new FlagError('-systemd: socket activation is not supported by this implementation; use -addr');
    if (parsed.values.get('dnssec') !== '') throw new FlagError('-dnssec: DNSSEC signing is not supported by this implementation yet (see docs/compatibility.md)');
    if (parsed.rest.length) throw new FlagError(`unexpected arguments: ${parsed.rest.join(' ')}`);
  } catch (err) {
    process.stderr.write(`skydns: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.on('uncaughtException', (err) => log.error(`uncaught exception (kept running): ${err.stack ?? String(err)}`));
  process.on('unhandledRejection', (err) => log.error(`unhandled rejection (kept running): ${err instanceof Error ? err.stack : String(err)}`));

  const app = new SkyDnsApp(cfg, log);
  try {
    await app.start();
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}, shutting down`);
    const hard = setTimeout(() => process.exit(0), 3000);
    hard.unref();
    app.stop().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
