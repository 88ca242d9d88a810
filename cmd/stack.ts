#!/usr/bin/env node
/**
 * The local stack: brings the kube-dns pod up on this machine.
 * Today: etcd (own data dir, loopback) + skydns with the legacy pod arguments,
 * seeded with sample records in the kube2sky layout.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { FlagDef, FlagError, HelpRequested, parseFlags, usageText, num, str, bool } from '../lib/flags.js';
import { encodeService, hashLabel } from '../lib/msg/service.js';
import { nameToKey } from '../lib/msg/path.js';
import { Component, waitFor } from '../lib/stack/component.js';
import { freePort, tcpPortFree, udpPortFree } from '../lib/stack/ports.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const distRoot = path.resolve(here, '..');

const FLAGS: FlagDef[] = [
  { name: 'dns-port', type: 'int', default: 10053, usage: 'port for DNS on 127.0.0.1 (53 needs root)' },
  { name: 'etcd-port', type: 'int', default: 0, usage: 'etcd client port on 127.0.0.1 (default: a free port)' },
  { name: 'metrics-port', type: 'int', default: 0, usage: 'skydns /metrics, /healthz, /readyz port (default: a free port)' },
  { name: 'domain', type: 'string', default: 'cluster.local', usage: 'cluster DNS domain' },
  { name: 'data-dir', type: 'string', default: '', usage: 'etcd data directory (default: a new temporary directory, removed on exit)' },
  { name: 'quiet', type: 'bool', default: false, usage: 'do not print the components\' log lines' },
];

interface Sample {
  ns: string;
  name: string;
  ip: string;
  ports: Array<{ name: string; proto: string; port: number }>;
}

const SAMPLES: Sample[] = [
  { ns: 'default', name: 'kubernetes', ip: '10.0.0.1', ports: [{ name: 'https', proto: 'tcp', port: 443 }] },
  { ns: 'kube-system', name: 'kube-dns', ip: '10.0.0.10', ports: [{ name: 'dns', proto: 'udp', port: 53 }, { name: 'dns-tcp', proto: 'tcp', port: 53 }] },
  { ns: 'default', name: 'demoapp', ip: '10.0.0.20', ports: [{ name: 'http', proto: 'tcp', port: 80 }] },
];

function fail(msg: string): never {
  process.stderr.write(`stack: ${msg}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let p;
  try {
    p = parseFlags(FLAGS, process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usageText('npm start --', FLAGS));
      process.exit(0);
    }
    process.stderr.write(`stack: ${(err as Error).message}\n${usageText('npm start --', FLAGS)}`);
    process.exit(2);
  }
  const domain = str(p, 'domain').replace(/\.$/, '').toLowerCase();
  const dnsPort = num(p, 'dns-port');
  const quiet = bool(p, 'quiet');
  if (dnsPort < 1024 && process.getuid?.() !== 0) fail(`DNS port ${dnsPort} needs root; run as root or pick --dns-port=10053`);
  if (!(await udpPortFree(dnsPort)) || !(await tcpPortFree(dnsPort))) fail(`port ${dnsPort} on 127.0.0.1 is taken (UDP or TCP); stop what uses it or pass --dns-port=<another port>`);
  const etcdPort = num(p, 'etcd-port') || (await freePort());
  const peerPort = await freePort();
  const metricsPort = num(p, 'metrics-port') || (await freePort());
  for (const [what, port] of [['etcd', etcdPort], ['metrics', metricsPort]] as const) {
    if (!(await tcpPortFree(port))) fail(`${what} port ${port} on 127.0.0.1 is taken; pass another with --${what}-port`);
  }
  const ownDir = str(p, 'data-dir') === '';
  const dataDir = ownDir ? await fs.mkdtemp(path.join(os.tmpdir(), 'kube-dns-stack-')) : str(p, 'data-dir');
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;

  const etcd = new Component('etcd', 'etcd', [
    '--name', 'kube-dns-etcd', '--data-dir', path.join(dataDir, 'etcd'),
    '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `kube-dns-etcd=http://127.0.0.1:${peerPort}`, '--log-level', 'warn',
  ], { quiet: () => quiet });
  const skydns = new Component('skydns', process.execPath, [
    path.join(distRoot, 'cmd/skydns.js'),
    `-machines=${etcdUrl}`, `-addr=127.0.0.1:${dnsPort}`, '-ns-rotate=false', `-domain=${domain}.`,
    `-metrics-addr=127.0.0.1:${metricsPort}`,
  ], { quiet: () => quiet });
  const all = [skydns, etcd];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstack: stopping ...\n');
    for (const c of all) await c.stop();
    if (ownDir) await fs.rm(dataDir, { recursive: true, force: true });
    process.stdout.write('stack: stopped\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  const step = (s: string) => process.stdout.write(`stack: ${s}\n`);
  step(`starting etcd on ${etcdUrl} (data in ${dataDir})`);
  etcd.start();
  void etcd.exited.then(({ code }) => {
    if (!stopping) {
      process.stderr.write(`stack: etcd exited (code ${code}):\n${etcd.lastLines()}\n`);
      void shutdown(1);
    }
  });
  try {
    await waitFor(async () => (await fetch(`${etcdUrl}/health`)).ok, 20000, 'etcd /health');
  } catch (err) {
    process.stderr.write(`stack: ${(err as Error).message}\n${etcd.lastLines()}\n`);
    await shutdown(1);
  }
  step('etcd ready; writing sample records (kube2sky layout)');
  const client = new Etcd3({ hosts: etcdUrl });
  for (const s of SAMPLES) {
    const fq = `${s.name}.${s.ns}.svc.${domain}.`;
    const aValue = encodeService({ host: s.ip, priority: 10, weight: 10, ttl: 30 });
    const label = hashLabel(aValue);
    await client.put(nameToKey(`${label}.${fq}`)).value(aValue);
    for (const port of s.ports) {
      await client.put(nameToKey(`${label}._${port.name}._${port.proto}.${fq}`)).value(encodeService({ host: fq, port: port.port, priority: 10, weight: 10, ttl: 30 }));
    }
    const octets = s.ip.split('.').reverse().join('.');
    await client.put(nameToKey(`${octets}.in-addr.arpa.`)).value(encodeService({ host: fq, priority: 10, weight: 10, ttl: 30 }));
  }
  client.close();
  step(`starting skydns on 127.0.0.1:${dnsPort}`);
  skydns.start();
  void skydns.exited.then(({ code }) => {
    if (!stopping) {
      process.stderr.write(`stack: skydns exited (code ${code}):\n${skydns.lastLines()}\n`);
      void shutdown(1);
    }
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).ok, 20000, 'skydns /readyz');
  step('skydns ready');
  const d = `dig @127.0.0.1 -p ${dnsPort}`;
  process.stdout.write(`
kube-dns is up. Try:
  ${d} demoapp.default.svc.${domain}
  ${d} _https._tcp.kubernetes.default.svc.${domain} SRV
  ${d} -x 10.0.0.10
  ETCDCTL_API=3 etcdctl --endpoints ${etcdUrl} get --prefix /skydns
  curl http://127.0.0.1:${metricsPort}/metrics
Ctrl-C stops everything.
`);
}

main().catch((err: Error) => {
  if (err instanceof FlagError) fail(err.message);
  fail(err.stack ?? err.message);
});
