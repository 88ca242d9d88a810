// A real Knot DNS server (Debian `knot`) serving one zone on a free loopback port: the upstream
// nameserver of tests that forward or chase names outside the cluster domain.
import fs from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dig } from './dig.js';
import { freePort } from './ports.js';
import { Program, spawnProgram, waitUntil } from './proc.js';

/** knotd on PATH or in /usr/sbin, or null. */
export function knotdPath(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin']) {
    const p = path.join(dir, 'knotd');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * knotd's configuration for one zone served from `zoneFile` on 127.0.0.1:`port`, with its run,
 * database and control files under `dir` (which must hold `run/` and `db/`); `udpWorkers` 0 keeps
 * knot's default (one per CPU). Shared by the tests and the benchmarks.
 */
export function knotConfig(dir: string, port: number, zone: string, zoneFile: string, udpWorkers = 0, sign: 'ecdsap256sha256' | 'rsasha256' | null = null): string {
  // sign: knot signs the zone itself at load, one key (CSK) and NSEC3 with no salt and no extra iterations, as skydns does.
  const policy = sign
    ? ['policy:', '  - id: bench', `    algorithm: ${sign}`, ...(sign === 'rsasha256' ? ['    zsk-size: 2048', '    ksk-size: 2048'] : []), '    single-type-signing: on', '    nsec3: on', '    nsec3-iterations: 0', '    nsec3-salt-length: 0']
    : [];
  return [
    'server:',
    `    rundir: "${path.join(dir, 'run')}"`,
    `    listen: 127.0.0.1@${port}`,
    ...(udpWorkers > 0 ? [`    udp-workers: ${udpWorkers}`] : []),
    'control:',
    `    listen: "${path.join(dir, 'knot.sock')}"`,
    'database:',
    `    storage: "${path.join(dir, 'db')}"`,
    'log:',
    '  - target: stderr',
    '    any: warning',
    // A policy is defined before the zone that names it.
    ...policy,
    'zone:',
    `  - domain: ${zone}`,
    `    file: "${zoneFile}"`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    ...(sign ? ['    dnssec-signing: on', '    dnssec-policy: bench'] : []),
    '',
  ].join('\n');
}

export interface KnotProcess {
  prog: Program;
  port: number;
  stop(): Promise<void>;
}

/**
 * Serves `zone` (e.g. `example.com.`) with an SOA, an NS and `records` (zone-file lines, owners
 * relative to the zone or absolute) on 127.0.0.1; resolves once it answers the SOA question.
 */
export async function startKnot(zone: string, records: string[]): Promise<KnotProcess> {
  const knotd = knotdPath();
  if (!knotd) throw new Error('knotd not found: apt-get install knot (npm test installs it as root)');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'knot-test-'));
  const port = await freePort();
  await fs.mkdir(path.join(dir, 'run'));
  await fs.mkdir(path.join(dir, 'db'));
  const zoneLines = [`$ORIGIN ${zone}`, '$TTL 300', `@ SOA ns.${zone} hostmaster.${zone} 1 7200 1800 86400 300`, `@ NS ns.${zone}`, 'ns A 127.0.0.1', ...records];
  await fs.writeFile(path.join(dir, `${zone}zone`), zoneLines.join('\n') + '\n');
  const conf = knotConfig(dir, port, zone, path.join(dir, `${zone}zone`));
  await fs.writeFile(path.join(dir, 'knot.conf'), conf);
  const prog = spawnProgram(knotd, ['-c', path.join(dir, 'knot.conf')], { name: 'knotd' });
  const stop = async () => {
    await prog.stop();
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(async () => {
      if (!prog.running()) throw new Error(`knotd exited:\n${prog.output()}`);
      return (await dig({ port, name: zone, type: 'SOA' })).status === 'NOERROR';
    }, 10000, 'knotd answering');
  } catch (err) {
    await stop();
    throw err;
  }
  return { prog, port, stop };
}
