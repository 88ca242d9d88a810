#!/usr/bin/env node
/**
 * What signing costs (issue #12): skydns with -dnssec, ECDSA P-256 and
 * RSA-2048 keys made by dnssec-keygen, answering the same questions with and
 * without the DO bit, beside Knot DNS serving the same records signed by
 * itself (one key of the same algorithm, NSEC3 with no salt and no extra
 * iterations). The questions: for every service its A (an answer), its AAAA
 * (NODATA: SOA and one NSEC3 when signed) and a search-path miss (NXDOMAIN:
 * SOA and three NSEC3 when signed).
 *
 * Workloads, each the best of BENCH_ROUNDS alternating rounds of dnsperf:
 * - unsigned: queries without EDNS0, and with EDNS0 but no DO (what DO
 *   queries cost apart from signing: the OPT record both ways), answer cache
 *   on (the usual case);
 * - signed, cached: DO, answer cache on (the target: ≥ 0.9 of unsigned);
 * - signed, answer cache off: every answer built and its sets' signatures
 *   taken from the signature cache (-answer-cache=0);
 * - signed, no caches: every answer built and every set signed afresh
 *   (-answer-cache=0 -scache=0), which gives the signing cost per answer.
 *
 * Loopback only. Prints a table, writes bench/results/dnssec.json. Asserts nothing.
 * Run: `npm run bench:dnssec` (or, built: `node dist/bench/skydns-dnssec.js`).
 * Settings: DNSSEC_SERVICES (2000), BENCH_SECONDS (6), BENCH_ROUNDS (2).
 */
import { execFileSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { etcdPutMany } from '../test/harness/etcd.js';
import { RESULTS_DIR, envInt, fmt, log, logMachine, makeTempDir, removeTempDir, runBench, startBenchEtcd, stopBenchEtcd, stopProgram, writeJson } from './common.js';
import { DOMAIN, DnsperfOptions, PerfResult, RECORD_TTL, Server, benchTools, runDnsperf, startKnot, startSkydns } from './dns-servers.js';

const D = '/skydns/local/cluster/svc';
const ALGORITHMS = [
  { name: 'ECDSAP256SHA256', keygen: ['-a', 'ECDSAP256SHA256'], knot: 'ecdsap256sha256' as const },
  { name: 'RSASHA256 (2048)', keygen: ['-a', 'RSASHA256', '-b', '2048'], knot: 'rsasha256' as const },
];

const nameOf = (i: number) => `s${i}.ns${i % 50}.svc.${DOMAIN}`;
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

interface Row {
  algorithm: string;
  workload: string;
  server: string;
  qps: number;
  cpuUsPerQuery: number | null;
  lostPct: number;
}

/** The best of `rounds` dnsperf runs against each server in turn. */
async function best(dnsperf: string, servers: Server[], file: string, seconds: number, rounds: number, opts: DnsperfOptions): Promise<Map<Server, PerfResult>> {
  const out = new Map<Server, PerfResult>();
  for (let r = 1; r <= rounds; r++) {
    for (const srv of servers) {
      const res = await runDnsperf(dnsperf, srv, file, seconds, r, opts);
      log(`round ${r} ${srv.label.padEnd(28)} ${Math.round(res.qps)} qps, cpu ${fmt(res.serverCpuPct, 0)}%, lost ${res.lost}`);
      const prev = out.get(srv);
      if (!prev || res.qps > prev.qps) out.set(srv, res);
    }
  }
  return out;
}

const row = (algorithm: string, workload: string, srv: Server, p: PerfResult): Row => ({
  algorithm,
  workload,
  server: srv.label,
  qps: p.qps,
  cpuUsPerQuery: p.serverCpuPct !== null && p.qps > 0 ? (p.serverCpuPct / 100 / p.qps) * 1e6 : null,
  lostPct: p.lostPct,
});

async function main(): Promise<number> {
  const n = envInt('DNSSEC_SERVICES', 2000, 10, 200_000);
  const seconds = envInt('BENCH_SECONDS', 6, 2, 600);
  const rounds = envInt('BENCH_ROUNDS', 2, 1, 20);
  const { dnsperf, knotd, machine } = benchTools();
  logMachine(machine, 'DNSSEC signing');
  const work = await makeTempDir('skydns-bench', 'dnssec');
  const etcd = await startBenchEtcd('bench-dnssec');
  const rows: Row[] = [];
  try {
    await etcdPutMany(
      etcd.url,
      Array.from({ length: n }, (_, i) => [`${D}/ns${i % 50}/s${i}/a`, `{"host":"${ipOf(i)}","ttl":${RECORD_TTL}}`] as const),
    );
    const file = path.join(work, 'mix.txt');
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${nameOf(i)} A`, `${nameOf(i)} AAAA`, `s${i}.ns${i % 50}.ns${(i + 7) % 50}.svc.${DOMAIN} A`);
    await fsp.writeFile(file, lines.join('\n') + '\n');
    log(`etcd: ${n} services; ${lines.length} distinct questions (A, AAAA NODATA, NXDOMAIN)`);
    const plain: DnsperfOptions = { clients: 4, threads: 2, outstanding: 200, queryTimeout: 2 };
    const withEdns: DnsperfOptions = { ...plain, extra: ['-e'] };
    const withDo: DnsperfOptions = { ...plain, extra: ['-D'] };

    for (const alg of ALGORITHMS) {
      log(`=== ${alg.name} ===`);
      const base = path.join(work, execFileSync('dnssec-keygen', ['-q', '-K', work, ...alg.keygen, '-n', 'ZONE', '-f', 'KSK', 'cluster.local'], { encoding: 'utf8' }).trim());
      const started: Server[] = [];
      try {
        const cached = await startSkydns(etcd.url, nameOf(0), ['-workers=1', `-dnssec=${base}`], 120_000, 'skydns');
        started.push(cached);
        const knot = knotd ? await startKnot(knotd, Array.from({ length: n }, (_, i) => `${nameOf(i)} ${RECORD_TTL} IN A ${ipOf(i)}`), nameOf(0), 0, 120_000, alg.knot) : null;
        if (knot) started.push(knot);
        const unsigned = await best(dnsperf, [cached, ...(knot ? [knot] : [])], file, seconds, rounds, plain);
        for (const [srv, p] of unsigned) rows.push(row(alg.name, 'unsigned (no DO)', srv, p));
        const unsignedEdns = await best(dnsperf, [cached, ...(knot ? [knot] : [])], file, seconds, rounds, withEdns);
        for (const [srv, p] of unsignedEdns) rows.push(row(alg.name, 'unsigned, EDNS0 without DO', srv, p));
        const signed = await best(dnsperf, [cached, ...(knot ? [knot] : [])], file, seconds, rounds, withDo);
        for (const [srv, p] of signed) rows.push(row(alg.name, 'signed (DO)', srv, p));
        await stopProgram(cached.prog);
        const noAnswers = await startSkydns(etcd.url, nameOf(0), ['-workers=1', `-dnssec=${base}`, '-answer-cache=0'], 120_000, 'skydns -answer-cache=0');
        started.push(noAnswers);
        for (const [srv, p] of await best(dnsperf, [noAnswers], file, seconds, rounds, withDo)) rows.push(row(alg.name, 'signed (DO), answer cache off', srv, p));
        await stopProgram(noAnswers.prog);
        const none = await startSkydns(etcd.url, nameOf(0), ['-workers=1', `-dnssec=${base}`, '-answer-cache=0', '-scache=0'], 120_000, 'skydns -answer-cache=0 -scache=0');
        started.push(none);
        for (const [srv, p] of await best(dnsperf, [none], file, seconds, rounds, withDo)) rows.push(row(alg.name, 'signed (DO), no caches: every set signed', srv, p));
      } finally {
        for (const s of started) await stopProgram(s.prog);
      }
    }
  } finally {
    await stopBenchEtcd(etcd);
    await removeTempDir(work);
  }
  const out: string[] = ['', 'skydns -dnssec beside knot signing the same records (dnsperf -c 4 -T 2 -q 200; DO = dnsperf -D)'];
  for (const [k, v] of Object.entries(machine)) out.push(`  ${k.padEnd(10)} ${v}`);
  out.push(`  ${'workload'.padEnd(44)} ${'server'.padEnd(34)} ${'qps'.padStart(8)} ${'µs/q'.padStart(7)}  ${'vs unsigned'.padStart(11)}  vs EDNS0`);
  for (const alg of ALGORITHMS) {
    out.push(`${alg.name}`);
    const mine = rows.filter((r) => r.algorithm === alg.name);
    const ratio = (r: Row, workload: string) => {
      const base = mine.find((x) => x.workload === workload && x.server.split(' ')[0] === r.server.split(' ')[0]);
      return base && r !== base && !r.workload.startsWith('unsigned') ? fmt(r.qps / base.qps, 2) : '';
    };
    for (const r of mine) {
      out.push(`  ${r.workload.padEnd(44)} ${r.server.padEnd(34)} ${String(Math.round(r.qps)).padStart(8)} ${fmt(r.cpuUsPerQuery, 1).padStart(7)}  ${ratio(r, 'unsigned (no DO)').padStart(11)}  ${ratio(r, 'unsigned, EDNS0 without DO')}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  await fsp.mkdir(RESULTS_DIR, { recursive: true });
  await writeJson(path.join(RESULTS_DIR, 'dnssec.json'), { machine, services: n, seconds, rounds, rows });
  log('results written to bench/results/dnssec.json');
  return 0;
}

runBench(main, () => envInt('BENCH_TIMEOUT_MIN', 30, 1, 600), 30);
