#!/usr/bin/env node
/**
 * kube2sky benchmark: the real kube2sky program (dist/cmd/kube2sky.js) against a real etcd and
 * the sandbox API server (dist/cmd/apiserver.js, a separate process) holding a large cluster.
 *
 *   1. Cold start: the API server is preloaded (--load of a generated JSON List) with
 *      BENCH_SERVICES Services (80 % ClusterIP with 1–2 named ports, 20 % headless with a
 *      selector), BENCH_PODS Pods with pod IPs over BENCH_NAMESPACES namespaces, and the
 *      Endpoints its endpoints controller derives from them. kube2sky starts against an empty
 *      etcd: time from spawn until /readiness is 200 and until etcd holds every expected record
 *      (keys counted under /skydns/local/cluster/svc/ and /pod/, expected counts computed from
 *      the generated objects); kube2sky's CPU time and RSS; etcd's key count.
 *   2. Restart: kube2sky is stopped and started again against the same etcd: time to ready and
 *      what it wrote (kube2sky_etcd_writes_total, etcd revision delta).
 *   3. Steady state: skydns serves the records; BENCH_CREATES Services are created one at a time
 *      (BENCH_CREATE_RATE per second, open loop) with POST /api/v1/namespaces/<ns>/services; for
 *      each, the time from the POST returning until skydns answers the A query with the new
 *      cluster IP (raw UDP queries every BENCH_POLL_MS ms), split at the moment a watcher in
 *      this process sees the record in etcd; plus kube2sky's own
 *      kube2sky_dns_programming_latency_seconds over the same period.
 *
 * Prints figures and writes them to bench/results/kube2sky-latest.json. Asserts nothing.
 * Run: `npm run bench:kube2sky` (or `npx tsc -p tsconfig.json && node dist/bench/kube2sky-bench.js`).
 * Loopback only; every process started here is stopped by PID, also on error and SIGINT.
 * See bench/README.md for the knobs.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Etcd3, type Watcher } from 'etcd3';
import { prefixEnd } from '../lib/etcd/client.js';
import { CLASS, TYPE, decodeMessage, encodeMessage } from '../lib/skydns/wire.js';
import { octetsText } from '../lib/msg/path.js';
import { type EtcdProcess } from '../test/harness/etcd.js';
import { freeTcpPort } from '../test/harness/ports.js';
import { sleep, type Program } from '../test/harness/proc.js';
import { type Expected, generateCluster, isHeadless, podIp } from './cluster.js';
import { type CpuDelta, RESULTS_DIR, ROOT, cpuSecondsOfOne, cpuSnap, cpuDelta, describeCpu, dnsAndMetricsPorts, envArgs, envInt, fmt, httpGet, log, logMachine, logProblems, machineInfo, makeTempDir, memOfOne, metricValue, removeTempDir, runBench, start, startBenchEtcd, stopBenchEtcd, stopProgram, withTimeout, writeJson } from './common.js';

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const DIST = path.join(ROOT, 'dist', 'cmd');
const KUBE2SKY_JS = path.join(DIST, 'kube2sky.js');
const SKYDNS_JS = path.join(DIST, 'skydns.js');
const APISERVER_JS = path.join(DIST, 'apiserver.js');
const DOMAIN = 'cluster.local';
/** 65,534 cluster IPs: room for every generated and created service. */
const SERVICE_CIDR = '10.96.0.0/16';
const SVC_PREFIX = '/skydns/local/cluster/svc/';
const POD_PREFIX = '/skydns/local/cluster/pod/';
const ARPA_PREFIX = '/skydns/arpa/';

interface Settings {
  services: number;
  pods: number;
  namespaces: number;
  headlessPct: number;
  creates: number;
  createRate: number;
  pollMs: number;
  coldTimeoutS: number;
  kube2skyArgs: string[];
  kube2skyNodeArgs: string[];
  countEveryMs: number;
  cpuProf: boolean;
  timeoutMin: number;
}

function readSettings(): Settings {
  const s: Settings = {
    services: envInt('BENCH_SERVICES', 10_000, 1, 60_000),
    pods: envInt('BENCH_PODS', 30_000, 0, 1_000_000),
    namespaces: envInt('BENCH_NAMESPACES', 50, 1, 10_000),
    headlessPct: envInt('BENCH_HEADLESS_PCT', 20, 0, 100),
    creates: envInt('BENCH_CREATES', 200, 0, 5000),
    createRate: envInt('BENCH_CREATE_RATE', 20, 1, 1000),
    pollMs: envInt('BENCH_POLL_MS', 2, 1, 100),
    coldTimeoutS: envInt('BENCH_COLD_TIMEOUT_S', 180, 10, 3600),
    kube2skyArgs: envArgs('BENCH_KUBE2SKY_ARGS'),
    kube2skyNodeArgs: envArgs('BENCH_KUBE2SKY_NODE_ARGS'),
    countEveryMs: envInt('BENCH_COUNT_MS', 200, 20, 10_000),
    cpuProf: process.env.BENCH_CPU_PROF === '1',
    timeoutMin: envInt('BENCH_TIMEOUT_MIN', 30, 1, 24 * 60),
  };
  if (s.services + s.creates > 65_000) throw new Error('BENCH_SERVICES + BENCH_CREATES must stay below 65,000 (service CIDR /16)');
  return s;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const secondsSince = (t0: number): number => (performance.now() - t0) / 1000;

// ---------------------------------------------------------------------------
// The cluster: generated objects and the records kube2sky must write for them
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// etcd readings
// ---------------------------------------------------------------------------

async function countPrefix(client: Etcd3, prefix: string): Promise<{ count: number; revision: number }> {
  const res = await withTimeout(
    client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), count_only: true }),
    10_000,
    `etcd count ${prefix}`,
  );
  return { count: Number(res.count), revision: Number(res.header.revision) };
}

interface EtcdCounts {
  svc: number;
  pod: number;
  arpa: number;
  all: number;
  revision: number;
}

async function etcdCounts(client: Etcd3): Promise<EtcdCounts> {
  const [svc, pod, arpa, all] = await Promise.all([
    countPrefix(client, SVC_PREFIX),
    countPrefix(client, POD_PREFIX),
    countPrefix(client, ARPA_PREFIX),
    countPrefix(client, '/skydns/'),
  ]);
  return { svc: svc.count, pod: pod.count, arpa: arpa.count, all: all.count, revision: Math.max(svc.revision, all.revision) };
}

// ---------------------------------------------------------------------------
// Prometheus histograms
// ---------------------------------------------------------------------------

type Buckets = Array<{ le: number; count: number }>;

function histogram(text: string, name: string): { buckets: Buckets; count: number; sum: number } {
  const buckets: Buckets = [];
  const re = new RegExp(`^${name}_bucket\\{(?:.*,)?le="([^"]+)"(?:,.*)?\\} (\\S+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
  }
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, count: metricValue(text, `${name}_count`) ?? 0, sum: metricValue(text, `${name}_sum`) ?? 0 };
}

function histogramDelta(a: ReturnType<typeof histogram>, b: ReturnType<typeof histogram>): ReturnType<typeof histogram> {
  return {
    buckets: b.buckets.map((x) => ({ le: x.le, count: x.count - (a.buckets.find((y) => y.le === x.le)?.count ?? 0) })),
    count: b.count - a.count,
    sum: b.sum - a.sum,
  };
}

/** Prometheus histogram_quantile: linear interpolation inside the bucket (seconds; +Inf → the last finite bound). */
function histogramQuantile(h: ReturnType<typeof histogram>, q: number): number {
  const total = h.buckets.length ? h.buckets[h.buckets.length - 1].count : 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

interface ApiProc {
  prog: Program;
  url: string;
  port: number;
  loadS: number;
  loaded: number;
}

async function startApiServerProc(file: string, timeoutMs: number): Promise<ApiProc> {
  const args = [APISERVER_JS, '--port', '0', '--service-cidr', SERVICE_CIDR, '--load', file];
  log(`starting the sandbox API server: node ${args.map((a) => (a === APISERVER_JS ? path.relative(ROOT, a) : a)).join(' ')}`);
  const t0 = performance.now();
  const prog = start(process.execPath, args, 'apiserver', { cwd: ROOT });
  const line = await prog.waitFor(/apiserver listening on http:\/\/\S+/, timeoutMs);
  const url = line.slice('apiserver listening on '.length);
  const m = /loaded (\d+) objects/.exec(prog.output());
  return { prog, url, port: Number(new URL(url).port), loadS: secondsSince(t0), loaded: m ? Number(m[1]) : NaN };
}

interface K2sProc {
  prog: Program;
  port: number;
  spawnedAt: number;
  spawnedWall: number;
}

async function spawnKube2sky(etcdUrl: string, apiUrl: string, s: Settings, profDir: string | null): Promise<K2sProc> {
  const port = await freeTcpPort();
  const nodeArgs = [...s.kube2skyNodeArgs, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  const args = [
    ...nodeArgs,
    KUBE2SKY_JS,
    `--etcd-server=${etcdUrl}`,
    `--kube-master-url=${apiUrl}`,
    `--healthz-port=${port}`,
    '--healthz-address=127.0.0.1',
    `--domain=${DOMAIN}`,
    ...s.kube2skyArgs,
  ];
  log(`starting kube2sky: node ${args.map((a) => (a === KUBE2SKY_JS ? path.relative(ROOT, a) : a)).join(' ')}`);
  const spawnedWall = Date.now();
  const spawnedAt = performance.now();
  const prog = start(process.execPath, args, 'kube2sky', { cwd: ROOT });
  return { prog, port, spawnedAt, spawnedWall };
}

async function readinessOk(port: number): Promise<boolean> {
  try {
    return (await httpGet(port, '/readiness', 1000)).status === 200;
  } catch {
    return false;
  }
}

/** Seconds after spawn of the first log line matching `re` (from its ISO timestamp). */
function logTime(output: string, re: RegExp, spawnedWall: number): number | null {
  for (const line of output.split('\n')) {
    if (!re.test(line)) continue;
    const ts = Date.parse(line.slice(0, 24));
    return Number.isFinite(ts) ? (ts - spawnedWall) / 1000 : null;
  }
  return null;
}

/** The newest .cpuprofile in `dir` (written by node --cpu-prof when the program exits). */
async function newestProfile(dir: string, what: string): Promise<string> {
  const profs = (await fsp.readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  profs.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return profs[0] ? `${what}: ${path.relative(ROOT, profs[0])}` : `${what}: not written`;
}

// ---------------------------------------------------------------------------
// DNS over UDP (lib/skydns/wire.ts)
// ---------------------------------------------------------------------------

class DnsClient {
  private readonly sock = dgram.createSocket('udp4');
  private nextId = 1;
  private readonly pending = new Map<number, (msg: Buffer) => void>();
  sent = 0;
  timeouts = 0;

  constructor(private readonly port: number) {
    this.sock.on('message', (msg) => {
      if (msg.length < 2) return;
      const id = msg.readUInt16BE(0);
      const done = this.pending.get(id);
      if (done) {
        this.pending.delete(id);
        done(msg);
      }
    });
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind({ address: '127.0.0.1', port: 0 }, () => {
        this.sock.off('error', reject);
        // A lost datagram shows up as a query timeout; a socket error must not crash the run.
        this.sock.on('error', (err) => log(`DNS client socket: ${err.message}`));
        resolve();
      });
    });
  }

  /** One A query; resolves with the rcode and the addresses of the A answers, or null on timeout. */
  queryA(name: string, timeoutMs = 1000): Promise<{ rcode: number; addrs: string[] } | null> {
    let id = this.nextId;
    for (let i = 0; i < 65535 && this.pending.has(id); i++) id = (id % 65535) + 1;
    this.nextId = (id % 65535) + 1;
    const enc = encodeMessage({
      header: { id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
      question: [{ name, type: TYPE.A, class: CLASS.IN }],
      answer: [],
      authority: [],
      additional: [],
      edns: null,
    });
    if (!enc) throw new Error(`cannot encode a query for ${name}`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.timeouts++;
        resolve(null);
      }, timeoutMs);
      this.pending.set(id, (buf) => {
        clearTimeout(timer);
        try {
          const m = decodeMessage(buf);
          const addrs = m.answer.filter((rr) => rr.type === TYPE.A && rr.data.t === 'ip').map((rr) => (rr.data.t === 'ip' ? octetsText(rr.data.octets) : ''));
          resolve({ rcode: m.header.rcode, addrs });
        } catch {
          resolve({ rcode: -1, addrs: [] });
        }
      });
      this.sent++;
      this.sock.send(enc.buf, this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.sock.close();
  }
}

// ---------------------------------------------------------------------------
// Phase 1 / 2: kube2sky start (cold or restart)
// ---------------------------------------------------------------------------

interface StartResult {
  readyS: number;
  /** Until etcd held every expected svc and pod key (null: not reached before the timeout). */
  allRecordsS: number | null;
  /** From kube2sky's log (seconds after spawn). */
  kubernetesWrittenS: number | null;
  initialSyncLogS: number | null;
  cpuAtReadyS: number | null;
  rssAtReadyMiB: number | null;
  peakRssMiB: number | null;
  counts: EtcdCounts;
  countsMatch: boolean;
  writes: { put: number | null; delete: number | null };
  etcdErrors: number | null;
  objectErrors: number | null;
  recordsGauge: number | null;
  /** V8 heap in use (nodejs_heap_size_used_bytes) right after ready. */
  heapUsedMiB: number | null;
  revisionDelta: number;
  cpu: CpuDelta;
}

async function startAndMeasure(
  k: K2sProc,
  client: Etcd3,
  expected: Expected,
  revBefore: number,
  pids: () => Record<string, number | undefined>,
  s: Settings,
): Promise<StartResult> {
  const snap0 = cpuSnap(pids());
  const deadline = Date.now() + s.coldTimeoutS * 1000;
  let readyS = NaN;
  let allRecordsS: number | null = null;
  let cpuAtReadyS: number | null = null;
  let rssAtReadyMiB: number | null = null;
  let lastCount = 0;
  let counts: EtcdCounts | null = null;
  let lastLog = performance.now();
  for (let guard = 0; guard < 1_000_000; guard++) {
    if (!k.prog.running()) throw new Error(`kube2sky exited during start-up; output:\n${k.prog.output().slice(-4000)}`);
    if (Date.now() > deadline) {
      log(`not done after ${s.coldTimeoutS} s (ready: ${Number.isNaN(readyS) ? 'no' : 'yes'}); giving up on this phase`);
      break;
    }
    if (Number.isNaN(readyS) && (await readinessOk(k.port))) {
      readyS = secondsSince(k.spawnedAt);
      cpuAtReadyS = cpuSecondsOfOne(k.prog.pid);
      rssAtReadyMiB = memOfOne(k.prog.pid)?.rssMiB ?? null;
      log(`kube2sky /readiness 200 after ${readyS.toFixed(2)} s`);
    }
    if (allRecordsS === null && performance.now() - lastCount >= s.countEveryMs) {
      lastCount = performance.now();
      try {
        // Two count-only ranges (each costs etcd ≈ 0.2 ms of CPU per 1,000 keys): svc and pod only.
        const [svc, pod] = await Promise.all([countPrefix(client, SVC_PREFIX), countPrefix(client, POD_PREFIX)]);
        counts = { svc: svc.count, pod: pod.count, arpa: NaN, all: NaN, revision: svc.revision };
        if (counts.svc === expected.svcKeys && counts.pod === expected.podKeys) {
          allRecordsS = secondsSince(k.spawnedAt);
          log(`etcd holds every expected svc/pod record after ${allRecordsS.toFixed(2)} s`);
        }
      } catch (err) {
        log(`etcd count: ${(err as Error).message}`);
      }
      if (performance.now() - lastLog > 2000) {
        lastLog = performance.now();
        log(`  t=${secondsSince(k.spawnedAt).toFixed(1)} s: etcd svc ${counts?.svc ?? '?'}/${expected.svcKeys}, pod ${counts?.pod ?? '?'}/${expected.podKeys}, kube2sky cpu ${fmt(cpuSecondsOfOne(k.prog.pid), 1)} s, rss ${fmt(memOfOne(k.prog.pid)?.rssMiB, 0)} MiB`);
      }
    }
    if (!Number.isNaN(readyS) && allRecordsS !== null) break;
    await sleep(20);
  }
  const snap1 = cpuSnap(pids());
  // Let it settle (the post-ready reconcile may still write), then read everything.
  await sleep(500);
  const finalCounts = await etcdCounts(client);
  let metrics = '';
  try {
    metrics = (await httpGet(k.port, '/metrics')).body;
  } catch (err) {
    log(`kube2sky /metrics: ${(err as Error).message}`);
  }
  const out = k.prog.output();
  return {
    readyS,
    allRecordsS,
    kubernetesWrittenS: logTime(out, /Successfully added DNS record for Kubernetes service/, k.spawnedWall),
    initialSyncLogS: logTime(out, /initial sync done/, k.spawnedWall),
    cpuAtReadyS,
    rssAtReadyMiB,
    peakRssMiB: memOfOne(k.prog.pid)?.hwmMiB ?? null,
    counts: finalCounts,
    countsMatch: finalCounts.svc === expected.svcKeys && finalCounts.pod === expected.podKeys,
    // A counter label set appears only once used: absent from a scrape = 0.
    writes: {
      put: metrics === '' ? null : metricValue(metrics, 'kube2sky_etcd_writes_total', '{op="put"}') ?? 0,
      delete: metrics === '' ? null : metricValue(metrics, 'kube2sky_etcd_writes_total', '{op="delete"}') ?? 0,
    },
    etcdErrors: metricValue(metrics, 'kube2sky_etcd_errors_total'),
    objectErrors: metricValue(metrics, 'kube2sky_object_errors_total'),
    recordsGauge: metricValue(metrics, 'kube2sky_records'),
    heapUsedMiB: (metricValue(metrics, 'nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
    revisionDelta: finalCounts.revision - revBefore,
    cpu: cpuDelta(snap0, snap1),
  };
}

// ---------------------------------------------------------------------------
// Phase 3: steady state
// ---------------------------------------------------------------------------

interface CreateSample {
  name: string;
  ns: string;
  clusterIP: string;
  postMs: number;
  /** POST returned → a watcher here saw the A record in etcd (may be ≤ 0: kube2sky can beat the HTTP response). */
  toEtcdMs: number | null;
  /** POST returned → skydns answered the A query with the cluster IP. */
  toDnsMs: number | null;
  queries: number;
  error?: string;
}

interface SteadyResult {
  creates: number;
  ratePerS: number;
  pollMs: number;
  ok: number;
  failed: number;
  dnsMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  etcdMs: { p50: number; p90: number; p99: number; max: number };
  etcdToDnsMs: { p50: number; p90: number; p99: number; max: number };
  postMs: { p50: number; p99: number; max: number };
  queries: number;
  queryTimeouts: number;
  kube2skyHistogram: { observations: number; p50S: number; p90S: number; p99S: number; meanS: number } | null;
  cpu: CpuDelta;
  samples: CreateSample[];
}

function summary(xs: number[]): { p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1] : NaN, mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN };
}

async function steadyState(
  api: ApiProc,
  client: Etcd3,
  dns: DnsClient,
  k2sPort: number,
  s: Settings,
  pids: () => Record<string, number | undefined>,
): Promise<SteadyResult> {
  // A watcher on the svc subtree: when each created service's first record reached etcd.
  const seenInEtcd = new Map<string, number>();
  const watcher: Watcher = await client.watch().prefix(SVC_PREFIX).create();
  watcher.on('put', (kv) => {
    const parts = kv.key.toString().slice(SVC_PREFIX.length).split('/');
    const id = `${parts[0]}/${parts[1]}`;
    if (parts[1]?.startsWith('bench-new-') && !seenInEtcd.has(id)) seenInEtcd.set(id, performance.now());
  });
  const metrics0 = (await httpGet(k2sPort, '/metrics')).body;
  const h0 = histogram(metrics0, 'kube2sky_dns_programming_latency_seconds');
  // Warm the HTTP connection (keep-alive) so the first POST is not a connection set-up.
  await fetch(`${api.url}/api/v1/namespaces/default/services`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text());
  const q0 = { sent: dns.sent, timeouts: dns.timeouts };
  const snap0 = cpuSnap(pids());
  const intervalMs = 1000 / s.createRate;
  const t0 = performance.now();
  const tasks: Array<Promise<CreateSample>> = [];
  log(`steady state: ${s.creates} service creations at ${s.createRate}/s, polling skydns every ${s.pollMs} ms`);
  for (let i = 0; i < s.creates; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    tasks.push(createOne(i));
  }
  const samples = await Promise.all(tasks);
  const snap1 = cpuSnap(pids());
  await sleep(200);
  const metrics1 = (await httpGet(k2sPort, '/metrics')).body;
  const hd = histogramDelta(h0, histogram(metrics1, 'kube2sky_dns_programming_latency_seconds'));
  watcher.removeAllListeners();
  await watcher.cancel().catch(() => undefined);

  const good = samples.filter((x) => x.toDnsMs !== null);
  const dnsMs = summary(good.map((x) => x.toDnsMs!));
  const withEtcd = good.filter((x) => x.toEtcdMs !== null);
  const etcdMs = summary(withEtcd.map((x) => x.toEtcdMs!));
  const etcdToDnsMs = summary(withEtcd.map((x) => x.toDnsMs! - x.toEtcdMs!));
  const postMs = summary(samples.filter((x) => !x.error).map((x) => x.postMs));
  return {
    creates: s.creates,
    ratePerS: s.createRate,
    pollMs: s.pollMs,
    ok: good.length,
    failed: samples.length - good.length,
    dnsMs,
    etcdMs,
    etcdToDnsMs,
    postMs,
    queries: dns.sent - q0.sent,
    queryTimeouts: dns.timeouts - q0.timeouts,
    kube2skyHistogram:
      hd.count > 0
        ? { observations: hd.count, p50S: histogramQuantile(hd, 0.5), p90S: histogramQuantile(hd, 0.9), p99S: histogramQuantile(hd, 0.99), meanS: hd.sum / hd.count }
        : null,
    cpu: cpuDelta(snap0, snap1),
    samples,
  };

  async function createOne(i: number): Promise<CreateSample> {
    const ns = `ns${i % s.namespaces}`;
    const name = `bench-new-${i}`;
    const sample: CreateSample = { name, ns, clusterIP: '', postMs: NaN, toEtcdMs: null, toDnsMs: null, queries: 0 };
    const body = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    };
    const tStart = performance.now();
    let tPosted: number;
    try {
      const res = await fetch(`${api.url}/api/v1/namespaces/${ns}/services`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      tPosted = performance.now();
      sample.postMs = tPosted - tStart;
      if (res.status !== 201) throw new Error(`POST ${ns}/${name}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      sample.clusterIP = String((JSON.parse(text) as { spec?: { clusterIP?: string } }).spec?.clusterIP ?? '');
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(sample.clusterIP)) throw new Error(`POST ${ns}/${name}: no IPv4 clusterIP in the answer`);
    } catch (err) {
      sample.error = (err as Error).message;
      log(sample.error);
      return sample;
    }
    const qname = `${name}.${ns}.svc.${DOMAIN}.`;
    const deadline = tPosted + 10_000;
    for (let guard = 0; guard < 100_000 && performance.now() < deadline; guard++) {
      const r = await dns.queryA(qname, 1000);
      sample.queries++;
      if (r && r.rcode === 0 && r.addrs.includes(sample.clusterIP)) {
        sample.toDnsMs = performance.now() - tPosted;
        break;
      }
      await sleep(s.pollMs);
    }
    const seen = seenInEtcd.get(`${ns}/${name}`);
    if (seen !== undefined) sample.toEtcdMs = seen - tPosted;
    if (sample.toDnsMs === null) sample.error = `no A answer for ${qname} within 10 s`;
    return sample;
  }
}

// ---------------------------------------------------------------------------
// Spot check through skydns: a few generated names answer as expected
// ---------------------------------------------------------------------------

async function spotCheck(dns: DnsClient, api: ApiProc, s: Settings): Promise<string[]> {
  const bad: string[] = [];
  const picks = [...new Set([0, 1, 4, Math.floor(s.services / 2), s.services - 1])].filter((i) => i >= 0 && i < s.services);
  for (const i of picks) {
    const ns = `ns${i % s.namespaces}`;
    const name = `svc-${i}`;
    const res = await fetch(`${api.url}/api/v1/namespaces/${ns}/services/${name}`, { signal: AbortSignal.timeout(5000) });
    const svc = (await res.json()) as { spec?: { clusterIP?: string } };
    const r = await dns.queryA(`${name}.${ns}.svc.${DOMAIN}.`);
    const got = r ? [...r.addrs].sort().join(',') : 'timeout';
    let want: string;
    if (isHeadless(i, s)) {
      const ips: string[] = [];
      for (let j = i; j < s.pods; j += s.services) ips.push(podIp(j));
      want = ips.sort().join(',');
    } else want = svc.spec?.clusterIP ?? '?';
    if (got !== want) bad.push(`${name}.${ns}: A → [${got}], expected [${want}]`);
  }
  if (s.pods > 0 && !s.kube2skyArgs.some((a) => /pod[-_]records=false/.test(a))) {
    const j = s.pods - 1;
    const ns = `ns${(j % s.services) % s.namespaces}`;
    const ip = podIp(j);
    const r = await dns.queryA(`${ip.replace(/\./g, '-')}.${ns}.pod.${DOMAIN}.`);
    if (!r || r.addrs.join(',') !== ip) bad.push(`pod ${ip} in ${ns}: A → [${r ? r.addrs.join(',') : 'timeout'}], expected [${ip}]`);
  }
  return bad;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

interface Report {
  machine: Record<string, string>;
  settings: Settings;
  cluster: Expected & { objects: number; fileMiB: number; apiLoadS: number; apiRssMiB: number | null };
  cold?: StartResult;
  restart?: StartResult & { stopS: number; exitCode: number | null };
  skydns?: { startupS: number; rssMiB: number | null };
  spotCheck?: string[];
  steady?: Omit<SteadyResult, 'samples'>;
  logProblems: string[];
  /** CPU profiles of kube2sky (BENCH_CPU_PROF=1). */
  profiles: string[];
  error?: string;
}

function printReport(r: Report): void {
  const out: string[] = ['', 'kube2sky benchmark'];
  for (const [k, v] of Object.entries(r.machine)) out.push(`  ${k.padEnd(10)} ${v}`);
  const c = r.cluster;
  out.push(
    `  cluster    ${r.settings.services} services (${c.clusterIpServices} ClusterIP, ${c.headlessServices} headless), ${r.settings.pods} pods, ${r.settings.namespaces} namespaces; ` +
      `${c.objects} objects loaded by the API server (separate process, --load of a ${fmt(c.fileMiB, 1)} MiB JSON List) in ${fmt(c.apiLoadS, 2)} s, its RSS ${fmt(c.apiRssMiB, 0)} MiB`,
  );
  out.push(`  expected   ${c.svcKeys} keys under ${SVC_PREFIX}, ${c.podKeys} under ${POD_PREFIX}, ${c.arpaKeys} under ${ARPA_PREFIX}`);
  if (r.settings.kube2skyArgs.length) out.push(`  kube2sky   extra args: ${r.settings.kube2skyArgs.join(' ')}`);
  if (r.settings.kube2skyNodeArgs.length) out.push(`  node args  for kube2sky: ${r.settings.kube2skyNodeArgs.join(' ')}`);
  const phase = (title: string, x: StartResult | undefined, warm: boolean): void => {
    if (!x) return;
    out.push('', title);
    out.push(`  spawn → /readiness 200        ${fmt(x.readyS, 2)} s`);
    out.push(`  spawn → every record in etcd  ${x.allRecordsS === null ? 'NOT REACHED' : warm ? 'already there' : `${fmt(x.allRecordsS, 2)} s (etcd polled every ${r.settings.countEveryMs} ms)`}`);
    out.push(`  from kube2sky's log           default/kubernetes written at ${fmt(x.kubernetesWrittenS, 2)} s, "initial sync done" at ${fmt(x.initialSyncLogS, 2)} s`);
    out.push(`  kube2sky                      CPU ${fmt(x.cpuAtReadyS, 2)} s at ready; RSS ${fmt(x.rssAtReadyMiB, 0)} MiB at ready, peak ${fmt(x.peakRssMiB, 0)} MiB; V8 heap used ${fmt(x.heapUsedMiB, 0)} MiB`);
    out.push(`  etcd keys                     svc ${x.counts.svc}, pod ${x.counts.pod}, arpa ${x.counts.arpa}, all /skydns/ ${x.counts.all} — ${x.countsMatch ? 'as expected' : 'DIFFERENT from expected'}`);
    out.push(`  writes                        kube2sky_etcd_writes_total put ${x.writes.put ?? '-'}, delete ${x.writes.delete ?? '-'}; etcd revision +${x.revisionDelta}; etcd errors ${x.etcdErrors ?? '-'}, object errors ${x.objectErrors ?? '-'}, kube2sky_records ${x.recordsGauge ?? '-'}`);
    out.push(`  CPU during the phase          ${describeCpu(x.cpu)}`);
  };
  phase('Cold start (empty etcd)', r.cold, false);
  if (r.restart) {
    phase('Restart (same etcd, records present)', r.restart, true);
    out.push(`  stop (SIGTERM → exit)         ${fmt(r.restart.stopS, 2)} s, exit code ${r.restart.exitCode}`);
  }
  if (r.skydns) out.push('', `skydns: start-up (spawn → /readyz 200) ${fmt(r.skydns.startupS, 2)} s, RSS ${fmt(r.skydns.rssMiB, 0)} MiB`);
  if (r.spotCheck) out.push(`spot check through skydns: ${r.spotCheck.length === 0 ? 'ok' : r.spotCheck.join('; ')}`);
  const st = r.steady;
  if (st) {
    out.push('', `Steady state: ${st.creates} Service creations at ${st.ratePerS}/s (open loop), skydns polled every ${st.pollMs} ms`);
    out.push(`  POST returned → skydns A answer   p50 ${fmt(st.dnsMs.p50, 1)} ms, p90 ${fmt(st.dnsMs.p90, 1)}, p99 ${fmt(st.dnsMs.p99, 1)}, max ${fmt(st.dnsMs.max, 1)}, mean ${fmt(st.dnsMs.mean, 1)} (${st.ok} ok, ${st.failed} failed)`);
    out.push(`  of which POST returned → in etcd  p50 ${fmt(st.etcdMs.p50, 1)} ms, p90 ${fmt(st.etcdMs.p90, 1)}, p99 ${fmt(st.etcdMs.p99, 1)}, max ${fmt(st.etcdMs.max, 1)} (seen by an etcd watcher in the bench)`);
    out.push(`          etcd → skydns answer      p50 ${fmt(st.etcdToDnsMs.p50, 1)} ms, p90 ${fmt(st.etcdToDnsMs.p90, 1)}, p99 ${fmt(st.etcdToDnsMs.p99, 1)}, max ${fmt(st.etcdToDnsMs.max, 1)}`);
    out.push(`  POST duration                     p50 ${fmt(st.postMs.p50, 1)} ms, p99 ${fmt(st.postMs.p99, 1)}, max ${fmt(st.postMs.max, 1)}`);
    const h = st.kube2skyHistogram;
    out.push(
      h
        ? `  kube2sky_dns_programming_latency  p50 ${fmt(h.p50S * 1000, 1)} ms, p90 ${fmt(h.p90S * 1000, 1)}, p99 ${fmt(h.p99S * 1000, 1)}, mean ${fmt(h.meanS * 1000, 1)} (${h.observations} observations = keys written; bucket-interpolated)`
        : '  kube2sky_dns_programming_latency  no observations',
    );
    out.push(`  DNS queries                       ${st.queries} sent, ${st.queryTimeouts} timed out`);
    out.push(`  CPU during the phase              ${describeCpu(st.cpu)}`);
  }
  if (r.logProblems.length) out.push('', `WARN/ERROR lines in the programs' logs: ${r.logProblems.length}`, ...r.logProblems.slice(0, 10).map((p) => `  ${p}`));
  if (r.profiles.length) out.push('', 'kube2sky CPU profiles (open in Chrome DevTools → Performance, or speedscope):', ...r.profiles.map((p) => `  ${p}`));
  if (r.error) out.push('', `FAILED: ${r.error.split('\n').slice(0, 12).join('\n  ')}`);
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
}

async function main(): Promise<number> {
  const s = readSettings();
  for (const f of [KUBE2SKY_JS, SKYDNS_JS, APISERVER_JS]) if (!fs.existsSync(f)) throw new Error(`${f} not found: build first (npx tsc -p tsconfig.json)`);

  const machine = machineInfo({});
  logMachine(machine, '"other" CPU');

  const legacy = s.kube2skyArgs.some((a) => /^--?legacy[-_]records(=true)?$/.test(a));
  const podRecords = !s.kube2skyArgs.some((a) => /^--?pod[-_]records=false$/.test(a));
  const work = await makeTempDir('kube2sky-bench', 'work');
  const gen = generateCluster(s, legacy, podRecords);
  const file = path.join(work, 'cluster.json');
  await fsp.writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: gen.objects }));
  const fileMiB = fs.statSync(file).size / 2 ** 20;
  log(`generated ${gen.objects.length} objects (${fileMiB.toFixed(1)} MiB); expecting ${gen.expected.svcKeys} svc keys, ${gen.expected.podKeys} pod keys, ${gen.expected.arpaKeys} arpa keys`);

  const report: Report = {
    machine,
    settings: s,
    cluster: { ...gen.expected, objects: 0, fileMiB, apiLoadS: NaN, apiRssMiB: null },
    logProblems: [],
    profiles: [],
  };
  let api: ApiProc | undefined;
  let k2s: K2sProc | undefined;
  let sky: Program | undefined;
  let client: Etcd3 | undefined;
  let dns: DnsClient | undefined;
  let profDir: string | null = null;
  let etcdProc: EtcdProcess | undefined;
  const logs: Record<string, () => string> = {};
  try {
    etcdProc = await startBenchEtcd('kube2sky-bench');
    log(`etcd ${etcdProc.url} (pid ${etcdProc.pid})`);
    client = new Etcd3({ hosts: etcdProc.url, dialTimeout: 5000 });

    api = await startApiServerProc(file, 600_000);
    logs.apiserver = api.prog.output;
    report.cluster.objects = api.loaded;
    report.cluster.apiLoadS = api.loadS;
    report.cluster.apiRssMiB = memOfOne(api.prog.pid)?.rssMiB ?? null;
    log(`API server ${api.url} (pid ${api.prog.pid}): ${api.loaded} objects loaded, listening after ${api.loadS.toFixed(2)} s, RSS ${fmt(report.cluster.apiRssMiB, 0)} MiB`);
    const apiUrl = api.url;
    const apiPid = api.prog.pid;
    const etcdPid = (): number => etcdProc?.pid ?? -1;

    // 1. Cold start.
    if (s.cpuProf) {
      profDir = path.join(RESULTS_DIR, 'kube2sky-prof');
      await fsp.mkdir(profDir, { recursive: true });
    }
    const rev0 = (await etcdCounts(client)).revision;
    k2s = await spawnKube2sky(etcdProc.url, apiUrl, s, profDir);
    const cold = k2s;
    logs['kube2sky (cold)'] = cold.prog.output;
    report.cold = await startAndMeasure(cold, client, gen.expected, rev0, () => ({ kube2sky: cold.prog.pid, apiserver: apiPid, etcd: etcdPid() }), s);

    // 2. Restart.
    const tStop = performance.now();
    const exitCode = await stopProgram(cold.prog);
    const stopS = secondsSince(tStop);
    if (profDir) report.profiles.push(await newestProfile(profDir, 'cold start'));
    const rev1 = (await etcdCounts(client)).revision;
    k2s = await spawnKube2sky(etcdProc.url, apiUrl, s, profDir);
    const warm = k2s;
    logs['kube2sky (restart)'] = warm.prog.output;
    report.restart = { ...(await startAndMeasure(warm, client, gen.expected, rev1, () => ({ kube2sky: warm.prog.pid, apiserver: apiPid, etcd: etcdPid() }), s)), stopS, exitCode };

    // 3. skydns, then the steady state.
    const { port: dnsPort, metricsPort } = await dnsAndMetricsPorts();
    const skyArgs = [SKYDNS_JS, `-machines=${etcdProc.url}`, `-addr=127.0.0.1:${dnsPort}`, `-domain=${DOMAIN}.`, '-ns-rotate=false', '-nameservers=127.0.0.1:1', `-metrics-addr=127.0.0.1:${metricsPort}`];
    log(`starting skydns: node ${skyArgs.map((a) => (a === SKYDNS_JS ? path.relative(ROOT, a) : a)).join(' ')}`);
    const tSky = performance.now();
    sky = start(process.execPath, skyArgs, 'skydns', { cwd: ROOT });
    logs.skydns = sky.output;
    const skyDeadline = Date.now() + 120_000;
    for (let guard = 0; guard < 100_000; guard++) {
      if (!sky.running()) throw new Error(`skydns exited during start-up; output:\n${sky.output().slice(-4000)}`);
      if (Date.now() > skyDeadline) throw new Error(`skydns not ready after 120 s; output:\n${sky.output().slice(-4000)}`);
      try {
        if ((await httpGet(metricsPort, '/readyz', 1000)).status === 200) break;
      } catch {
        // not listening yet
      }
      await sleep(20);
    }
    report.skydns = { startupS: secondsSince(tSky), rssMiB: memOfOne(sky.pid)?.rssMiB ?? null };
    log(`skydns ready after ${report.skydns.startupS.toFixed(2)} s`);
    dns = new DnsClient(dnsPort);
    await dns.open();
    report.spotCheck = await spotCheck(dns, api, s);
    for (const p of report.spotCheck) log(`CHECK: ${p}`);

    if (s.creates > 0) {
      const skyPid = sky.pid;
      const steady = await steadyState(api, client, dns, warm.port, s, () => ({ kube2sky: warm.prog.pid, skydns: skyPid, apiserver: apiPid, etcd: etcdPid() }));
      const { samples, ...rest } = steady;
      report.steady = rest;
      await fsp.mkdir(RESULTS_DIR, { recursive: true });
      await fsp.writeFile(path.join(RESULTS_DIR, 'kube2sky-steady-samples.json'), JSON.stringify(samples, null, 1) + '\n');
    }
  } catch (err) {
    report.error = (err as Error).stack ?? (err as Error).message;
    log(`error: ${(err as Error).message}`);
  } finally {
    dns?.close();
    if (k2s) await stopProgram(k2s.prog);
    if (profDir && report.restart) report.profiles.push(await newestProfile(profDir, 'restart (until the end of the run)').catch((e: Error) => e.message));
    if (sky) await stopProgram(sky);
    if (api) await stopProgram(api.prog);
    client?.close();
    if (etcdProc) await stopBenchEtcd(etcdProc);
    await removeTempDir(work);
  }

  await fsp.mkdir(RESULTS_DIR, { recursive: true });
  for (const [name, out] of Object.entries(logs)) {
    const text = out();
    for (const p of logProblems(text, true)) report.logProblems.push(`${name}: ${p}`);
    await fsp.writeFile(path.join(RESULTS_DIR, `kube2sky-bench-${name.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '')}.log`), text);
  }
  printReport(report);
  const jsonFile = path.join(RESULTS_DIR, 'kube2sky-latest.json');
  await writeJson(jsonFile, report);
  log(`results written to ${path.relative(ROOT, jsonFile)} (logs: bench/results/kube2sky-bench-*.log)`);
  return report.error ? 1 : 0;
}

runBench(main, () => readSettings().timeoutMin, 30);
