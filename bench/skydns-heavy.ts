#!/usr/bin/env node
/**
 * The cost of heavy questions (issue #16): `svc.cluster.local SRV` asks for
 * every record below it — 30,000 services' SRV records here. skydns answers
 * with what its reply can carry (TC) and caches that; this measures
 *
 * - how many such questions a second skydns answers, over UDP (EDNS0) and TCP
 *   (64 KiB replies),
 *   with its answer cache (the usual case) and without (-answer-cache=0: every
 *   one computed, the worst case a client can force by varying its buffer size);
 * - the latency of ordinary in-zone questions (A of a service, at a fixed
 *   rate, every answer timed with dnsperf -v) while one client sends the heavy
 *   question flat out to the uncached server, beside the same probe with no
 *   flood, and beside Knot DNS serving the same A records from a zone file.
 *
 * Loopback only. Prints a table, writes bench/results/heavy.json. Asserts nothing.
 * Run: `npm run bench:heavy` (or, built: `node dist/bench/skydns-heavy.js`).
 * Settings: HEAVY_SERVICES (30000), BENCH_SECONDS (8), HEAVY_PROBE_QPS (2000).
 */
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { etcdPutMany } from '../test/harness/etcd.js';
import { RESULTS_DIR, cpuSecondsOf, envInt, fmt, log, logMachine, makeTempDir, removeTempDir, runBench, running, start, startBenchEtcd, stopBenchEtcd, stopProgram, withTimeout, writeJson } from './common.js';
import { TYPE, encodeQuery } from '../lib/skydns/wire.js';
import { DnsperfOptions, Latency, Server, benchTools, parseDnsperf, readLatencies, spawnVerbose, startKnot, startSkydns, summariseLatency } from './dns-servers.js';

const HEAVY = 'svc.cluster.local SRV';
const D = '/skydns/local/cluster/svc';

interface Rate {
  label: string;
  qps: number;
  lost: number;
  cpuPct: number | null;
}

/**
 * The heavy question flat out for `seconds`; server CPU from /proc. UDP: dnsperf with EDNS0
 * (2 sockets, 20 in flight). TCP: two connections of our own, one question at a time on each
 * (dnsperf's TCP mode cannot take a 64 KiB reply).
 */
async function rate(dnsperf: string, srv: Server, file: string, mode: 'udp' | 'tcp', seconds: number, label: string): Promise<Rate> {
  const c0 = cpuSecondsOf(srv.prog.pid);
  const t0 = performance.now();
  let qps: number;
  let lost = 0;
  if (mode === 'udp') {
    const args = ['-s', '127.0.0.1', '-p', String(srv.port), '-d', file, '-l', String(seconds), '-c', '2', '-q', '20', '-t', '5', '-e'];
    const prog = start(dnsperf, args, `dnsperf ${label}`);
    const info = await withTimeout(prog.exited, (seconds + 40) * 1000, `dnsperf ${label}`);
    running.delete(prog);
    if (info.code !== 0) throw new Error(`dnsperf ${label} exited with ${info.code}:\n${prog.output().slice(-2000)}`);
    const p = parseDnsperf(prog.output());
    qps = p.qps;
    lost = p.lost;
  } else {
    const counts = await Promise.all([0, 1].map(() => tcpLoop(srv.port, seconds)));
    qps = (counts[0] + counts[1]) / seconds;
  }
  const wall = (performance.now() - t0) / 1000;
  const c1 = cpuSecondsOf(srv.prog.pid);
  return { label, qps, lost, cpuPct: c0 !== null && c1 !== null ? (100 * (c1 - c0)) / wall : null };
}

/** Answers received on one TCP connection asking the heavy question again as soon as each reply is whole. */
function tcpLoop(port: number, seconds: number): Promise<number> {
  const [name, type] = HEAVY.split(' ');
  const q = encodeQuery(`${name}.`, TYPE[type as 'SRV'], 1, 0);
  const frame = Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const end = Date.now() + seconds * 1000;
    let n = 0;
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(frame));
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        n++;
        if (Date.now() >= end) {
          sock.destroy();
          resolve(n);
          return;
        }
        sock.write(frame);
      }
    });
  });
}

async function main(): Promise<number> {
  const n = envInt('HEAVY_SERVICES', 30_000, 100, 500_000);
  const seconds = envInt('BENCH_SECONDS', 8, 2, 600);
  const probeQps = envInt('HEAVY_PROBE_QPS', 2000, 100, 100_000);
  const { dnsperf, knotd, machine } = benchTools();
  logMachine(machine, 'heavy questions');
  const work = await makeTempDir('skydns-bench', 'heavy');
  const etcd = await startBenchEtcd('bench-heavy');
  const servers: Server[] = [];
  try {
    await etcdPutMany(
      etcd.url,
      Array.from({ length: n }, (_, j) => {
        const ns = `ns${j % 50}`;
        return [
          [`${D}/${ns}/s${j}/a`, `{"host":"10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}","ttl":30}`],
          [`${D}/${ns}/s${j}/_tcp/_http/a`, `{"host":"s${j}.${ns}.svc.cluster.local.","port":80,"ttl":30}`],
        ] as const;
      }).flat(),
    );
    log(`etcd: ${n} services (an A and an SRV record each)`);
    const heavyFile = path.join(work, 'heavy.txt');
    await fsp.writeFile(heavyFile, `${HEAVY}\n`);
    const probeFile = path.join(work, 'probe.txt');
    await fsp.writeFile(probeFile, Array.from({ length: Math.min(n, 5000) }, (_, i) => `s${i}.ns${i % 50}.svc.cluster.local A`).join('\n') + '\n');

    const cached = await startSkydns(etcd.url, 's0.ns0.svc.cluster.local', ['-workers=1'], 120_000, 'skydns');
    servers.push(cached);
    const uncached = await startSkydns(etcd.url, 's0.ns0.svc.cluster.local', ['-workers=1', '-answer-cache=0'], 120_000, 'skydns -answer-cache=0');
    servers.push(uncached);
    const rates: Rate[] = [];
    for (const srv of [cached, uncached]) {
      for (const mode of ['udp', 'tcp'] as const) {
        const r = await rate(dnsperf, srv, heavyFile, mode, seconds, `${srv.label} ${mode}`);
        log(`${HEAVY} ${mode}: ${srv.label} ${fmt(r.qps, 0)} q/s, server CPU ${fmt(r.cpuPct, 0)}%, lost ${r.lost}`);
        rates.push(r);
      }
    }

    const probeOpts: DnsperfOptions = { clients: 2, threads: 1, outstanding: 100, queryTimeout: 2 };
    const probe = async (srv: Server, label: string): Promise<Latency> => {
      const out = path.join(work, `probe-${label.replace(/\W+/g, '-')}.txt`);
      await spawnVerbose(dnsperf, srv.port, probeFile, seconds, probeQps, probeOpts, out);
      const l = summariseLatency(label, probeQps, await readLatencies(out));
      log(`probe ${label}: p50 ${fmt(l.p50, 3)} p99 ${fmt(l.p99, 3)} max ${fmt(l.max, 1)} ms, lost ${l.lost}`);
      return l;
    };
    const lat: Latency[] = [];
    const floods: Record<string, number> = {};
    lat.push(await probe(cached, 'skydns, no flood'));
    for (const srv of [cached, uncached]) {
      // The flood: one client (dnsperf, 2 sockets, 50 in flight) asking the heavy question flat out over UDP.
      const floodArgs = ['-s', '127.0.0.1', '-p', String(srv.port), '-d', heavyFile, '-l', String(seconds + 2), '-c', '2', '-q', '50', '-t', '5', '-e'];
      const c0 = cpuSecondsOf(srv.prog.pid);
      const flood = start(dnsperf, floodArgs, 'dnsperf flood');
      await new Promise((r) => setTimeout(r, 1000));
      lat.push(await probe(srv, `${srv.label}, heavy flood`));
      const fInfo = await withTimeout(flood.exited, (seconds + 40) * 1000, 'dnsperf flood');
      running.delete(flood);
      const c1 = cpuSecondsOf(srv.prog.pid);
      floods[srv.label] = fInfo.code === 0 ? parseDnsperf(flood.output()).qps : NaN;
      log(`flood on ${srv.label}: ${fmt(floods[srv.label], 0)} heavy q/s answered meanwhile, its CPU ${c0 !== null && c1 !== null ? fmt((100 * (c1 - c0)) / (seconds + 2), 0) : '?'}%`);
    }
    if (knotd) {
      const zone: string[] = [];
      for (let j = 0; j < n; j++) zone.push(`s${j}.ns${j % 50}.svc.cluster.local. 30 IN A 10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`);
      const knot = await startKnot(knotd, zone, 's0.ns0.svc.cluster.local', 0, 60_000);
      servers.push(knot);
      lat.push(await probe(knot, 'knot, no flood'));
    }

    const lines = [
      '',
      `skydns: the heavy question "${HEAVY}" over ${n} services (${n} SRV records below it)`,
      `  ${'server'.padEnd(28)} ${'UDP q/s'.padStart(9)} ${'CPU %'.padStart(6)} ${'TCP q/s'.padStart(9)} ${'CPU %'.padStart(6)}`,
      ...[cached, uncached].map((srv) => {
        const u = rates.find((r) => r.label === `${srv.label} udp`)!;
        const t = rates.find((r) => r.label === `${srv.label} tcp`)!;
        return `  ${srv.label.padEnd(28)} ${fmt(u.qps, 0).padStart(9)} ${fmt(u.cpuPct, 0).padStart(6)} ${fmt(t.qps, 0).padStart(9)} ${fmt(t.cpuPct, 0).padStart(6)}`;
      }),
      '',
      `in-zone A questions at ${probeQps} q/s, every answer timed (ms); flood: one client asking the heavy question flat out (answered meanwhile: ${Object.entries(floods).map(([k, v]) => `${k} ${fmt(v, 0)} q/s`).join(', ')})`,
      `  ${'probe'.padEnd(28)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'p99.9'.padStart(7)} ${'max'.padStart(7)} ${'lost'.padStart(6)}`,
      ...lat.map((l) => `  ${l.server.padEnd(28)} ${fmt(l.p50, 3).padStart(7)} ${fmt(l.p99, 3).padStart(7)} ${fmt(l.p999, 3).padStart(7)} ${fmt(l.max, 1).padStart(7)} ${String(l.lost).padStart(6)}`),
      '',
    ];
    process.stdout.write(lines.join('\n') + '\n');
    await writeJson(path.join(RESULTS_DIR, 'heavy.json'), { machine, services: n, seconds, probeQps, rates, latency: lat, floods });
    return 0;
  } finally {
    for (const s of servers) await stopProgram(s.prog);
    await stopBenchEtcd(etcd);
    await removeTempDir(work);
  }
}

runBench(main, () => envInt('BENCH_TIMEOUT_MIN', 30, 1, 600), 30);
