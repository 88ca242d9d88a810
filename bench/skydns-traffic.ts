#!/usr/bin/env node
/**
 * skydns under the traffic real clusters send, side by side with Knot DNS in
 * one run (see bench/README.md, "Real cluster traffic"):
 *
 * - the pod's-eye mix: for every service the queries a pod with `ndots:5`
 *   sends — its A (an answer), its AAAA (NODATA), the search-path miss of a
 *   pod in another namespace (NXDOMAIN), and an external name walking the
 *   three cluster suffixes (NXDOMAIN each): six distinct questions per service;
 * - static records, and records changing while the queries flow: C changes a
 *   second (each re-addresses one service: a new leaf put and the old one
 *   deleted; the changes due every 20 ms go in one etcd transaction, as
 *   kube2sky writes them), outside the queried names or among them;
 * - skydns with 1 worker and with -workers=auto;
 * - per workload: throughput (dnsperf, best of the rounds, alternating skydns
 *   and knot), the server's CPU per query, and the latency percentiles of
 *   every answer at a fixed rate of half of skydns's static maximum;
 * - the first second after start: 20,000 queries a second from the moment
 *   /readyz turns 200 (knot: from the moment it answers).
 *
 * knot serves the same names from a zone file and is never churned; it is the
 * reference. Everything listens on 127.0.0.1. Prints a table, writes
 * bench/results/traffic.json. Asserts nothing.
 *
 * Run: `npm run bench:traffic` (or, built: `node dist/bench/skydns-traffic.js`).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { hashLabel } from '../lib/msg/record.js';
import { type EtcdProcess } from '../test/harness/etcd.js';
import { rng } from '../test/harness/random.js';
import { sleep } from '../test/harness/proc.js';
import { dig } from '../test/harness/dig.js';
import { RESULTS_DIR, ROOT, mainThreadCpuSeconds, withChildren, envInt, fmt, httpGet, log, logMachine, logProblems, makeTempDir, memOf, metricSum, removeTempDir, runBench, running, start, startBenchEtcd, stopBenchEtcd, stopProgram, withTimeout, writeJson } from './common.js';
import { type CpuSplit, type Faults, type Hold, type QueryThread, type TraceFindings, SchedTrace, clearOfHolds, cpuSplit, describeHolds, drainFactor, faultsOf, lateWakes, faultsText, freshPageMicros, queryThreadText, withSplit } from './cpu-split.js';
import { benchTools, DOMAIN, Latency, PerfResult, RECORD_TTL, Server, SkydnsStart, dnslatBinary, dnslatRealtime, median, percentile, readLatencies, runDnslat, runDnsperf, spawnVerbose, startKnot, startSkydns, summariseLatency } from './dns-servers.js';

const NAMESPACES = 50;
const PUTS_PER_TXN = 128;

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

interface Churn {
  rate: number;
  /** outside: services that are never queried; inside: the queried ones. */
  scope: 'outside' | 'inside';
}

interface Settings {
  sizes: number[];
  workers: string[];
  churn: Churn[];
  pool: number;
  seconds: number;
  rounds: number;
  warmup: number;
  clients: number;
  threads: number;
  outstanding: number;
  queryTimeout: number;
  latencySeconds: number;
  latencyThreads: number;
  latencyClient: 'dnslat' | 'dnsperf';
  firstQps: number;
  /** TRAFFIC_LATENCY_QPS: the latency runs' fixed rate; 0 for half of skydns's static maximum. */
  latencyQps: number;
  seed: number;
  timeoutMin: number;
}

function list(name: string, def: string): string[] {
  return (process.env[name] ?? def).split(',').map((x) => x.trim()).filter((x) => x !== '');
}

function readSettings(): Settings {
  const sizes = list('TRAFFIC_SERVICES', '5000,100000').map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 10 || n > 1_000_000)) throw new Error('TRAFFIC_SERVICES: comma-separated integers in [10, 1000000]');
  const workers = list('TRAFFIC_WORKERS', '1,auto');
  if (workers.some((w) => w !== 'auto' && !/^[1-9][0-9]?$/.test(w))) throw new Error('TRAFFIC_WORKERS: comma-separated counts or "auto"');
  const churn = list('TRAFFIC_CHURN', '200:outside,1000:outside,200:inside').map((c) => {
    const m = /^(\d+):(outside|inside)$/.exec(c);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 20_000) throw new Error(`TRAFFIC_CHURN: "${c}" is not <changes per second>:outside|inside`);
    return { rate: Number(m[1]), scope: m[2] as Churn['scope'] };
  });
  return {
    sizes,
    workers,
    churn,
    pool: envInt('TRAFFIC_CHURN_POOL', 1000, 1, 100_000),
    seconds: envInt('BENCH_SECONDS', 10, 1, 3600),
    rounds: envInt('BENCH_ROUNDS', 2, 1, 50),
    warmup: envInt('BENCH_WARMUP', 2, 0, 600),
    clients: envInt('BENCH_CLIENTS', 4, 1, 1000),
    threads: envInt('BENCH_THREADS', 2, 1, 64),
    outstanding: envInt('BENCH_OUTSTANDING', 200, 1, 65535),
    queryTimeout: envInt('BENCH_QUERY_TIMEOUT', 2, 1, 60),
    latencySeconds: envInt('BENCH_LATENCY_SECONDS', 5, 1, 3600),
    // One dnsperf thread for the fixed-rate runs: on the load's own CPU(s), two contend with each other.
    latencyThreads: envInt('BENCH_LATENCY_THREADS', 1, 1, 64),
    // dnslat (bench/dnslat.c) by default; dnsperf -v costs the load side ~10 µs a query.
    latencyClient: process.env.BENCH_LATENCY_CLIENT === 'dnsperf' ? 'dnsperf' : 'dnslat',
    firstQps: envInt('TRAFFIC_FIRST_QPS', 20_000, 0, 1_000_000),
    // 0: half of skydns's static maximum in this run. A fixed rate compares builds at one load.
    latencyQps: envInt('TRAFFIC_LATENCY_QPS', 0, 0, 1_000_000),
    seed: envInt('BENCH_SEED', 1, 0, 2 ** 31 - 1),
    timeoutMin: envInt('BENCH_TIMEOUT_MIN', 120, 1, 24 * 60),
  };
}

// ---------------------------------------------------------------------------
// Records and queries
// ---------------------------------------------------------------------------

/** Service i's address in generation `gen` (even and odd generations use two disjoint ranges). */
function ipOf(i: number, gen: number): string {
  const n = i + 1;
  return `10.${(gen % 2 === 0 ? 0 : 128) + ((n >>> 16) & 127)}.${(n >>> 8) & 255}.${n & 255}`;
}

const nsOf = (i: number) => `ns${i % NAMESPACES}`;
const nameOf = (i: number) => `svc${i}.${nsOf(i)}.svc.${DOMAIN}`;

/** The A leaf of service i in generation gen: kube2sky's layout and bytes. */
function aLeaf(i: number, gen: number): { key: string; value: string } {
  const value = `{"host":"${ipOf(i, gen)}","priority":10,"weight":10,"ttl":${RECORD_TTL},"targetstrip":0}`;
  return { key: `/skydns/local/cluster/svc/${nsOf(i)}/svc${i}/${hashLabel(value)}`, value };
}

/** The SRV leaf of service i (named port "http" 80). */
function srvLeaf(i: number): { key: string; value: string } {
  const value = `{"host":"${nameOf(i)}","port":80,"priority":10,"weight":10,"ttl":${RECORD_TTL},"targetstrip":0}`;
  return { key: `/skydns/local/cluster/svc/${nsOf(i)}/svc${i}/_tcp/_http/${hashLabel(value)}`, value };
}

async function loadEtcd(url: string, total: number): Promise<{ seconds: number; keys: number }> {
  const client = new Etcd3({ hosts: url, dialTimeout: 5000 });
  const t0 = performance.now();
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const from = next;
        if (from >= total) return;
        const to = Math.min(total, from + PUTS_PER_TXN / 2);
        next = to;
        const success = [];
        for (let i = from; i < to; i++) {
          for (const leaf of [aLeaf(i, 0), srvLeaf(i)]) success.push({ request_put: { key: Buffer.from(leaf.key), value: Buffer.from(leaf.value) } });
        }
        await withTimeout(client.kv.txn({ compare: [], success }), 30_000, `etcd txn of services ${from}..${to - 1}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => worker()));
    const keys = Number(await withTimeout(client.getAll().prefix('/skydns/').count(), 30_000, 'etcd count'));
    return { seconds: (performance.now() - t0) / 1000, keys };
  } finally {
    client.close();
  }
}

function* knotRecords(total: number): Generator<string> {
  for (let i = 0; i < total; i++) {
    yield `${nameOf(i)} ${RECORD_TTL} IN A ${ipOf(i, 0)}`;
    yield `_http._tcp.${nameOf(i)} ${RECORD_TTL} IN SRV 10 100 80 ${nameOf(i)}`;
  }
}

/** The pod's-eye mix for services 0..n-1, shuffled (seeded): six lines per service. */
async function writeMix(file: string, n: number, seed: number): Promise<number> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const other = `ns${(i + 7) % NAMESPACES}`;
    const ext = `ext${i}.example.com`;
    lines.push(
      `${nameOf(i)} A`,
      `${nameOf(i)} AAAA`,
      `svc${i}.${nsOf(i)}.${other}.svc.${DOMAIN} A`,
      `${ext}.${other}.svc.${DOMAIN} A`,
      `${ext}.svc.${DOMAIN} A`,
      `${ext}.${DOMAIN} A`,
    );
  }
  const r = rng(seed);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  await fsp.writeFile(file, lines.join('\n') + '\n');
  return lines.length;
}

/** A few questions of the mix on every server: the same rcode and addresses everywhere. */
async function crossCheck(servers: Server[], n: number): Promise<string[]> {
  const problems: string[] = [];
  const i = Math.floor(n / 3);
  const probes: [string, 'A' | 'AAAA', string, string][] = [
    [nameOf(i), 'A', 'NOERROR', ipOf(i, 0)],
    [nameOf(i), 'AAAA', 'NOERROR', ''],
    [`svc${i}.${nsOf(i)}.ns3.svc.${DOMAIN}`, 'A', 'NXDOMAIN', ''],
    [`ext${i}.example.com.svc.${DOMAIN}`, 'A', 'NXDOMAIN', ''],
  ];
  for (const [name, type, status, addr] of probes) {
    for (const srv of servers) {
      try {
        const res = await dig({ port: srv.port, name, type });
        const got = res.answer.filter((a) => a.type === type).map((a) => a.data).join(',');
        if (res.status !== status || got !== addr) problems.push(`${srv.label}: ${name} ${type} → ${res.status} [${got}], expected ${status} [${addr}]`);
      } catch (err) {
        problems.push(`${srv.label}: dig ${name} ${type}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Churn: records changing while queries flow
// ---------------------------------------------------------------------------

class Churner {
  private readonly client: Etcd3;
  private readonly gens = new Map<number, number>();
  private stopped = false;
  private loop: Promise<void> | null = null;
  done = 0;
  errors = 0;
  private t0 = 0;
  private t1 = 0;

  constructor(url: string, private readonly services: readonly number[], private readonly rate: number, private readonly seed: number) {
    this.client = new Etcd3({ hosts: url, dialTimeout: 5000 });
  }

  start(): void {
    this.t0 = performance.now();
    this.loop = this.run();
  }

  /** Changes per second actually made. */
  get achieved(): number {
    const end = this.t1 || performance.now();
    return this.done / Math.max(0.001, (end - this.t0) / 1000);
  }

  /** Re-addresses services: each a new A leaf put and the old one deleted, all in one transaction (as kube2sky writes). */
  private async change(services: number[]): Promise<void> {
    const success = [];
    for (const i of services) {
      const gen = this.gens.get(i) ?? 0;
      const old = aLeaf(i, gen);
      const fresh = aLeaf(i, gen + 1);
      this.gens.set(i, gen + 1);
      success.push({ request_put: { key: Buffer.from(fresh.key), value: Buffer.from(fresh.value) } }, { request_delete_range: { key: Buffer.from(old.key) } });
    }
    await this.client.kv.txn({ compare: [], success });
  }

  private async run(): Promise<void> {
    const r = rng(this.seed);
    let inFlight = 0;
    let launched = 0;
    while (!this.stopped) {
      // The changes due by now, at most 64 (128 operations, etcd's default limit) per transaction.
      const due = Math.floor((this.rate * (performance.now() - this.t0)) / 1000);
      while (launched < due && inFlight < 8) {
        const batch: number[] = [];
        const seen = new Set<number>();
        while (launched < due && batch.length < 64) {
          const i = this.services[Math.floor(r() * this.services.length)];
          launched++;
          if (seen.has(i)) continue; // one change per service per transaction
          seen.add(i);
          batch.push(i);
        }
        inFlight++;
        this.change(batch).then(
          () => {
            inFlight--;
            this.done += batch.length;
          },
          () => {
            inFlight--;
            this.errors += batch.length;
          },
        );
      }
      await sleep(20);
    }
    for (let k = 0; k < 400 && inFlight > 0; k++) await sleep(5);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.t1 = performance.now();
    await this.loop;
    this.client.close();
  }
}

// ---------------------------------------------------------------------------
// Latency at a fixed rate: every answer's latency (dnsperf -v)
// ---------------------------------------------------------------------------

/**
 * Every answer's latency of `seconds` at `rate` queries a second (the first
 * `limit` answers only), and when each answer's query went out (CLOCK_MONOTONIC
 * seconds; null with dnsperf -v, which does not say).
 */
async function latencyRun(label: string, port: number, seconds: number, rate: number, ctx: SizeCtx, limit = Infinity): Promise<{ ms: Float64Array; sentS: Float64Array | null; lost: number; clientPid?: number }> {
  const out = path.join(ctx.work, `latency-${label}`);
  if (ctx.dnslat) {
    const r = await runDnslat(ctx.dnslat, port, ctx.queryFile, seconds, rate, ctx.s.clients, ctx.s.queryTimeout, out, limit);
    return { ...r, clientPid: r.pid };
  }
  await spawnVerbose(ctx.dnsperf, port, ctx.queryFile, seconds, rate, { ...ctx.s, threads: ctx.s.latencyThreads }, out);
  const l = await readLatencies(out, limit);
  await fsp.rm(out, { force: true });
  return { ...l, sentS: null };
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

interface Throughput {
  server: string;
  qps: number;
  medianQps: number;
  cpuUsPerQuery: number | null;
  lostPct: number;
  otherCpuPct: number | null;
  rcodes: Record<string, number>;
}

/**
 * Latency, the other tasks that held the CPUs left to the server meanwhile
 * (null: not traced), and the percentiles of the answers none of those holds
 * can have delayed (clearOfHolds; null: not traced, or dnsperf -v measured);
 * the server's page faults; for skydns, where its query thread ran and
 * waited, its busy share (/proc), and its late wakes (lateWakes).
 */
type TracedLatency = Latency & {
  holds: Hold[] | null;
  /** The tasks that kept the latency client from its CPU (null: not traced): their bursts' answers are not clear. */
  clientHolds: Hold[] | null;
  /** The times the server's CPU itself did not run, a timer tick missed (null: ticks not traced): holds too. */
  stalls: TraceFindings['stalls'];
  helperHolds: Hold[] | null;
  clear: { answered: number; p99: number; p999: number; drain: number } | null;
  faults: Faults | null;
  queryThread: QueryThread | null;
  busy: number | null;
  late: { count: number; byOwn: number; maxMs: number } | null;
};

interface Workload {
  name: string;
  churn: Churn | null;
  churnAchieved: number | null;
  churnErrors: number;
  throughput: Throughput[];
  /** At half of skydns's static maximum, with the load on CPUs of its own (cpu-split.ts). */
  latency: TracedLatency[];
  /** skydns's garbage collections during its latency run (one worker only; null: not known). */
  gc: { scavengesPerS: number; scavengeMsPerS: number; majors: number; majorMs: number; markingMs: number; newSpaceMiB: [number, number]; oldSpaceMiB: number } | null;
  cacheHitPct: number | null;
  invalidations: number | null;
}

function summarise(server: string, rounds: PerfResult[]): Throughput {
  const best = rounds.reduce((a, b) => (b.qps > a.qps ? b : a));
  return {
    server,
    qps: best.qps,
    medianQps: median(rounds.map((r) => r.qps)),
    cpuUsPerQuery: best.serverCpuPct !== null && best.qps > 0 ? (best.serverCpuPct / 100 / best.qps) * 1e6 : null,
    lostPct: best.lostPct,
    otherCpuPct: best.otherCpuPct,
    rcodes: best.rcodes,
  };
}

async function metricsOf(sky: SkydnsStart): Promise<{ req: number; hits: number; inval: number } | null> {
  try {
    const text = (await httpGet(sky.metricsPort, '/metrics')).body;
    const sum = (name: string) => metricSum(text, name) ?? 0;
    return { req: sum('skydns_skydns_dns_request_count_total'), hits: sum('skydns_skydns_answer_cache_hits_total'), inval: sum('skydns_skydns_answer_cache_invalidations_total') };
  } catch {
    return null;
  }
}

/** skydns's garbage collections so far (prom-client's nodejs_gc_duration_seconds, kept by the process that serves /metrics). */
async function gcOf(sky: SkydnsStart): Promise<{ minor: number; minorS: number; major: number; majorS: number; incrementalS: number; newSpaceMiB: number; oldSpaceMiB: number } | null> {
  try {
    const text = (await httpGet(sky.metricsPort, '/metrics')).body;
    const get = (series: string, kind: string) => metricSum(text, `nodejs_gc_duration_seconds_${series}{kind="${kind}"}`) ?? 0;
    const space = (name: string) => (metricSum(text, `nodejs_heap_space_size_total_bytes{space="${name}"}`) ?? NaN) / 1048576;
    return { minor: get('count', 'minor'), minorS: get('sum', 'minor'), major: get('count', 'major'), majorS: get('sum', 'major'), incrementalS: get('sum', 'incremental'), newSpaceMiB: space('new'), oldSpaceMiB: space('old') };
  } catch {
    return null;
  }
}

async function workload(name: string, churn: Churn | null, sky: SkydnsStart, oneWorker: boolean, knot: Server | null, ctx: SizeCtx, latencyRate: number | null): Promise<Workload> {
  const { s, dnsperf, queryFile } = ctx;
  log(`--- ${name} ---`);
  let churner: Churner | null = null;
  if (churn) {
    const services = churn.scope === 'outside' ? Array.from({ length: s.pool }, (_, k) => ctx.n + k) : Array.from({ length: ctx.n }, (_, k) => k);
    churner = new Churner(ctx.etcdUrl, services, churn.rate, s.seed + churn.rate);
    churner.start();
  }
  const servers = knot ? [sky, knot] : [sky];
  try {
    if (s.warmup > 0) for (const srv of servers) await runDnsperf(dnsperf, srv, queryFile, s.warmup, 0, s);
    const m0 = await metricsOf(sky);
    const rounds = new Map<string, PerfResult[]>(servers.map((x) => [x.label, []]));
    for (let round = 1; round <= s.rounds; round++) {
      for (const srv of servers) {
        const r = await runDnsperf(dnsperf, srv, queryFile, s.seconds, round, s);
        rounds.get(srv.label)!.push(r);
        log(`round ${round} ${srv.label.padEnd(10)} ${r.qps.toFixed(0).padStart(7)} qps, cpu ${r.serverCpuPct?.toFixed(0) ?? '?'}%, lost ${r.lost}/${r.sent}, other ${r.otherCpuPct?.toFixed(0) ?? '?'}%${churner ? `, churn ${churner.achieved.toFixed(0)}/s` : ''}`);
      }
    }
    const m1 = await metricsOf(sky);
    const throughput = servers.map((srv) => summarise(srv.label, rounds.get(srv.label)!));
    const rate = latencyRate ?? Math.round(throughput[0].qps / 2);
    const latency: Workload['latency'] = [];
    let gc: Workload['gc'] = null;
    for (const srv of servers) {
      // The other server is load too while this one is measured: an idle skydns still applies the churn.
      const others = servers.filter((x) => x !== srv).flatMap((x) => withChildren(x.prog.pid));
      // With one worker the process serving /metrics is the one answering: its collections meanwhile.
      const g0 = srv === sky && oneWorker ? await gcOf(sky) : null;
      const l = await tracedLatencyRun(srv.label, srv.port, srv.prog.pid, s.latencySeconds, rate, ctx, others);
      const g1 = g0 ? await gcOf(sky) : null;
      if (g0 && g1) {
        gc = { scavengesPerS: (g1.minor - g0.minor) / s.latencySeconds, scavengeMsPerS: ((g1.minorS - g0.minorS) * 1000) / s.latencySeconds, majors: g1.major - g0.major, majorMs: (g1.majorS - g0.majorS) * 1000, markingMs: (g1.incrementalS - g0.incrementalS) * 1000, newSpaceMiB: [g0.newSpaceMiB, g1.newSpaceMiB], oldSpaceMiB: g1.oldSpaceMiB };
        log(`${srv.label} meanwhile: ${gcText(gc)}`);
      }
      latency.push(l);
      log(`at ${rate} qps ${srv.label.padEnd(10)} p50 ${fmt(l.p50, 3)} ms, p99 ${fmt(l.p99, 3)} ms, p99.9 ${fmt(l.p999, 3)} ms, max ${fmt(l.max, 1)} ms, lost ${l.lost}; ${faultsText(l.faults, pageMicros)}${holdsText(l, ctx)}`);
    }
    return {
      name,
      churn,
      churnAchieved: churner ? churner.achieved : null,
      churnErrors: churner ? churner.errors : 0,
      throughput,
      latency,
      gc,
      cacheHitPct: m0 && m1 && m1.req > m0.req ? (100 * (m1.hits - m0.hits)) / (m1.req - m0.req) : null,
      invalidations: m0 && m1 ? m1.inval - m0.inval : null,
    };
  } finally {
    if (churner) await churner.stop();
  }
}

/**
 * latencyRun with the load on CPUs of its own (cpu-split.ts: this process and
 * its children, etcd, and `otherLoad`), and the other tasks that held the
 * server's CPUs meanwhile (null: not traced).
 */
async function tracedLatencyRun(label: string, port: number, pid: number, seconds: number, rate: number, ctx: SizeCtx, otherLoad: number[] = [], limit = Infinity): Promise<TracedLatency> {
  let traced: TraceFindings | null = null;
  const procs = withChildren(pid);
  const f0 = faultsOf(procs);
  const cpu0 = procs.map((p) => ({ p, s: mainThreadCpuSeconds(p) }));
  const t0 = performance.now();
  const sky = !label.includes('knot');
  // skydns's query threads (one per process) are kept to the CPUs left to the server when they
  // fit there (one worker on this machine); knot's threads, one per CPU, and skydns's
  // -workers=auto are left free (withSplit says why).
  const server = sky && ctx.split && procs.length <= ctx.split.serverCpus.length ? { pids: procs, allThreads: false } : null;
  const l = await withSplit(
    ctx.split,
    [ctx.etcdPid, ...otherLoad],
    async () => {
      const trace = ctx.split ? SchedTrace.start(ctx.split.serverCpus) : null;
      // The latency client's pid: the tasks that keep it from its CPU are holds too (TraceFindings.clientHolds).
      let client: number[] = [];
      try {
        const r = await latencyRun(label, port, seconds, rate, ctx, limit);
        if (r.clientPid) client = [r.clientPid];
        return r;
      } finally {
        if (trace) traced = await trace.stop([pid], client);
      }
    },
    server,
  );
  const f1 = faultsOf(procs);
  const wall = (performance.now() - t0) / 1000;
  // The busiest process's query thread (its main thread): how long a hold's queue takes to drain.
  let busy: number | null = null;
  for (const { p, s: before } of cpu0) {
    const after = mainThreadCpuSeconds(p);
    if (before !== null && after !== null) busy = Math.max(busy ?? 0, (after - before) / wall);
  }
  const faults = f0 && f1 ? { minor: f1.minor - f0.minor, major: f1.major - f0.major, seconds } : null;
  const all = { ...summariseLatency(label, rate, l), faults, busy };
  const t = traced as TraceFindings | null;
  // Helper threads mean something for skydns only: each of its processes answers on its main
  // thread, where every knot thread answers.
  const helperHolds = t && sky ? t.helperHolds : null;
  const queryThread = t && sky ? t.queryThread : null;
  if (!t || !l.sentS) return { ...all, holds: t?.holds ?? null, clientHolds: t?.clientHolds ?? null, stalls: t?.stalls ?? null, helperHolds, queryThread, late: null, clear: null };
  // skydns's query thread, asleep while a query was on its way: woken late by the machine, or by
  // its own threads. Knot's threads are not followed.
  const late = sky ? lateWakes(t.queryThread.sleeps, Float64Array.from(l.sentS).sort()) : null;
  const spans = late ? [...t.spans, ...late.spans].sort((a, b) => a.from - b.from) : t.spans;
  if (process.env.BENCH_DUMP_DIR) {
    const dump = { ms: [...l.ms], sent: [...l.sentS], holds: t.spans, waits: t.queryThread.spans, runs: t.queryThread.runs, late: late?.spans ?? [] };
    await fsp.writeFile(path.join(process.env.BENCH_DUMP_DIR, `${label}-${Date.now()}.json`), JSON.stringify(dump));
  }
  // skydns answers on one thread per process, whose busy share sets how long a hold's queue
  // takes to drain; knot answers on a thread per CPU, not followed: the half-load figure.
  const drain = sky && busy !== null ? drainFactor(busy) : 1;
  const c = clearOfHolds(l.ms, l.sentS, spans, drain).sort();
  const lateText = late ? { count: late.spans.length + late.byOwn, byOwn: late.byOwn, maxMs: late.maxMs } : null;
  return { ...all, holds: t.holds, clientHolds: t.clientHolds, stalls: t.stalls, helperHolds, queryThread, late: lateText, clear: { answered: c.length, p99: percentile(c, 0.99), p999: percentile(c, 0.999), drain } };
}

/** The first second: TRAFFIC_FIRST_QPS from the moment the server is ready (2 s sent, the first second's answers kept), measured as the workloads' latency is. */
function firstSecond(label: string, port: number, pid: number, ctx: SizeCtx): Promise<TracedLatency> {
  return tracedLatencyRun(`first-${label}`, port, pid, 2, ctx.s.firstQps, ctx, [], ctx.s.firstQps);
}

interface SizeCtx {
  n: number;
  s: Settings;
  /** The load's CPUs during latency runs, and those left to the server (null: not split). */
  split: CpuSplit | null;
  /** The latency client (null: dnsperf -v). */
  dnslat: string | null;
  etcdPid: number;
  dnsperf: string;
  queryFile: string;
  work: string;
  etcdUrl: string;
}

interface VariantResult {
  workers: string;
  startupS: number;
  readyzS: number;
  rssMiB: number | null;
  peakRssMiB: number | null;
  first: TracedLatency | null;
  workloads: Workload[];
  logProblems: string[];
}

interface SizeResult {
  n: number;
  questions: number;
  etcdKeys: number;
  knotFirst: TracedLatency | null;
  crossCheck: string[];
  /** What measured the latency runs: dnslat, or dnsperf -v when dnslat could not be built. */
  latencyClient?: string;
  variants: VariantResult[];
  error?: string;
}

async function benchVariant(workers: string, knot: Server | null, ctx: SizeCtx): Promise<VariantResult> {
  const label = workers === '1' ? 'skydns' : `skydns-${workers}`;
  const started: { first: Promise<TracedLatency> | null } = { first: null };
  const sky = await startSkydns(ctx.etcdUrl, nameOf(ctx.n - 1), [`-workers=${workers}`], Math.max(60_000, ctx.n * 2), label, (port, pid) => {
    if (ctx.s.firstQps > 0) started.first = firstSecond(label, port, pid, ctx);
  });
  try {
    log(`${label} ready in ${sky.readyzS.toFixed(2)} s (answering ${sky.startupS.toFixed(2)} s), RSS ${fmt(sky.rssAfterLoadMiB, 1)} MiB`);
    const firstResult: TracedLatency | null = started.first ? await started.first : null;
    if (firstResult) log(`${label} first second at ${ctx.s.firstQps} qps: p50 ${fmt(firstResult.p50, 3)} p99 ${fmt(firstResult.p99, 3)} p99.9 ${fmt(firstResult.p999, 3)} max ${fmt(firstResult.max, 1)} ms, lost ${firstResult.lost}; ${faultsText(firstResult.faults, pageMicros)}${holdsText(firstResult, ctx)}`);
    const workloads: Workload[] = [];
    const stat = await workload(`${label}: static`, null, sky, workers === '1', knot, ctx, ctx.s.latencyQps || null);
    workloads.push(stat);
    const half = ctx.s.latencyQps || Math.round(stat.throughput[0].qps / 2);
    for (const c of ctx.s.churn) workloads.push(await workload(`${label}: ${c.rate} changes/s ${c.scope} the queried names`, c, sky, workers === '1', knot, ctx, half));
    const mem = memOf(sky.prog.pid);
    return { workers, startupS: sky.startupS, readyzS: sky.readyzS, rssMiB: mem?.rssMiB ?? null, peakRssMiB: mem?.hwmMiB ?? null, first: firstResult, workloads, logProblems: logProblems(sky.prog.output()).slice(0, 20) };
  } finally {
    await fsp.mkdir(RESULTS_DIR, { recursive: true });
    await fsp.writeFile(path.join(RESULTS_DIR, `traffic-${label}-${ctx.n}.log`), sky.prog.output());
    await stopProgram(sky.prog);
  }
}

async function benchSize(n: number, s: Settings, tools: { dnsperf: string; knotd: string | null }): Promise<SizeResult> {
  log(`=== ${n} services ===`);
  let etcd: EtcdProcess | undefined;
  let knot: (Server & { dir: string }) | undefined;
  const work = await makeTempDir('skydns-traffic', `n${n}`);
  try {
    etcd = await startBenchEtcd('traffic');
    const load = await loadEtcd(etcd.url, n + s.pool);
    log(`etcd: ${load.keys} keys (${n} queried services + ${s.pool} churned outside) in ${load.seconds.toFixed(2)} s`);
    const queryFile = path.join(work, 'mix.txt');
    const questions = await writeMix(queryFile, n, s.seed);
    const ctx: SizeCtx = { n, s, split: cpuSplit(), dnslat: s.latencyClient === 'dnslat' ? await dnslatBinary() : null, etcdPid: etcd.pid, dnsperf: tools.dnsperf, queryFile, work, etcdUrl: etcd.url };
    let knotFirst: TracedLatency | null = null;
    if (tools.knotd) {
      const probe = nameOf(n - 1);
      let firstRun: Promise<TracedLatency> | null = null;
      knot = await startKnot(tools.knotd, knotRecords(n + s.pool), probe, 0, Math.max(60_000, n * 2));
      // knot has no readiness endpoint: its first second starts when it answers the probe.
      if (s.firstQps > 0) firstRun = firstSecond('knot', knot.port, knot.prog.pid, ctx);
      knotFirst = firstRun ? await firstRun : null;
      log(`knot up in ${knot.startupS.toFixed(2)} s${knotFirst ? `; first second p99 ${fmt(knotFirst.p99, 3)} ms${holdsText(knotFirst, ctx)}` : ''}`);
    }
    const variants: VariantResult[] = [];
    let crossCheckProblems: string[] = [];
    for (const w of s.workers) {
      if (variants.length === 0 && knot) {
        // Cross-check once, on a skydns that is up and idle.
        const probe = await startSkydns(etcd.url, nameOf(n - 1), [], Math.max(60_000, n * 2), 'skydns-check');
        crossCheckProblems = await crossCheck([probe, knot], n);
        await stopProgram(probe.prog);
        for (const p of crossCheckProblems) log(`CHECK: ${p}`);
      }
      variants.push(await benchVariant(w, knot ?? null, ctx));
    }
    return { n, questions, etcdKeys: load.keys, knotFirst, crossCheck: crossCheckProblems, latencyClient: ctx.dnslat ? 'dnslat' : 'dnsperf -v', variants };
  } finally {
    if (knot) {
      await stopProgram(knot.prog);
      await removeTempDir(knot.dir);
    }
    if (etcd) await stopBenchEtcd(etcd);
    await removeTempDir(work);
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

/** "young-generation collections 0.6/s, 2.1 ms/s; 1 full, 9.3 ms; marking steps 12.0 ms; young generation 32.0 → 32.0 MiB, old 150 MiB". */
function gcText(g: NonNullable<Workload['gc']>): string {
  return `young-generation collections ${fmt(g.scavengesPerS, 1)}/s, ${fmt(g.scavengeMsPerS, 1)} ms/s; ${g.majors} full, ${fmt(g.majorMs, 1)} ms; marking steps ${fmt(g.markingMs, 1)} ms; young generation ${fmt(g.newSpaceMiB[0], 1)} → ${fmt(g.newSpaceMiB[1], 1)} MiB, old ${fmt(g.oldSpaceMiB, 0)} MiB`;
}

/** For a log line: the other tasks that held the server's CPU during a latency run, the p99 clear of them, and the server's own helper threads ('' with no CPU split). */
function holdsText(l: TracedLatency, ctx: SizeCtx): string {
  if (!ctx.split) return '';
  const cpu = ctx.split.server;
  return `; other tasks on CPU ${cpu} meanwhile: ${describeHolds(l.holds)}${l.stalls?.count ? `; CPU ${cpu} itself not running ${stallsText(l.stalls)}` : ''}${l.clientHolds?.length ? `; other tasks keeping the latency client from its CPU: ${describeHolds(l.clientHolds)}` : ''}${l.clear ? `; clear of them: ${clearText(l)}` : ''}${l.helperHolds?.length ? `; the server's own helper threads on CPU ${cpu}: ${describeHolds(l.helperHolds)}` : ''}${!l.server.includes('knot') ? `; its query thread ${queryThreadText(l.queryThread, l.busy)}${lateText(l)}` : ''}`;
}

/** "11× (max 6.6 ms, 38.5 ms in all)". */
function stallsText(s: TracedLatency['stalls']): string {
  return s ? `${s.count}× (max ${fmt(s.maxMs, 1)} ms, ${fmt(s.totalMs, 1)} ms in all)` : '-';
}

/** "; asleep > 1 ms with a query on its way 2× (max 100.2 ms), 0 of them ended by its own threads" ('' when not traced). */
function lateText(l: TracedLatency): string {
  if (!l.late) return '';
  return `; asleep > 1 ms with a query on its way ${l.late.count}× (max ${fmt(l.late.maxMs, 1)} ms), ${l.late.byOwn} of them ended by its own threads`;
}

/** "p99 0.41 / p99.9 0.90 ms (97.1% of answers; a hold's shadow 2.3× its length)". */
function clearText(l: TracedLatency): string {
  if (!l.clear) return '-';
  return `p99 ${fmt(l.clear.p99, 2)} / p99.9 ${fmt(l.clear.p999, 2)} ms (${fmt((100 * l.clear.answered) / Math.max(1, l.answered), 1)}% of answers${l.clear.drain > 1 ? `; a hold's shadow ${fmt(l.clear.drain, 1)}× its length` : ''})`;
}

function printReport(machine: Record<string, string>, s: Settings, sizes: SizeResult[]): void {
  const out: string[] = ['', 'skydns under real cluster traffic (the pod\'s-eye mix), beside knot'];
  for (const [k, v] of Object.entries(machine)) out.push(`  ${k.padEnd(10)} ${v}`);
  out.push(
    `  settings   dnsperf -c ${s.clients} -T ${s.threads} -q ${s.outstanding} -l ${s.seconds}, best of ${s.rounds} alternating rounds after ${s.warmup} s of warm-up; ` +
      `latency: every answer of ${s.latencySeconds} s at ${s.latencyQps ? `${s.latencyQps} q/s (TRAFFIC_LATENCY_QPS)` : "half of skydns's static maximum"} (${s.latencyClient === 'dnslat' ? `dnslat -c ${s.clients}${dnslatRealtime() ? ', at SCHED_FIFO priority 10' : ''}` : `dnsperf -Q -v -T ${s.latencyThreads}`}); µs/q = server CPU time per answered query`,
  );
  const split = cpuSplit();
  out.push(
    split
      ? `  CPUs       during latency runs the client, etcd, the churner and the bench run on CPU ${split.load}, leaving CPU ${split.server} to the server (skydns's query thread kept there with one worker, BENCH_PIN_SERVER=0: not; knot's threads free; BENCH_PIN=0: no split)`
      : `  CPUs       latency runs share every CPU among the server, dnsperf, etcd and the bench (no split: BENCH_PIN=0, one CPU, or no taskset)`,
  );
  for (const r of sizes) {
    out.push('', `${r.n} services: ${r.questions} distinct questions (A, AAAA, search-path miss, external name × 3 suffixes per service)`);
    if (r.error) {
      out.push(`  FAILED: ${r.error.split('\n').slice(0, 10).join('\n    ')}`);
      continue;
    }
    if (r.crossCheck.length) out.push(`  cross-check problems: ${r.crossCheck.join('; ')}`);
    if (s.latencyClient === 'dnslat' && r.latencyClient !== 'dnslat') out.push(`  latency measured with ${r.latencyClient} (dnslat could not be built: see the log)`);
    out.push(`  ${'workload'.padEnd(52)} ${'knot qps'.padStart(9)} ${'skydns qps'.padStart(10)} ${'/knot'.padStart(6)} ${'/static'.padStart(7)} ${'µs/q'.padStart(6)} ${'hits %'.padStart(6)}  latency p50 / p99 / p99.9 ms (skydns | knot) at rate`);
    for (const v of r.variants) {
      const staticQps = v.workloads[0]?.throughput[0]?.qps ?? NaN;
      for (const w of v.workloads) {
        const sky = w.throughput[0];
        const kn = w.throughput[1];
        const ls = w.latency[0];
        const lk = w.latency[1];
        const lat = (l: Latency | undefined) => (l ? `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)} / ${fmt(l.p999, 2)}${l.lost ? ` (${l.lost} lost)` : ''}` : '-');
        const churn = w.churn ? ` [${fmt(w.churnAchieved, 0)}/s done${w.churnErrors ? `, ${w.churnErrors} failed` : ''}]` : '';
        out.push(
          `  ${(w.name + churn).padEnd(52)} ${fmt(kn?.qps, 0).padStart(9)} ${fmt(sky.qps, 0).padStart(10)} ${(kn ? fmt(sky.qps / kn.qps, 2) : '-').padStart(6)} ${fmt(sky.qps / staticQps, 2).padStart(7)} ` +
            `${fmt(sky.cpuUsPerQuery, 1).padStart(6)} ${fmt(w.cacheHitPct, 0).padStart(6)}  ${lat(ls)} | ${lat(lk)} at ${ls?.rate ?? '-'}`,
        );
        const holds = w.latency.filter((l) => l.holds !== null);
        if (holds.length) out.push(`  ${''.padEnd(52)} other tasks holding CPU ${split?.server ?? '-'} > 0.5 ms meanwhile: ${holds.map((l) => `${l.server}: ${describeHolds(l.holds)}`).join('; ')}`);
        const stalled = w.latency.filter((l) => l.stalls?.count);
        if (stalled.length) out.push(`  ${''.padEnd(52)} CPU ${split?.server ?? '-'} itself not running (a ${fmt(stalled[0].stalls!.tickMs, 0)} ms timer tick come late while a task ran on it): ${stalled.map((l) => `${l.server}: ${stallsText(l.stalls)}`).join('; ')}`);
        const clientHeld = w.latency.filter((l) => l.clientHolds?.length);
        if (clientHeld.length) out.push(`  ${''.padEnd(52)} other tasks keeping the latency client from its CPU > 0.5 ms (it then sends the queries due meanwhile at once): ${clientHeld.map((l) => `${l.server}: ${describeHolds(l.clientHolds)}`).join('; ')}`);
        const helpers = w.latency.filter((l) => l.helperHolds?.length);
        if (helpers.length) out.push(`  ${''.padEnd(52)} the server's own helper threads (not its query thread) holding it: ${helpers.map((l) => `${l.server}: ${describeHolds(l.helperHolds)}`).join('; ')}`);
        if (w.gc) out.push(`  ${''.padEnd(52)} skydns's ${gcText(w.gc)} meanwhile (the query thread stops for each)`);
        out.push(`  ${''.padEnd(52)} ${w.latency.map((l) => `${l.server}: ${faultsText(l.faults, pageMicros)}`).join('; ')}`);
        for (const l of w.latency.filter((x) => x.queryThread !== null)) out.push(`  ${''.padEnd(52)} ${l.server}'s query thread: ${queryThreadText(l.queryThread, l.busy)}${lateText(l)}`);
        const clear = w.latency.filter((l) => l.clear !== null);
        if (clear.length) out.push(`  ${''.padEnd(52)} answers no such hold can have delayed: ${clear.map((l) => `${l.server} ${clearText(l)}`).join('; ')}`);
      }
      if (v.first) out.push(`  ${`${v.workloads[0]?.name.split(':')[0] ?? v.workers}: first second after /readyz`.padEnd(52)} at ${v.first.rate} qps: p50 ${fmt(v.first.p50, 2)}, p99 ${fmt(v.first.p99, 2)}, p99.9 ${fmt(v.first.p999, 2)}, max ${fmt(v.first.max, 1)} ms, ${v.first.lost} lost; ready ${fmt(v.readyzS, 2)} s after spawn${v.first.clear ? `; answers no other task's hold can have delayed: ${clearText(v.first)}` : ''}; ${faultsText(v.first.faults, pageMicros)}`);
      out.push(`  ${''.padEnd(52)} RSS ${fmt(v.rssMiB, 0)} MiB (peak ${fmt(v.peakRssMiB, 0)})${v.logProblems.length ? `; ${v.logProblems.length} WARN/ERROR log lines: ${v.logProblems[0]}` : ''}`);
    }
    if (r.knotFirst) out.push(`  ${'knot: first second after it answers'.padEnd(52)} at ${r.knotFirst.rate} qps: p50 ${fmt(r.knotFirst.p50, 2)}, p99 ${fmt(r.knotFirst.p99, 2)}, p99.9 ${fmt(r.knotFirst.p999, 2)}, max ${fmt(r.knotFirst.max, 1)} ms, ${r.knotFirst.lost} lost${r.knotFirst.clear ? `; answers no other task's hold can have delayed: ${clearText(r.knotFirst)}` : ''}`);
  }
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
}

/** What a page fault costs on this machine (freshPageMicros, measured once at start). */
let pageMicros = NaN;

async function main(): Promise<number> {
  const s = readSettings();
  const { dnsperf, knotd, machine } = benchTools();
  pageMicros = freshPageMicros();
  machine['fresh page'] = `${pageMicros.toFixed(1)} µs to touch a page of memory first (its faults)`;
  logMachine(machine, 'the "other %" of each round in the log');
  const sizes: SizeResult[] = [];
  for (const n of s.sizes) {
    try {
      sizes.push(await benchSize(n, s, { dnsperf, knotd }));
    } catch (err) {
      log(`${n} services failed: ${(err as Error).message}`);
      sizes.push({ n, questions: 0, etcdKeys: 0, knotFirst: null, crossCheck: [], variants: [], error: (err as Error).message });
    }
  }
  printReport(machine, s, sizes);
  await fsp.mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, 'traffic.json');
  await writeJson(file, { machine, settings: s, sizes });
  log(`results written to ${path.relative(ROOT, file)}`);
  return sizes.some((r) => r.error !== undefined) ? 1 : 0;
}

runBench(main, () => readSettings().timeoutMin, 120);
