/**
 * Helpers shared by the benchmark scripts (skydns-bench.ts, kube2sky-bench.ts): env knobs,
 * logging, /proc readings, the registry of started processes and temp dirs (every process is
 * stopped by PID, also on error, SIGINT/SIGTERM/SIGHUP and the watchdog), Prometheus text,
 * formatting.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdProcess } from '../test/harness/etcd.js';
import { freePort, freeTcpPort } from '../test/harness/ports.js';
import { spawnProgram, type Program } from '../test/harness/proc.js';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

// ---------------------------------------------------------------------------
// Env knobs
// ---------------------------------------------------------------------------

export function envInt(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer in [${min}, ${max}]`);
  }
  return v;
}

/** Splits an env var on whitespace (no quoting; the flags never need spaces). */
export function envArgs(name: string): string[] {
  return (process.env[name] ?? '').split(/\s+/).filter((s) => s !== '');
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function commandOutput(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    return out !== '' ? out : `unavailable (${e.message.split('\n')[0]})`;
  }
}

/** Races a promise against a timeout (the timer is cleared either way). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export function fmt(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
}

/** Log lines at WARN/ERROR level (and anything that looks like a crash); `nodeWarnings` adds node's "Warning:" lines. */
export function logProblems(output: string, nodeWarnings = false): string[] {
  const re = nodeWarnings ? / (WARN|ERROR) |Warning:|uncaught|unhandled|FATAL|heap out of memory/i : / (WARN|ERROR) |uncaught|unhandled|FATAL|heap out of memory/i;
  return output.split('\n').filter((l) => re.test(l));
}

/** A free UDP port for DNS and a different free TCP port for skydns's -metrics-addr. */
export async function dnsAndMetricsPorts(): Promise<{ port: number; metricsPort: number }> {
  const port = await freePort();
  let metricsPort = await freeTcpPort();
  for (let i = 0; i < 10 && metricsPort === port; i++) metricsPort = await freeTcpPort();
  return { port, metricsPort };
}

/** The machine description printed at the top of a report; `extra` goes after node, before etcd. */
export function machineInfo(extra: Record<string, string>): Record<string, string> {
  return {
    date: new Date().toISOString(),
    cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    ...extra,
    etcd: commandOutput('etcd', ['--version']).split('\n')[0],
    loadavg: `${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (1/5/15 min, at start)`,
  };
}

/** Warns if the machine is busy (`where`: where the report shows the noise), then logs the machine. */
export function logMachine(machine: Record<string, string>, where: string): void {
  if (os.loadavg()[0] > 0.5) {
    log(`WARNING: the machine is busy (1-min load average ${os.loadavg()[0].toFixed(2)}); figures will be noisy (see ${where})`);
  }
  log(`machine: ${JSON.stringify(machine)}`);
}

/** Writes `data` as indented JSON, non-finite numbers (NaN, Infinity) as null. */
export async function writeJson(file: string, data: unknown): Promise<void> {
  await fsp.writeFile(file, JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}

// ---------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------

export const CLK_TCK = (() => {
  const v = Number(commandOutput('getconf', ['CLK_TCK']));
  return Number.isInteger(v) && v > 0 ? v : 100;
})();

/** A process and its descendants (skydns -workers=N forks N children). */
export function withChildren(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of fs.readdirSync(`/proc/${out[i]}/task`)) {
        const kids = fs.readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

/** VmRSS / VmHWM of a process and its descendants, summed, in MiB (null if the process is gone). */
export function memOf(pid: number): { rssMiB: number; hwmMiB: number } | null {
  const own = memOfOne(pid);
  if (!own) return null;
  for (const child of withChildren(pid).slice(1)) {
    const m = memOfOne(child);
    if (m) {
      own.rssMiB += m.rssMiB;
      own.hwmMiB += m.hwmMiB;
    }
  }
  return own;
}

/** VmRSS / VmHWM of one process in MiB (null if the process is gone). */
export function memOfOne(pid: number): { rssMiB: number; hwmMiB: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) : NaN;
    };
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** utime+stime of a process and its descendants in seconds (null if the process is gone). */
export function cpuSecondsOf(pid: number): number | null {
  const own = cpuSecondsOfOne(pid);
  if (own === null) return null;
  let total = own;
  for (const child of withChildren(pid).slice(1)) total += cpuSecondsOfOne(child) ?? 0;
  return total;
}

/**
 * The fields of a /proc stat file (/proc/PID/stat, /proc/PID/task/TID/stat)
 * after "pid (comm) ": [0] is field 3 (state), so field N is [N - 3]. Null if
 * the process or thread is gone.
 */
export function procStat(file: string): string[] | null {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime+stime (fields 14 and 15) of a stat file, in seconds. */
function cpuSecondsIn(file: string): number | null {
  const f = procStat(file);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : null;
}

/** utime+stime of one process in seconds (null if the process is gone). */
export function cpuSecondsOfOne(pid: number): number | null {
  return cpuSecondsIn(`/proc/${pid}/stat`);
}

/** utime+stime of a process's main thread (its task of the same id) in seconds, null if gone. */
export function mainThreadCpuSeconds(pid: number): number | null {
  return cpuSecondsIn(`/proc/${pid}/task/${pid}/stat`);
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat, or null. */
export function machineBusySeconds(): number | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    return Number.isFinite(busy) ? busy / CLK_TCK : null;
  } catch {
    return null;
  }
}

/** CPU seconds of each named process, the bench itself and the machine, at one moment. */
export interface CpuSnap {
  at: number;
  procs: Record<string, number | null>;
  bench: number;
  machine: number | null;
}

/** `cpuOf` reads one PID's CPU seconds (default: the process alone, without descendants). */
export function cpuSnap(procs: Record<string, number | undefined>, cpuOf: (pid: number) => number | null = cpuSecondsOfOne): CpuSnap {
  const out: Record<string, number | null> = {};
  for (const [k, pid] of Object.entries(procs)) out[k] = pid !== undefined && pid > 0 ? cpuOf(pid) : null;
  const u = process.cpuUsage();
  return { at: performance.now(), procs: out, bench: (u.user + u.system) / 1e6, machine: machineBusySeconds() };
}

export interface CpuDelta {
  wallS: number;
  cpuS: Record<string, number | null>;
}

/** CPU seconds used between two snapshots, per process, plus "other" (rest of the machine). */
export function cpuDelta(a: CpuSnap, b: CpuSnap): CpuDelta {
  const cpuS: Record<string, number | null> = {};
  let known = 0;
  for (const k of Object.keys(b.procs)) {
    const x = a.procs[k];
    const y = b.procs[k];
    cpuS[k] = x !== null && x !== undefined && y !== null ? y - x : y ?? null;
    known += cpuS[k] ?? 0;
  }
  cpuS.bench = b.bench - a.bench;
  known += cpuS.bench;
  cpuS.other = a.machine !== null && b.machine !== null ? Math.max(0, b.machine - a.machine - known) : null;
  return { wallS: (b.at - a.at) / 1000, cpuS };
}

export function describeCpu(d: CpuDelta): string {
  return Object.entries(d.cpuS)
    .map(([k, v]) => `${k} ${fmt(v, 2)} s`)
    .join(', ') + ` (wall ${fmt(d.wallS, 2)} s)`;
}

// ---------------------------------------------------------------------------
// Cleanup: every started process is stopped by PID; temp dirs are removed.
// The harness also SIGKILLs tracked PIDs if this process exits or is signalled.
// ---------------------------------------------------------------------------

export const tempDirs = new Set<string>();
export const running = new Set<Program>();
const etcds = new Set<EtcdProcess>();

/** SIGKILLs every program and etcd started here and removes every temp dir (synchronously). */
export function killEverything(): void {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const e of etcds) {
    if (e.pid <= 0) continue;
    try {
      process.kill(e.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

export function onSignal(sig: NodeJS.Signals): void {
  log(`received ${sig}: stopping every process started by the benchmark`);
  killEverything();
  process.exit(130);
}

/** Stops a program started with start(); resolves with its exit code (null if not ours, or killed). */
export async function stopProgram(p: Program): Promise<number | null> {
  if (!running.has(p)) return null;
  let code: number | null = null;
  try {
    code = await p.stop();
  } catch (err) {
    log(`stopping ${p.name} (pid ${p.pid}): ${(err as Error).message}`);
  }
  running.delete(p);
  return code;
}

export function start(cmd: string, args: string[], name: string, opts: { cwd?: string } = {}): Program {
  const p = spawnProgram(cmd, args, opts.cwd !== undefined ? { name, cwd: opts.cwd } : { name });
  if (p.pid > 0) running.add(p);
  return p;
}

/** A new temp dir `<prefix>-<tag>-XXXXXX`, removed on exit if still there. */
export async function makeTempDir(prefix: string, tag: string): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), `${prefix}-${tag}-`));
  tempDirs.add(d);
  return d;
}

export async function removeTempDir(d: string): Promise<void> {
  await fsp.rm(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

/** Starts an etcd on loopback, killed (and its data dir removed) on error and signals. */
export async function startBenchEtcd(name: string): Promise<EtcdProcess> {
  const etcd = await startEtcd({ name, timeoutMs: 30_000 });
  etcds.add(etcd);
  tempDirs.add(etcd.dataDir);
  return etcd;
}

/** Starts an etcd cluster of n members on loopback, killed (and removed) on error and signals like startBenchEtcd's. */
export async function startBenchEtcdCluster(n: number): Promise<EtcdCluster> {
  const cluster = await startEtcdCluster(n, { timeoutMs: 30_000 });
  for (const m of cluster.members) {
    etcds.add(m);
    tempDirs.add(m.dataDir);
  }
  return cluster;
}

export async function stopBenchEtcdCluster(cluster: EtcdCluster): Promise<void> {
  await cluster.stop().catch((err: Error) => log(`stopping the etcd cluster: ${err.message}`));
  for (const m of cluster.members) {
    etcds.delete(m);
    tempDirs.delete(m.dataDir);
  }
}

export async function stopBenchEtcd(etcd: EtcdProcess): Promise<void> {
  const dd = etcd.dataDir;
  await etcd.stop().catch((err: Error) => log(`stopping etcd: ${err.message}`));
  etcds.delete(etcd);
  tempDirs.delete(dd);
}

/**
 * Runs `main` with SIGINT/SIGTERM/SIGHUP handlers and a watchdog of `timeoutMin()` minutes
 * (`defaultMin` if that throws); exit code = main's result, 1 (everything killed) if it throws.
 */
export function runBench(main: () => Promise<number>, timeoutMin: () => number, defaultMin: number): void {
  const watchdogMin = (() => {
    try {
      return timeoutMin();
    } catch {
      return defaultMin;
    }
  })();
  const watchdog = setTimeout(() => {
    log(`BENCH_TIMEOUT_MIN=${watchdogMin} exceeded: aborting`);
    onSignal('SIGTERM');
  }, watchdogMin * 60_000);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));

  main().then(
    (code) => {
      clearTimeout(watchdog);
      process.exitCode = code;
    },
    (err: Error) => {
      clearTimeout(watchdog);
      log(`error: ${err.message}`);
      killEverything();
      process.exitCode = 1;
    },
  );
}

// ---------------------------------------------------------------------------
// HTTP and Prometheus text
// ---------------------------------------------------------------------------

export async function httpGet(port: number, p: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Value of one sample (exact name and label string, e.g. `{op="put"}`), or null. */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const head = `${name}${labels} `;
  for (const line of text.split('\n')) if (line.startsWith(head)) return Number(line.slice(head.length).trim().split(' ')[0]);
  return null;
}

/** Sum of a counter (all label sets), or null if absent. */
export function metricSum(text: string, name: string): number | null {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(v)) {
        sum += v;
        found = true;
      }
    }
  }
  return found ? sum : null;
}
