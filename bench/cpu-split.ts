/**
 * Latency at a fixed rate, measured on one machine: the load — the latency
 * client, etcd, the churner, this process — is kept to some CPUs, so the
 * server under test has the others to itself, and a figure is the server's
 * rather than that of its fight with the load for a core. On this 2-core
 * machine, all sharing both CPUs at 80k queries a second, dnsperf -v used
 * more than one core, and the kernel's scheduler trace showed skydns's
 * thread runnable but waiting for a core 12-34 ms in every 100 ms: most
 * answers over 1 ms came from that wait, for knot as well.
 *
 * The server itself is not pinned: on this VM the agent's threads
 * (tokio-rt-worker) sometimes hold a CPU for 20-50 ms, and a server pinned
 * to that CPU waits it out (p99 1.7 ms instead of 0.5 in one run), while one
 * left free moves to the other CPU.
 *
 * What else runs on the CPUs left to the server is the kernel's and the
 * machine's. Where the kernel's tracer can be used (root, tracefs at
 * /sys/kernel/tracing, no other trace running), `SchedTrace` records every
 * task switch on those CPUs during the run and reports the other tasks that
 * held one for more than half a millisecond: on this machine kdamond (DAMON,
 * waking every 512 ms and holding a core 1.5-5 ms) and the VM agent.
 *
 * BENCH_PIN=0 turns the split off (everything shares every CPU).
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { log, withChildren } from './common.js';
import { which } from './dns-servers.js';

export interface CpuSplit {
  /** CPUs left to the server (a taskset list). */
  server: string;
  /** CPUs of the load. */
  load: string;
  serverCpus: number[];
  all: string;
}

/** The split in use: the lower half of the CPUs (at least one) left to the server, the rest for the load; null with one CPU, no taskset, or BENCH_PIN=0. */
export function cpuSplit(): CpuSplit | null {
  if (process.env.BENCH_PIN === '0') return null;
  const n = os.availableParallelism();
  if (n < 2 || which('taskset') === null) return null;
  const k = Math.max(1, Math.floor(n / 2));
  const serverCpus = Array.from({ length: k }, (_, i) => i);
  return { server: k === 1 ? '0' : `0-${k - 1}`, load: k === n - 1 ? String(k) : `${k}-${n - 1}`, serverCpus, all: `0-${n - 1}` };
}

/** Sets the CPUs of every thread of the processes (taskset -a -p; not their children: the servers are this process's). */
export function pin(pids: number[], cpus: string): void {
  for (const pid of pids) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
    // A process that has just exited is no failure of the split.
    if (r.status !== 0 && fs.existsSync(`/proc/${pid}`)) log(`taskset -a -p -c ${cpus} ${pid} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
}

/**
 * Runs fn with the load's processes (this one, the children it starts
 * meanwhile, and loadPids: etcd, and the servers not being measured) on
 * split.load, then gives them every CPU back.
 */
export async function withSplit<T>(split: CpuSplit | null, loadPids: number[], fn: () => Promise<T>): Promise<T> {
  if (!split) return fn();
  const load = [process.pid, ...loadPids];
  pin(load, split.load);
  try {
    return await fn();
  } finally {
    pin(load, split.all);
  }
}

/** Another task holding one of the CPUs left to the server for more than HOLD_MS. */
export interface Hold {
  task: string;
  count: number;
  totalMs: number;
  maxMs: number;
}

const HOLD_MS = 0.5;
const T = '/sys/kernel/tracing';

/**
 * Task switches on the CPUs left to the server while a latency run goes on
 * (ftrace's sched_switch). start() returns null where tracefs cannot be written (not
 * root, not mounted, or in use: a tracer other than "nop" is set).
 */
export class SchedTrace {
  private constructor(private readonly restore: { bufferKb: string; cpumask: string; on: string; clock: string }) {}

  static start(cpus: number[]): SchedTrace | null {
    if (process.env.BENCH_SCHED_TRACE === '0') return null;
    try {
      if (fs.readFileSync(`${T}/current_tracer`, 'utf8').trim() !== 'nop') return null;
      if (fs.readFileSync(`${T}/events/sched/sched_switch/enable`, 'utf8').trim() !== '0') return null; // someone else's trace
      const read = (f: string) => fs.readFileSync(`${T}/${f}`, 'utf8').trim();
      // trace_clock lists every clock with the one in use in brackets.
      const clock = /\[(\S+)\]/.exec(read('trace_clock'))?.[1] ?? 'local';
      const trace = new SchedTrace({ bufferKb: read('buffer_size_kb').replace(/\s.*$/, ''), cpumask: read('tracing_cpumask'), on: read('tracing_on'), clock });
      try {
        fs.writeFileSync(`${T}/tracing_on`, '0');
        fs.writeFileSync(`${T}/trace`, '');
        fs.writeFileSync(`${T}/buffer_size_kb`, '32768');
        // CLOCK_MONOTONIC, the clock dnslat stamps its sends with: holds and answers line up.
        fs.writeFileSync(`${T}/trace_clock`, 'mono');
        fs.writeFileSync(`${T}/tracing_cpumask`, cpus.reduce((m, c) => m | (1 << c), 0).toString(16));
        fs.writeFileSync(`${T}/events/sched/sched_switch/enable`, '1');
        fs.writeFileSync(`${T}/tracing_on`, '1');
        return trace;
      } catch {
        trace.putBack();
        return null;
      }
    } catch {
      return null;
    }
  }

  /** Ends the trace and puts tracefs back as start() found it (each setting on its own: one refused write stops no other). */
  private putBack(): void {
    const writes: [string, string][] = [
      ['events/sched/sched_switch/enable', '0'],
      ['trace', ''],
      ['tracing_cpumask', this.restore.cpumask],
      ['buffer_size_kb', this.restore.bufferKb],
      ['trace_clock', this.restore.clock],
      ['tracing_on', this.restore.on],
    ];
    for (const [file, value] of writes) {
      try {
        fs.writeFileSync(`${T}/${file}`, value);
      } catch {
        // not writable: nothing more to put back there
      }
    }
  }

  /**
   * Stops tracing; returns the holds by other tasks than the server's threads
   * (and idle), largest total first, and each hold's span (CLOCK_MONOTONIC
   * seconds), in time order.
   */
  async stop(serverPids: number[]): Promise<{ holds: Hold[]; helperHolds: Hold[]; spans: Span[] }> {
    const own = new Set<number>();
    // The server's threads other than each process's main thread (V8's and libuv's workers).
    const helpers = new Set<number>();
    for (const pid of serverPids.flatMap((p) => withChildren(p))) {
      try {
        for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
          own.add(Number(t));
          if (Number(t) !== pid) helpers.add(Number(t));
        }
      } catch {
        /* gone */
      }
    }
    fs.writeFileSync(`${T}/tracing_on`, '0');
    const holds = new Map<string, Hold>();
    const helperHolds = new Map<string, Hold>();
    const spans: Span[] = [];
    const note = (into: Map<string, Hold>, task: string, ms: number): void => {
      const h = into.get(task) ?? { task, count: 0, totalMs: 0, maxMs: 0 };
      h.count++;
      h.totalMs += ms;
      h.maxMs = Math.max(h.maxMs, ms);
      into.set(task, h);
    };
    try {
      const re = /\[(\d+)\]\s+\S+\s+([\d.]+): sched_switch: prev_comm=.*? prev_pid=\d+ .*? ==> next_comm=(.*?) next_pid=(\d+) /;
      const on = new Map<number, { t: number; comm: string; pid: number }>();
      const lines = readline.createInterface({ input: fs.createReadStream(`${T}/trace`), crlfDelay: Infinity });
      for await (const line of lines) {
        const m = re.exec(line);
        if (!m) continue;
        const cpu = Number(m[1]);
        const t = Number(m[2]) * 1000;
        const was = on.get(cpu);
        if (was && was.pid !== 0 && !own.has(was.pid) && t - was.t > HOLD_MS) {
          // Kernel threads and programs by name (kworker/1:1 → kworker); the server's own threads never count.
          note(holds, was.comm.replace(/\/\d+(:\d+)?$/, '').replace(/^kworker\/.*$/, 'kworker'), t - was.t);
          spans.push({ from: was.t / 1000, to: t / 1000 });
        } else if (was && helpers.has(was.pid) && t - was.t > HOLD_MS) {
          // The server's own helper threads: its doing, so no span (its answers stay counted), but named.
          note(helperHolds, was.comm, t - was.t);
        }
        on.set(cpu, { t, comm: m[3], pid: Number(m[4]) });
      }
    } finally {
      this.putBack();
    }
    spans.sort((a, b) => a.from - b.from);
    const byTotal = (m: Map<string, Hold>) => [...m.values()].sort((a, b) => b.totalMs - a.totalMs);
    return { holds: byTotal(holds), helperHolds: byTotal(helperHolds), spans };
  }
}

/** When another task held a CPU left to the server (CLOCK_MONOTONIC seconds). */
export interface Span {
  from: number;
  to: number;
}

/**
 * The latencies of the answers that no hold by another task can have
 * delayed: of those whose query went out (sentS, CLOCK_MONOTONIC seconds) and
 * came back (+ ms) with no hold in between, nor one that ended less than its
 * own length before the query went out (the queue a hold leaves behind takes
 * about as long to drain at half the server's maximum rate).
 */
export function clearOfHolds(ms: Float64Array, sentS: Float64Array, spans: readonly Span[]): Float64Array {
  const out = new Float64Array(ms.length);
  let n = 0;
  // The longest hold bounds how far back a hold's shadow can reach.
  let longest = 0;
  for (const h of spans) longest = Math.max(longest, h.to - h.from);
  for (let i = 0; i < ms.length; i++) {
    const a = sentS[i];
    const b = a + ms[i] / 1000;
    // First span that starts after the answer came back: only those before it can overlap.
    let lo = 0;
    let hi = spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (spans[mid].from <= b) lo = mid + 1;
      else hi = mid;
    }
    let clear = true;
    for (let j = lo - 1; j >= 0 && spans[j].from >= a - 2 * longest; j--) {
      const h = spans[j];
      if (h.to + (h.to - h.from) >= a) {
        clear = false;
        break;
      }
    }
    if (clear) out[n++] = ms[i];
  }
  return out.slice(0, n);
}

/** "kdamond.0 9× (max 2.8 ms), tokio-rt-worker 5× (max 4.7 ms)". */
export function describeHolds(holds: Hold[] | null): string {
  if (holds === null) return 'not traced';
  if (holds.length === 0) return 'none';
  return holds.map((h) => `${h.task} ${h.count}× (max ${h.maxMs.toFixed(1)} ms)`).join(', ');
}
