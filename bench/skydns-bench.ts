#!/usr/bin/env node
/**
 * skydns benchmark: skydns (dist/cmd/skydns.js) against Knot DNS serving the
 * same names, measured with dnsperf, at several record counts.
 *
 * For each N in BENCH_SIZES:
 *   1. a fresh etcd on loopback, loaded with N kube2sky-style A records under
 *      /skydns/local/cluster/svc/ns<i % 50>/svc<i>/<label> (etcd3 client, 128-put transactions);
 *   2. skydns on loopback: start-up time (spawn → /readyz 200 and a dig NOERROR), RSS;
 *   3. knotd serving the same names from a zone file (skipped if knotd is missing);
 *   4. the "Node floor" (bench/udp-floor.ts): a Node UDP server that answers every query
 *      with a fixed record and looks nothing up — the ceiling for a Node server here
 *      (BENCH_NODE_FLOOR=0 skips it);
 *   5. dnsperf against each server: a warm-up, then BENCH_ROUNDS alternating rounds
 *      (skydns, knot, floor, skydns, knot, floor, ...); the best round (highest qps) per server is reported.
 *
 * Prints figures and writes them to bench/results/latest.json. Asserts nothing.
 * Run: `npm run bench` (or `npx tsc -p tsconfig.json && node dist/bench/skydns-bench.js`).
 * See bench/README.md for the knobs.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { hashLabel } from '../lib/msg/record.js';
import { dig } from '../test/harness/dig.js';
import { rng } from '../test/harness/random.js';
import { type EtcdProcess } from '../test/harness/etcd.js';
import { RESULTS_DIR, ROOT, envArgs, envInt, fmt, httpGet, log, logMachine, logProblems, makeTempDir, memOf, metricSum, removeTempDir, runBench, startBenchEtcd, stopBenchEtcd, stopProgram, withTimeout, writeJson } from './common.js';
import { benchTools, DOMAIN, PerfResult, RECORD_TTL, Server, SkydnsStart, median, runDnsperf, startFloor, startKnot, startSkydns } from './dns-servers.js';

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const NAMESPACES = 50;
/** etcd's default --max-txn-ops is 128. */
const PUTS_PER_TXN = 128;
const TXN_CONCURRENCY = 8;

function envSizes(): number[] {
  const raw = process.env.BENCH_SIZES ?? '1000,100000';
  const sizes = raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 1_000_000)) {
    throw new Error(`BENCH_SIZES=${JSON.stringify(raw)}: expected comma-separated integers in [1, 1000000]`);
  }
  return sizes;
}

/**
 * Query mixes: "sample" = BENCH_QUERIES names drawn at random from all N (a hot set that
 * skydns's encoded-answer cache holds); "all" = every one of the N names once, shuffled
 * (at large N this defeats the answer cache and measures the resolver path).
 */
type Mix = 'sample' | 'all';

function envMixes(): Mix[] {
  const raw = process.env.BENCH_MIXES ?? 'sample,all';
  const mixes = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (mixes.length === 0 || mixes.some((m) => m !== 'sample' && m !== 'all')) {
    throw new Error(`BENCH_MIXES=${JSON.stringify(raw)}: expected a comma-separated list of "sample" and "all"`);
  }
  return [...new Set(mixes)] as Mix[];
}

interface Settings {
  sizes: number[];
  seconds: number;
  rounds: number;
  warmup: number;
  clients: number;
  threads: number;
  outstanding: number;
  queryTimeout: number;
  queries: number;
  mixes: Mix[];
  latencyQps: number;
  latencySeconds: number;
  knotWorkers: number;
  nodeFloor: boolean;
  skydnsArgs: string[];
  timeoutMin: number;
  seed: number;
}

function readSettings(): Settings {
  return {
    sizes: envSizes(),
    seconds: envInt('BENCH_SECONDS', 10, 1, 3600),
    rounds: envInt('BENCH_ROUNDS', 2, 1, 50),
    warmup: envInt('BENCH_WARMUP', 2, 0, 600),
    clients: envInt('BENCH_CLIENTS', 8, 1, 1000),
    threads: envInt('BENCH_THREADS', 1, 1, 64),
    outstanding: envInt('BENCH_OUTSTANDING', 100, 1, 65535),
    queryTimeout: envInt('BENCH_QUERY_TIMEOUT', 2, 1, 60),
    queries: envInt('BENCH_QUERIES', 10_000, 1, 10_000_000),
    mixes: envMixes(),
    latencyQps: envInt('BENCH_LATENCY_QPS', 5000, 0, 10_000_000),
    latencySeconds: envInt('BENCH_LATENCY_SECONDS', 5, 1, 3600),
    knotWorkers: envInt('BENCH_KNOT_UDP_WORKERS', 0, 0, 256),
    nodeFloor: envInt('BENCH_NODE_FLOOR', 1, 0, 1) === 1,
    skydnsArgs: envArgs('BENCH_SKYDNS_ARGS'),
    timeoutMin: envInt('BENCH_TIMEOUT_MIN', 60, 1, 24 * 60),
    seed: envInt('BENCH_SEED', 1, 0, 2 ** 31 - 1),
  };
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

interface Rec {
  name: string;
  key: string;
  value: string;
  ip: string;
}

function record(i: number): Rec {
  const n = i + 1; // 10.0.0.1, 10.0.0.2, ... distinct for i < 2^24 - 1
  const ip = `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  const ns = `ns${i % NAMESPACES}`;
  const value = `{"host":"${ip}","priority":10,"weight":10,"ttl":${RECORD_TTL},"targetstrip":0}`;
  return {
    name: `svc${i}.${ns}.svc.${DOMAIN}`,
    key: `/skydns/local/cluster/svc/${ns}/svc${i}/${hashLabel(value)}`,
    value,
    ip,
  };
}

/** knot's zone lines for records 0..n-1. */
function* knotRecords(n: number): Generator<string> {
  for (let i = 0; i < n; i++) {
    const r = record(i);
    yield `${r.name} ${RECORD_TTL} IN A ${r.ip}`;
  }
}

/** Loads records 0..n-1 with 128-put transactions, TXN_CONCURRENCY in flight. */
async function loadEtcd(url: string, n: number): Promise<{ seconds: number; keys: number }> {
  const client = new Etcd3({ hosts: url, dialTimeout: 5000 });
  const t0 = performance.now();
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let guard = 0; guard < n; guard++) {
        const from = next;
        if (from >= n) return;
        const to = Math.min(n, from + PUTS_PER_TXN);
        next = to;
        const success = [];
        for (let i = from; i < to; i++) {
          const r = record(i);
          success.push({ request_put: { key: Buffer.from(r.key), value: Buffer.from(r.value) } });
        }
        await withTimeout(client.kv.txn({ compare: [], success }), 30_000, `etcd txn of records ${from}..${to - 1}`);
      }
    };
    await Promise.all(Array.from({ length: TXN_CONCURRENCY }, () => worker()));
    const keys = Number(await withTimeout(client.getAll().prefix('/skydns/').count(), 30_000, 'etcd count'));
    return { seconds: (performance.now() - t0) / 1000, keys };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// dnsperf
// ---------------------------------------------------------------------------

/**
 * dnsperf query file (seeded): "sample" = `count` names drawn uniformly from all n names;
 * "all" = each of the n names once, in a random order. Returns the number of lines.
 */
async function writeQueryFile(file: string, mix: Mix, n: number, count: number, seed: number): Promise<number> {
  const rand = rng(seed);
  let idx: number[];
  if (mix === 'sample') {
    idx = Array.from({ length: count }, () => Math.floor(rand() * n));
  } else {
    idx = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
  }
  await fsp.writeFile(file, idx.map((i) => `${record(i).name} A\n`).join(''));
  return idx.length;
}

/** dig a few names on every server and compare the address answers. */
async function crossCheck(servers: Server[], n: number, seed: number): Promise<string[]> {
  const problems: string[] = [];
  const rand = rng(seed ^ 0x5bd1e995);
  const picks = [0, n - 1, ...Array.from({ length: 6 }, () => Math.floor(rand() * n))];
  for (const i of picks) {
    const r = record(i);
    for (const srv of servers) {
      try {
        const res = await dig({ port: srv.port, name: r.name });
        const got = res.answer.filter((a) => a.type === 'A').map((a) => a.data).join(',');
        if (res.status !== 'NOERROR' || got !== r.ip) problems.push(`${srv.label}: ${r.name} A → ${res.status} [${got}], expected NOERROR [${r.ip}]`);
      } catch (err) {
        problems.push(`${srv.label}: dig ${r.name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  // One miss: both should say NXDOMAIN.
  for (const srv of servers) {
    try {
      const res = await dig({ port: srv.port, name: `nosuchsvc.ns0.svc.${DOMAIN}` });
      if (res.status !== 'NXDOMAIN') problems.push(`${srv.label}: nosuchsvc.ns0.svc.${DOMAIN} A → ${res.status}, expected NXDOMAIN`);
    } catch (err) {
      problems.push(`${srv.label}: dig nosuchsvc: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// One size
// ---------------------------------------------------------------------------

interface ServerSummary {
  server: string;
  mix: Mix;
  queryLines: number;
  pick: 'best qps of rounds';
  qps: number;
  medianQps: number;
  avgLatencyMs: number;
  lostPct: number;
  rcodes: Record<string, number>;
  serverCpuPct: number | null;
  dnsperfCpuPct: number | null;
  otherCpuPct: number | null;
  rounds: Array<Omit<PerfResult, 'raw'>>;
}

interface LatencyRun {
  server: string;
  targetQps: number;
  qps: number;
  avgLatencyMs: number;
  stddevLatencyMs: number;
  maxLatencyMs: number;
  lostPct: number;
}

interface MixResult {
  mix: Mix;
  queryLines: number;
  results: ServerSummary[];
  /** Fixed-rate runs (dnsperf -Q): latency without saturation. */
  latency: LatencyRun[];
  ratioQps: number | null;
  /** skydns qps / the Node floor's qps: how close skydns is to what Node itself allows. */
  ratioFloorQps: number | null;
  skydnsAnswerCacheHitPct: number | null;
}

interface SizeResult {
  n: number;
  etcdLoadS: number;
  etcdKeys: number;
  skydns: {
    startupS: number;
    readyzS: number;
    etcdListMs: number | null;
    rssAfterLoadMiB: number | null;
    rssAfterBenchMiB: number | null;
    peakRssMiB: number | null;
    logProblems: string[];
    logFile: string;
  };
  knot: { startupS: number; rssAfterLoadMiB: number | null; rssAfterBenchMiB: number | null } | null;
  crossCheckProblems: string[];
  mixes: MixResult[];
  error?: string;
}

function summarise(server: string, mix: Mix, queryLines: number, rounds: PerfResult[]): ServerSummary {
  const best = rounds.reduce((a, b) => (b.qps > a.qps ? b : a));
  return {
    server,
    mix,
    queryLines,
    pick: 'best qps of rounds',
    qps: best.qps,
    medianQps: median(rounds.map((r) => r.qps)),
    avgLatencyMs: best.avgLatencyMs,
    lostPct: best.lostPct,
    rcodes: best.rcodes,
    serverCpuPct: best.serverCpuPct,
    dnsperfCpuPct: best.dnsperfCpuPct,
    otherCpuPct: best.otherCpuPct,
    rounds: rounds.map(({ raw: _raw, ...rest }) => rest),
  };
}

async function skydnsMetrics(metricsPort: number): Promise<string> {
  return (await httpGet(metricsPort, '/metrics')).body;
}

async function benchMix(mix: Mix, n: number, servers: Server[], sky: SkydnsStart, work: string, s: Settings, dnsperf: string): Promise<MixResult> {
  const queryFile = path.join(work, `queries-${mix}.txt`);
  const queryLines = await writeQueryFile(queryFile, mix, n, s.queries, s.seed);
  log(`--- N = ${n}, mix "${mix}" (${queryLines} query lines) ---`);
  if (s.warmup > 0) {
    for (const srv of servers) {
      const w = await runDnsperf(dnsperf, srv, queryFile, s.warmup, 0, s);
      log(`warm-up ${srv.label.padEnd(6)} ${s.warmup} s: ${w.qps.toFixed(0)} qps, lost ${w.lost}`);
    }
  }
  const counters = async (): Promise<{ req: number | null; hits: number | null }> => {
    try {
      const text = await skydnsMetrics(sky.metricsPort);
      return { req: metricSum(text, 'skydns_skydns_dns_request_count_total'), hits: metricSum(text, 'skydns_skydns_answer_cache_hits_total') };
    } catch {
      return { req: null, hits: null };
    }
  };
  const c0 = await counters();
  const perServer = new Map<string, PerfResult[]>(servers.map((x) => [x.label, []]));
  for (let round = 1; round <= s.rounds; round++) {
    for (const srv of servers) {
      const r = await runDnsperf(dnsperf, srv, queryFile, s.seconds, round, s);
      perServer.get(srv.label)?.push(r);
      log(
        `round ${round} ${srv.label.padEnd(6)}: ${r.qps.toFixed(0).padStart(7)} qps, avg ${r.avgLatencyMs.toFixed(3)} ms ` +
          `(max ${r.maxLatencyMs.toFixed(1)} ms), lost ${r.lost}/${r.sent}, rcodes ${JSON.stringify(r.rcodes)}, ` +
          `cpu: server ${r.serverCpuPct?.toFixed(0) ?? '?'}%, dnsperf ${r.dnsperfCpuPct?.toFixed(0) ?? '?'}%, other ${r.otherCpuPct?.toFixed(0) ?? '?'}%`,
      );
    }
  }
  const c1 = await counters();
  const latency: LatencyRun[] = [];
  if (s.latencyQps > 0) {
    for (const srv of servers) {
      const r = await runDnsperf(dnsperf, srv, queryFile, s.latencySeconds, -1, s, s.latencyQps);
      latency.push({
        server: srv.label,
        targetQps: s.latencyQps,
        qps: r.qps,
        avgLatencyMs: r.avgLatencyMs,
        stddevLatencyMs: r.stddevLatencyMs,
        maxLatencyMs: r.maxLatencyMs,
        lostPct: r.lostPct,
      });
      log(`at ${s.latencyQps} qps ${srv.label.padEnd(6)}: avg ${r.avgLatencyMs.toFixed(3)} ms (sd ${r.stddevLatencyMs.toFixed(3)}, max ${r.maxLatencyMs.toFixed(1)} ms), lost ${r.lost}/${r.sent}`);
    }
  }
  const results = servers.map((srv) => summarise(srv.label, mix, queryLines, perServer.get(srv.label) ?? []));
  const skyQps = results.find((r) => r.server === 'skydns')?.qps;
  const knotQps = results.find((r) => r.server === 'knot')?.qps;
  const floorQps = results.find((r) => r.server === 'floor')?.qps;
  const dReq = c0.req !== null && c1.req !== null ? c1.req - c0.req : null;
  const dHits = c0.hits !== null && c1.hits !== null ? c1.hits - c0.hits : null;
  return {
    mix,
    queryLines,
    results,
    latency,
    ratioQps: skyQps !== undefined && knotQps !== undefined && knotQps > 0 ? skyQps / knotQps : null,
    ratioFloorQps: skyQps !== undefined && floorQps !== undefined && floorQps > 0 ? skyQps / floorQps : null,
    skydnsAnswerCacheHitPct: dReq !== null && dHits !== null && dReq > 0 ? (100 * dHits) / dReq : null,
  };
}

async function benchSize(n: number, s: Settings, tools: { dnsperf: string; knotd: string | null }): Promise<SizeResult> {
  log(`=== N = ${n} ===`);
  let etcd: EtcdProcess | undefined;
  let sky: SkydnsStart | undefined;
  let knot: (Server & { dir: string }) | undefined;
  let floor: Server | undefined;
  const work = await makeTempDir('skydns-bench', `n${n}`);
  const probe = record(n - 1).name;
  try {
    etcd = await startBenchEtcd('bench');
    log(`etcd ${etcd.url} (pid ${etcd.pid}); loading ${n} records`);
    const load = await loadEtcd(etcd.url, n);
    log(`loaded ${load.keys} keys in ${load.seconds.toFixed(2)} s (${Math.round(load.keys / load.seconds)} keys/s)`);

    const startTimeout = Math.max(60_000, n * 2); // 100k → 200 s
    sky = await startSkydns(etcd.url, probe, s.skydnsArgs, startTimeout);
    log(`skydns up in ${sky.startupS.toFixed(2)} s (readyz ${sky.readyzS.toFixed(2)} s, etcd list ${sky.listMs ?? '?'} ms), RSS ${sky.rssAfterLoadMiB?.toFixed(1) ?? '?'} MiB`);

    const servers: Server[] = [sky];
    if (tools.knotd !== null) {
      knot = await startKnot(tools.knotd, knotRecords(n), probe, s.knotWorkers, startTimeout);
      log(`knotd up in ${knot.startupS.toFixed(2)} s, RSS ${knot.rssAfterLoadMiB?.toFixed(1) ?? '?'} MiB`);
      servers.push(knot);
    }

    // The floor answers every name with one address: not part of the cross-check.
    const crossCheckProblems = await crossCheck(servers, n, s.seed);
    if (s.nodeFloor) {
      floor = await startFloor(probe, startTimeout);
      log(`udp-floor up in ${floor.startupS.toFixed(2)} s`);
      servers.push(floor);
    }
    for (const p of crossCheckProblems) log(`CHECK: ${p}`);

    const mixes: MixResult[] = [];
    for (const mix of s.mixes) mixes.push(await benchMix(mix, n, servers, sky, work, s, tools.dnsperf));

    const skyMem = memOf(sky.prog.pid);
    const knotMem = knot ? memOf(knot.prog.pid) : null;
    await fsp.mkdir(RESULTS_DIR, { recursive: true });
    const logFile = path.join(RESULTS_DIR, `skydns-${n}.log`);
    await fsp.writeFile(logFile, sky.prog.output());
    try {
      await fsp.writeFile(path.join(RESULTS_DIR, `skydns-${n}.metrics.txt`), await skydnsMetrics(sky.metricsPort));
    } catch (err) {
      log(`cannot fetch skydns /metrics: ${(err as Error).message}`);
    }
    return {
      n,
      etcdLoadS: load.seconds,
      etcdKeys: load.keys,
      skydns: {
        startupS: sky.startupS,
        readyzS: sky.readyzS,
        etcdListMs: sky.listMs,
        rssAfterLoadMiB: sky.rssAfterLoadMiB,
        rssAfterBenchMiB: skyMem?.rssMiB ?? null,
        peakRssMiB: skyMem?.hwmMiB ?? null,
        logProblems: logProblems(sky.prog.output()).slice(0, 50),
        logFile: path.relative(ROOT, logFile),
      },
      knot: knot ? { startupS: knot.startupS, rssAfterLoadMiB: knot.rssAfterLoadMiB, rssAfterBenchMiB: knotMem?.rssMiB ?? null } : null,
      crossCheckProblems,
      mixes,
    };
  } finally {
    if (sky) {
      await stopProgram(sky.prog);
      if (sky.prog.running()) log(`skydns (pid ${sky.prog.pid}) still running after stop!`);
    }
    if (knot) {
      await stopProgram(knot.prog);
      const out = knot.prog.output().trim();
      if (out !== '') log(`knotd output:\n${out.slice(-2000)}`);
      await removeTempDir(knot.dir);
    }
    if (floor) await stopProgram(floor.prog);
    if (etcd) await stopBenchEtcd(etcd);
    await removeTempDir(work);
  }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

function printReport(machine: Record<string, string>, s: Settings, sizes: SizeResult[]): void {
  const out: string[] = [];
  out.push('');
  out.push('skydns benchmark');
  for (const [k, v] of Object.entries(machine)) out.push(`  ${k.padEnd(10)} ${v}`);
  out.push(
    `  settings   dnsperf -l ${s.seconds} -c ${s.clients} -T ${s.threads} -q ${s.outstanding} -t ${s.queryTimeout}; ` +
      `${s.rounds} round(s) per server and mix after a ${s.warmup} s warm-up; mixes ${s.mixes.join(', ')}; ` +
      `${s.latencyQps > 0 ? `then ${s.latencySeconds} s at -Q ${s.latencyQps} for latency; ` : ''}` +
      'qps/latency/lost = best round (highest qps), median = median qps of the rounds; cpu % = server CPU time / wall time (100 = one core), other % = CPU used by anything but the server and dnsperf (background noise)',
  );
  if (s.skydnsArgs.length) out.push(`  skydns     extra args: ${s.skydnsArgs.join(' ')}`);
  for (const r of sizes) {
    out.push('');
    out.push(`N = ${r.n} records`);
    if (r.error) {
      out.push(`  FAILED: ${r.error.split('\n').slice(0, 12).join('\n    ')}`);
      continue;
    }
    out.push(`  ${'server'.padEnd(8)} ${'mix'.padEnd(14)} ${'qps'.padStart(8)} ${'median'.padStart(8)} ${'avg ms'.padStart(7)} ${'lost %'.padStart(7)} ${'cpu %'.padStart(6)} ${'other %'.padStart(7)}  rcodes`);
    for (const m of r.mixes) {
      for (const x of m.results) {
        out.push(
          `  ${x.server.padEnd(8)} ${`${m.mix} (${m.queryLines})`.padEnd(14)} ${fmt(x.qps, 0).padStart(8)} ${fmt(x.medianQps, 0).padStart(8)} ${fmt(x.avgLatencyMs, 3).padStart(7)} ` +
            `${fmt(x.lostPct, 3).padStart(7)} ${fmt(x.serverCpuPct, 0).padStart(6)} ${fmt(x.otherCpuPct, 0).padStart(7)}  ${Object.entries(x.rcodes).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        );
      }
      for (const l of m.latency) {
        out.push(
          `  ${l.server.padEnd(8)} ${m.mix.padEnd(14)} at -Q ${l.targetQps}: avg ${fmt(l.avgLatencyMs, 3)} ms, sd ${fmt(l.stddevLatencyMs, 3)} ms, ` +
            `max ${fmt(l.maxLatencyMs, 1)} ms, lost ${fmt(l.lostPct, 3)} %`,
        );
      }
      out.push(
        `  ${''.padEnd(8)} ${m.mix.padEnd(14)} qps ratio skydns/knot: ${m.ratioQps === null ? '- (knot not run)' : m.ratioQps.toFixed(3)}; ` +
          `skydns/floor: ${m.ratioFloorQps === null ? '- (floor not run)' : m.ratioFloorQps.toFixed(3)}; ` +
          `skydns answer-cache hits ${fmt(m.skydnsAnswerCacheHitPct, 1)}%`,
      );
    }
    out.push(
      `  skydns: start-up ${fmt(r.skydns.startupS, 2)} s (readyz at ${fmt(r.skydns.readyzS, 2)} s, etcd list ${r.skydns.etcdListMs ?? '-'} ms); ` +
        `RSS ${fmt(r.skydns.rssAfterLoadMiB, 1)} MiB after load, ${fmt(r.skydns.rssAfterBenchMiB, 1)} MiB after bench, peak ${fmt(r.skydns.peakRssMiB, 1)} MiB`,
    );
    if (r.knot) out.push(`  knot:   start-up ${fmt(r.knot.startupS, 2)} s; RSS ${fmt(r.knot.rssAfterLoadMiB, 1)} MiB after load, ${fmt(r.knot.rssAfterBenchMiB, 1)} MiB after bench`);
    out.push(`  etcd load: ${r.etcdKeys} keys in ${fmt(r.etcdLoadS, 2)} s`);
    if (r.crossCheckProblems.length) out.push(`  answer cross-check problems: ${r.crossCheckProblems.length}`, ...r.crossCheckProblems.map((p) => `    ${p}`));
    if (r.skydns.logProblems.length) out.push(`  skydns WARN/ERROR log lines: ${r.skydns.logProblems.length} (see ${r.skydns.logFile})`, ...r.skydns.logProblems.slice(0, 5).map((p) => `    ${p}`));
  }
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const s = readSettings();

  const { dnsperf, knotd, machine } = benchTools();
  logMachine(machine, 'the "other %" column');

  const sizes: SizeResult[] = [];
  for (const n of s.sizes) {
    try {
      sizes.push(await benchSize(n, s, { dnsperf, knotd }));
    } catch (err) {
      const msg = (err as Error).message;
      log(`N = ${n} failed: ${msg}`);
      sizes.push({
        n,
        etcdLoadS: NaN,
        etcdKeys: 0,
        skydns: { startupS: NaN, readyzS: NaN, etcdListMs: null, rssAfterLoadMiB: null, rssAfterBenchMiB: null, peakRssMiB: null, logProblems: [], logFile: '' },
        knot: null,
        crossCheckProblems: [],
        mixes: [],
        error: msg,
      });
    }
  }

  printReport(machine, s, sizes);
  await fsp.mkdir(RESULTS_DIR, { recursive: true });
  const jsonFile = path.join(RESULTS_DIR, 'latest.json');
  await writeJson(jsonFile, { machine, settings: s, sizes });
  log(`results written to ${path.relative(ROOT, jsonFile)}`);
  return sizes.some((r) => r.error !== undefined) ? 1 : 0;
}

runBench(main, () => readSettings().timeoutMin, 60);
