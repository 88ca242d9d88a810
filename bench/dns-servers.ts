/**
 * What the DNS benchmarks share: finding the tools, starting skydns, knot
 * and the Node floor on loopback, and running dnsperf against them.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RCODE, TYPE, decodeMessage, encodeQuery } from '../lib/skydns/wire.js';
import { SKYDNS_NODE_FLAGS } from '../lib/skydns/node-flags.js';
import { knotConfig } from '../test/harness/knot.js';
import { freePort } from '../test/harness/ports.js';
import { sleep, type Program } from '../test/harness/proc.js';
import { ROOT, commandOutput, cpuSecondsOf, dnsAndMetricsPorts, httpGet, log, machineBusySeconds, machineInfo, makeTempDir, memOf, running, start, stopProgram, withTimeout } from './common.js';

export const SKYDNS_JS = path.join(ROOT, 'dist', 'cmd', 'skydns.js');
export const FLOOR_JS = path.join(ROOT, 'dist', 'bench', 'udp-floor.js');
/** The latency client (bench/dnslat.c), built into dist/bench on first use. */
export const DNSLAT_SRC = path.join(ROOT, 'bench', 'dnslat.c');
export const DNSLAT_BIN = path.join(ROOT, 'dist', 'bench', 'dnslat');
export const DOMAIN = 'cluster.local.';
/** TTL of the benchmark's records and of knot's zone. */
export const RECORD_TTL = 30;

/** Finds an executable on PATH or in the sbin directories (knotd lives in /usr/sbin). */
export function which(cmd: string): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      if (fs.statSync(p).isFile()) {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      }
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The programs the DNS benchmarks run, or an error saying how to get them:
 * the built skydns, etcd, dig, dnsperf, and knotd (null when it is missing
 * or BENCH_KNOT=0, said on stdout). `machine` is machineInfo() with their versions.
 */
export function benchTools(): { dnsperf: string; knotd: string | null; machine: Record<string, string> } {
  if (!fs.existsSync(SKYDNS_JS)) throw new Error(`${SKYDNS_JS} not found: build first (npx tsc -p tsconfig.json)`);
  for (const cmd of ['etcd', 'dig']) if (which(cmd) === null) throw new Error(`${cmd} not found (run: node scripts/ensure.mjs --bench)`);
  const dnsperf = which('dnsperf');
  if (dnsperf === null) throw new Error('dnsperf not found (run: node scripts/ensure.mjs --bench, or apt-get install dnsperf)');
  const knotSkipped = process.env.BENCH_KNOT === '0';
  const knotd = knotSkipped ? null : which('knotd');
  if (knotSkipped) process.stdout.write('NOTE: BENCH_KNOT=0: benchmarking skydns alone, no skydns/knot ratio.\n');
  else if (knotd === null) process.stdout.write('NOTE: knotd (Debian package "knot") is not installed: benchmarking skydns alone, no skydns/knot ratio.\n');
  const machine = machineInfo({
    knot: knotd !== null ? commandOutput(knotd, ['--version']).split('\n')[0] : knotSkipped ? 'skipped (BENCH_KNOT=0)' : 'not installed',
    dnsperf: (/Version\s+(\S+)/.exec(commandOutput(dnsperf, ['-h'])) ?? [])[1] ?? 'unknown',
  });
  return { dnsperf, knotd, machine };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}


export interface Server {
  /** What the figures are printed under: skydns, knot, floor, or a variant such as skydns-2w. */
  label: string;
  prog: Program;
  port: number;
  startupS: number;
  rssAfterLoadMiB: number | null;
}

/** Polls until `name` answers NOERROR with at least one A record. */
/**
 * Whether `name` A gets an answer on 127.0.0.1:port: one query over UDP from
 * this process, 500 ms to answer. Not dig: a process spawned while a server's
 * first second is measured took CPU from it on this 2-core machine (the
 * answers in the first 100 ms after /readyz waited up to 5 ms, against 1–2 ms
 * with the probe in-process).
 */
export function answersName(port: number, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.on('error', () => done(false));
    sock.on('message', (buf) => {
      try {
        const m = decodeMessage(buf);
        if (m.header.id !== id) return;
        done(m.header.rcode === RCODE.NOERROR && m.answer.length > 0);
      } catch {
        done(false);
      }
    });
    sock.send(encodeQuery(name, TYPE.A, id), port, '127.0.0.1');
  });
}

export interface SkydnsStart extends Server {
  metricsPort: number;
  readyzS: number;
  listMs: number | null;
}

/**
 * Starts skydns against etcd with the bench's flags plus `extraArgs`; resolves
 * once /readyz is 200 and `probeName` answers. `onReadyz` is called (with the
 * DNS port and skydns's PID) the moment /readyz first answers 200, which is
 * polled every 5 ms.
 */
export async function startSkydns(etcdUrl: string, probeName: string, extraArgs: readonly string[], timeoutMs: number, label = 'skydns', onReadyz?: (port: number, pid: number) => void): Promise<SkydnsStart> {
  const { port, metricsPort } = await dnsAndMetricsPorts();
  const args = [
    // As the image starts it (lib/skydns/node-flags.ts); then BENCH_NODE_ARGS: V8/Node flags for
    // skydns (e.g. --trace-gc, --cpu-prof) when looking into a figure, which win over those.
    ...SKYDNS_NODE_FLAGS,
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    SKYDNS_JS,
    `-machines=${etcdUrl}`,
    `-addr=127.0.0.1:${port}`,
    `-domain=${DOMAIN}`,
    '-ns-rotate=false',
    '-nameservers=127.0.0.1:1',
    `-metrics-addr=127.0.0.1:${metricsPort}`,
    ...extraArgs,
  ];
  log(`starting skydns: node ${args.join(' ')}`);
  const t0 = performance.now();
  const prog = start(process.execPath, args, 'skydns');
  let readyzS = NaN;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!prog.running()) throw new Error(`skydns exited during start-up; output:\n${prog.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`skydns not ready after ${timeoutMs} ms; output:\n${prog.output().slice(-4000)}`);
    if (Number.isNaN(readyzS)) {
      try {
        if ((await httpGet(metricsPort, '/readyz', 1000)).status === 200) {
          readyzS = (performance.now() - t0) / 1000;
          onReadyz?.(port, prog.pid);
        }
      } catch {
        // not listening yet
      }
    }
    if (!Number.isNaN(readyzS) && (await answersName(port, probeName))) break;
    await sleep(Number.isNaN(readyzS) ? 5 : 20);
  }
  const startupS = (performance.now() - t0) / 1000;
  const m = /etcd: read (\d+) keys .* in (\d+) ms/.exec(prog.output());
  return {
    label,
    prog,
    port,
    metricsPort,
    startupS,
    readyzS,
    listMs: m ? Number(m[2]) : null,
    rssAfterLoadMiB: memOf(prog.pid)?.rssMiB ?? null,
  };
}

/**
 * Starts knotd serving `cluster.local.` from a zone file: SOA, NS, and the
 * `records` lines (zone-file text, owner names absolute). Resolves once
 * `probeName` answers. knotWorkers 0 keeps knot's default (one UDP worker per CPU).
 */
export async function startKnot(knotd: string, records: Iterable<string>, probeName: string, knotWorkers: number, timeoutMs: number, sign: 'ecdsap256sha256' | 'rsasha256' | null = null): Promise<Server & { dir: string }> {
  const dir = await makeTempDir('skydns-bench', 'knot');
  const port = await freePort();
  const zoneFile = path.join(dir, 'cluster.local.zone');
  const lines: string[] = [
    `$ORIGIN ${DOMAIN}`,
    `$TTL ${RECORD_TTL}`,
    `${DOMAIN} ${RECORD_TTL} IN SOA ns.dns.${DOMAIN} hostmaster.${DOMAIN} 1 7200 1800 86400 ${RECORD_TTL}`,
    `${DOMAIN} ${RECORD_TTL} IN NS ns.dns.${DOMAIN}`,
    `ns.dns.${DOMAIN} ${RECORD_TTL} IN A 127.0.0.1`,
  ];
  for (const line of records) lines.push(line);
  await fsp.writeFile(zoneFile, lines.join('\n') + '\n');
  const conf = path.join(dir, 'knot.conf');
  await fsp.mkdir(path.join(dir, 'run'));
  await fsp.mkdir(path.join(dir, 'db'));
  await fsp.writeFile(conf, knotConfig(dir, port, DOMAIN, zoneFile, knotWorkers, sign));
  log(`starting knotd -c ${conf} (port ${port}, ${lines.length - 5} records)`);
  const t0 = performance.now();
  const prog = start(knotd, ['-c', conf], 'knotd');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!prog.running()) throw new Error(`knotd exited during start-up; output:\n${prog.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`knotd not answering after ${timeoutMs} ms; output:\n${prog.output().slice(-4000)}`);
    if (await answersName(port, probeName)) break;
    await sleep(20);
  }
  return {
    label: 'knot',
    prog,
    port,
    dir,
    startupS: (performance.now() - t0) / 1000,
    rssAfterLoadMiB: memOf(prog.pid)?.rssMiB ?? null,
  };
}

/** The Node floor (bench/udp-floor.ts): answers any name with 10.0.0.1, so readiness is one dig. */
export async function startFloor(probeName: string, timeoutMs: number): Promise<Server> {
  const port = await freePort();
  const t0 = performance.now();
  const prog = start(process.execPath, [FLOOR_JS, String(port)], 'udp-floor');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!prog.running()) throw new Error(`udp-floor exited during start-up; output:\n${prog.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`udp-floor not answering after ${timeoutMs} ms; output:\n${prog.output().slice(-4000)}`);
    if (await answersName(port, probeName)) break;
    await sleep(20);
  }
  return { label: 'floor', prog, port, startupS: (performance.now() - t0) / 1000, rssAfterLoadMiB: memOf(prog.pid)?.rssMiB ?? null };
}


export interface PerfResult {
  server: string;
  round: number; // 0 = warm-up
  sent: number;
  completed: number;
  lost: number;
  lostPct: number;
  qps: number;
  avgLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  stddevLatencyMs: number;
  rcodes: Record<string, number>;
  serverCpuPct: number | null;
  dnsperfCpuPct: number | null;
  /** CPU used by everything else on the machine during the round (100 = one core): noise. */
  otherCpuPct: number | null;
  raw: string;
}

export function parseDnsperf(raw: string): Omit<PerfResult, 'server' | 'round' | 'serverCpuPct' | 'dnsperfCpuPct' | 'otherCpuPct' | 'raw'> {
  const num = (re: RegExp, what: string): number => {
    const m = re.exec(raw);
    if (!m) throw new Error(`cannot find "${what}" in dnsperf output:\n${raw.slice(-3000)}`);
    return Number(m[1]);
  };
  const sent = num(/Queries sent:\s+(\d+)/, 'Queries sent');
  const completed = num(/Queries completed:\s+(\d+)/, 'Queries completed');
  const lost = num(/Queries lost:\s+(\d+)/, 'Queries lost');
  const qps = num(/Queries per second:\s+([\d.]+)/, 'Queries per second');
  const lat = /Average Latency \(s\):\s+([\d.]+)(?:\s+\(min ([\d.]+), max ([\d.]+)\))?/.exec(raw);
  if (!lat) throw new Error(`cannot find "Average Latency (s)" in dnsperf output:\n${raw.slice(-3000)}`);
  const sd = /Latency StdDev \(s\):\s+([\d.]+)/.exec(raw);
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s+(.*)/.exec(raw);
  if (rc) for (const m of rc[1].matchAll(/([A-Z][A-Z0-9]*) (\d+) \(/g)) rcodes[m[1]] = Number(m[2]);
  return {
    sent,
    completed,
    lost,
    lostPct: sent > 0 ? (100 * lost) / sent : 0,
    qps,
    avgLatencyMs: Number(lat[1]) * 1000,
    minLatencyMs: lat[2] !== undefined ? Number(lat[2]) * 1000 : NaN,
    maxLatencyMs: lat[3] !== undefined ? Number(lat[3]) * 1000 : NaN,
    stddevLatencyMs: sd ? Number(sd[1]) * 1000 : NaN,
    rcodes,
  };
}

/** dnsperf's load-shaping flags. */
export interface DnsperfOptions {
  /** -c: UDP sockets. */
  clients: number;
  /** -T: threads. */
  threads: number;
  /** -q: queries in flight. */
  outstanding: number;
  /** -t: seconds after which a query counts as lost. */
  queryTimeout: number;
  /** More dnsperf arguments (e.g. -D: the DO bit). */
  extra?: string[];
}

/** round: 0 = warm-up, -1 = fixed-rate latency run (maxQps), 1.. = throughput rounds. */
export async function runDnsperf(dnsperf: string, srv: Server, queryFile: string, seconds: number, round: number, s: DnsperfOptions, maxQps = 0): Promise<PerfResult> {
  if (!srv.prog.running()) throw new Error(`${srv.label} is not running (before round ${round}); output tail:\n${srv.prog.output().slice(-3000)}`);
  const args = [
    '-s', '127.0.0.1',
    '-p', String(srv.port),
    '-d', queryFile,
    '-l', String(seconds),
    '-c', String(s.clients),
    '-T', String(s.threads),
    '-q', String(s.outstanding),
    '-t', String(s.queryTimeout),
    ...(maxQps > 0 ? ['-Q', String(maxQps)] : []),
    ...(s.extra ?? []),
  ];
  const serverCpu0 = cpuSecondsOf(srv.prog.pid);
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const prog = start(dnsperf, args, 'dnsperf');
  let dnsperfCpu: number | null = null;
  try {
    // Sample dnsperf's own CPU shortly before it exits (it is gone afterwards).
    const sampler = (async () => {
      for (let i = 0; i < (seconds + s.queryTimeout + 30) * 10 && prog.running(); i++) {
        const c = cpuSecondsOf(prog.pid);
        if (c !== null) dnsperfCpu = c;
        await sleep(100);
      }
    })();
    const info = await withTimeout(prog.exited, (seconds + s.queryTimeout + 30) * 1000, `dnsperf against ${srv.label}`);
    await sampler;
    running.delete(prog);
    const wall = (performance.now() - t0) / 1000;
    const serverCpu1 = cpuSecondsOf(srv.prog.pid);
    const busy1 = machineBusySeconds();
    if (info.code !== 0) throw new Error(`dnsperf exited with code ${info.code} signal ${info.signal}:\n${prog.output().slice(-3000)}`);
    const parsed = parseDnsperf(prog.output());
    const serverCpuPct = serverCpu0 !== null && serverCpu1 !== null ? (100 * (serverCpu1 - serverCpu0)) / wall : null;
    const dnsperfCpuPct = dnsperfCpu !== null ? (100 * dnsperfCpu) / wall : null;
    const totalPct = busy0 !== null && busy1 !== null ? (100 * (busy1 - busy0)) / wall : null;
    return {
      server: srv.label,
      round,
      ...parsed,
      serverCpuPct,
      dnsperfCpuPct,
      otherCpuPct: totalPct !== null && serverCpuPct !== null && dnsperfCpuPct !== null ? Math.max(0, totalPct - serverCpuPct - dnsperfCpuPct) : null,
      raw: prog.output(),
    };
  } finally {
    await stopProgram(prog);
  }
}

// ---------------------------------------------------------------------------
// Latency at a fixed rate: every answer's latency (dnsperf -v)
// ---------------------------------------------------------------------------

/** Latencies (ms) of every answer of a fixed-rate run. */
export interface Latency {
  server: string;
  rate: number;
  answered: number;
  lost: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Latencies (ms) of the answers in a dnsperf -v output file, in completion order; lines without one are lost queries. */
export async function readLatencies(file: string, limit = Infinity): Promise<{ ms: Float64Array; lost: number }> {
  const text = await fsp.readFile(file, 'utf8');
  const out: number[] = [];
  let lost = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('> ')) continue;
    if (out.length + lost >= limit) break;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('> T ') || !Number.isFinite(v)) lost++;
    else out.push(v * 1000);
  }
  return { ms: Float64Array.from(out), lost };
}

export function summariseLatency(server: string, rate: number, l: { ms: Float64Array; lost: number }): Latency {
  const s = l.ms.slice().sort();
  return { server, rate, answered: s.length, lost: l.lost, p50: percentile(s, 0.5), p99: percentile(s, 0.99), p999: percentile(s, 0.999), max: s.length ? s[s.length - 1] : NaN };
}

/**
 * The latency client, built from bench/dnslat.c when missing or older than
 * its source; null (said in the log) without a C compiler or when the build
 * fails: the latency runs then use dnsperf -v.
 */
export async function dnslatBinary(): Promise<string | null> {
  const mtime = (p: string) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : -1);
  if (mtime(DNSLAT_BIN) >= mtime(DNSLAT_SRC)) return DNSLAT_BIN;
  // The compiler the native UDP module is built with (scripts/build-native.mjs).
  const native = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'build-native.mjs')).href)) as { findCompiler(): string | null };
  const cc = native.findCompiler();
  if (!cc) {
    log('no C compiler (cc, gcc, clang): latency runs use dnsperf -v instead of dnslat (apt-get install -y gcc libc6-dev)');
    return null;
  }
  const args = ['-O2', '-Wall', '-Wextra', '-o', DNSLAT_BIN, DNSLAT_SRC];
  log(`$ ${cc} ${args.join(' ')}`);
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`building dnslat failed (${(r.stderr || r.error?.message || '').trim().slice(0, 500)}): latency runs use dnsperf -v`);
    return null;
  }
  return DNSLAT_BIN;
}

/**
 * Whether dnslat runs at real-time priority (SCHED_FIFO 10, through chrt): as
 * root with chrt, unless BENCH_CLIENT_RT=0. It sleeps 100 µs between its
 * rounds and takes little CPU, but at normal priority the load's other tasks
 * (etcd, the churner, this process) kept it from its CPU for up to 17 ms when
 * its timer woke it, and it then sent the queries due meanwhile in one burst:
 * a burst no real client population sends, whose queue every server's tail
 * then carried. A task that holds its CPU anyway (a kernel thread between two
 * preemption points: kdamond) is still traced and its burst left out.
 */
export function dnslatRealtime(): boolean {
  realtime ??= process.env.BENCH_CLIENT_RT !== '0' && process.getuid?.() === 0 && spawnSync('chrt', ['-f', '10', 'true']).status === 0;
  return realtime;
}
/** dnslatRealtime's answer, found once (a chrt run) and asked before every latency run and by the report. */
let realtime: boolean | undefined;

/**
 * Every answer's latency (ms, in the order they came; the first `limit` only)
 * of `seconds` at `rate` queries a second by dnslat over `sockets` sockets,
 * with the queries of `queryFile` in turn, and when each answer's query was
 * sent (sentS: CLOCK_MONOTONIC seconds). Lost: queries with no answer within
 * `timeoutS`. pid: dnslat's (one thread), for a trace of the run.
 */
export async function runDnslat(bin: string, port: number, queryFile: string, seconds: number, rate: number, sockets: number, timeoutS: number, out: string, limit = Infinity): Promise<{ ms: Float64Array; sentS: Float64Array; lost: number; pid: number }> {
  const sentFile = `${out}.sent`;
  // chrt execs dnslat in its own process: the pid is dnslat's.
  const rt = dnslatRealtime() ? ['chrt', '-f', '10', bin] : [bin];
  const prog = start(rt[0], [...rt.slice(1), '-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-Q', String(rate), '-c', String(sockets), '-t', String(timeoutS), '-o', out, '-m', sentFile], 'dnslat');
  const info = await withTimeout(prog.exited, (seconds + timeoutS + 30) * 1000, `dnslat on port ${port}`);
  running.delete(prog);
  if (info.code !== 0) throw new Error(`dnslat exited with ${info.code}: ${prog.output().slice(-2000)}`);
  const summary = JSON.parse(prog.output().trim().split('\n').pop() ?? '{}') as { sent: number; answered: number; lost: number; start_mono_ns: number };
  const [bytes, sentBytes] = await Promise.all([fsp.readFile(out), fsp.readFile(sentFile)]);
  await Promise.all([fsp.rm(out, { force: true }), fsp.rm(sentFile, { force: true })]);
  const ns = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const us = new Uint32Array(sentBytes.buffer, sentBytes.byteOffset, sentBytes.length >>> 2);
  const n = Math.min(ns.length, us.length, limit);
  const ms = new Float64Array(n);
  const sentS = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    ms[i] = ns[i] / 1e6;
    sentS[i] = summary.start_mono_ns / 1e9 + us[i] / 1e6;
  }
  // With a limit, the lost are counted among the first `limit` queries sent, in proportion.
  const lost = limit === Infinity ? summary.lost : Math.round((summary.lost * Math.min(limit, summary.sent)) / Math.max(1, summary.sent));
  return { ms, sentS, lost, pid: prog.pid };
}

/** Starts dnsperf at a fixed rate with every answer written to `out`; resolves when it exits. */
export function spawnVerbose(dnsperf: string, port: number, queryFile: string, seconds: number, rate: number, s: DnsperfOptions, out: string): Promise<void> {
  const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-Q', String(rate), '-c', String(s.clients), '-T', String(s.threads), '-q', String(s.outstanding), '-t', String(s.queryTimeout), '-v'];
  const prog = start('/bin/sh', ['-c', `exec ${q(dnsperf)} ${args.map(q).join(' ')} > ${q(out)}`], 'dnsperf -v');
  return withTimeout(prog.exited, (seconds + s.queryTimeout + 30) * 1000, `dnsperf -v on port ${port}`).then((info) => {
    running.delete(prog);
    if (info.code !== 0) throw new Error(`dnsperf -v exited with ${info.code}: ${prog.output().slice(-2000)}`);
  });
}
