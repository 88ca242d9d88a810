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
 * skydns's query thread (one worker) is kept to the server's CPU as well
 * (withSplit): left free, the scheduler put it on the load's CPU, beside the
 * client, for most of some runs. Knot's threads, one per CPU, stay free. On
 * this VM the agent's threads (tokio-rt-worker) sometimes hold a CPU for
 * 20-50 ms and a pinned thread waits them out: those holds are traced and
 * the answers they delayed left out of the clear figures.
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
import { log, procStat, withChildren } from './common.js';
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

/** Sets the CPUs of the processes' threads (taskset -p; every thread with allThreads: -a). Not their children: the servers are this process's. */
export function pin(pids: number[], cpus: string, allThreads = true): void {
  for (const pid of pids) {
    const r = spawnSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
    // A process that has just exited is no failure of the split.
    if (r.status !== 0 && fs.existsSync(`/proc/${pid}`)) log(`taskset${allThreads ? ' -a' : ''} -p -c ${cpus} ${pid} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
}

/** The server of a latency run, kept to the CPUs left to it: its processes, and whether all their threads answer (knot) or only each process's main thread (skydns: its helpers stay free). */
export interface PinnedServer {
  pids: number[];
  allThreads: boolean;
}

/**
 * Runs fn with the load's processes (this one, the children it starts
 * meanwhile, and loadPids: etcd, and the servers not being measured) on
 * split.load and the server's query threads on split.server, then gives them
 * every CPU back. Left free (BENCH_PIN_SERVER=0), the server's query thread
 * moved to the load's CPU: an unpinned skydns ran 10-90 % of a static run
 * there, sharing it with the client while CPU 0 sat idle (the scheduler puts
 * a woken task on its waker's CPU), and the queries queued behind that
 * sharing for up to 30 ms. The holds of CPU 0 by other tasks that kept a
 * pinned server waiting (the VM agent's, up to 50 ms) are traced and left out
 * of the clear figures.
 */
export async function withSplit<T>(split: CpuSplit | null, loadPids: number[], fn: () => Promise<T>, server: PinnedServer | null = null): Promise<T> {
  if (!split) return fn();
  const load = [process.pid, ...loadPids];
  const pinServer = server !== null && process.env.BENCH_PIN_SERVER !== '0';
  pin(load, split.load);
  if (pinServer) pin(server.pids, split.server, server.allThreads);
  try {
    return await fn();
  } finally {
    pin(load, split.all);
    if (pinServer) pin(server.pids, split.all, server.allThreads);
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
const EVENTS = ['sched_switch', 'sched_wakeup'];
/** The timer tick (events/irq_vectors): where the kernel has it, a running CPU's ticks tell when the CPU itself stopped. */
const TICK = 'irq_vectors/local_timer_entry';

/**
 * Where the server's query thread (each process's main thread) was during a
 * run: the share of its running time on each CPU, and the times it was ready
 * to run (woken, or preempted) but waited more than HOLD_MS for a CPU, by the
 * CPU it then ran on. A thread left free (BENCH_PIN_SERVER=0, or several
 * workers) may be moved to the load's CPU (a woken task is often pulled to its
 * waker's), where it waits its turn behind the client and etcd and no hold on
 * the server's CPUs explains the wait.
 */
export interface QueryThread {
  /** ms run on each CPU. */
  ranMs: number[];
  /** Waits for a CPU longer than HOLD_MS, by the CPU the thread then ran on. */
  waits: { cpu: number; count: number; totalMs: number; maxMs: number }[];
  /** How many of them another task caused (added to the holds' spans: their answers are not the server's own). */
  foreign: number;
  /** Each such wait (CLOCK_MONOTONIC seconds), in time order. */
  spans: Span[];
  /** Each stretch it ran (CLOCK_MONOTONIC seconds), in time order (for BENCH_DUMP_DIR). */
  runs: Span[];
  /** Each time it slept longer than SLEEP_MS, until it was woken (lateWakes tells which of them held up a query). */
  sleeps: Sleep[];
}

/** A sleep of the query thread, and whether one of the server's own threads woke it. */
export interface Sleep extends Span {
  byOwn: boolean;
}

/** Sleeps shorter than this are not kept: at the latency runs' rates a query comes every few µs. */
const SLEEP_MS = 1;

/**
 * The times the server's query thread slept on while a query was already on
 * its way to it: from the first query sent after it fell asleep (SLEEP_MS
 * later or more) to its wakeup. On this machine's VM a CPU left idle is
 * sometimes not woken for tens of ms (up to 100 ms seen) when the load's CPU
 * sends it a packet: the trace shows the CPU idle, the client sending every
 * 250 µs, and the thread woken in the end from an interrupt on the idle CPU.
 * A sleep ended by one of the server's own threads (it waited for a helper)
 * is its own doing and only counted (`byOwn`); the others are returned as
 * spans (their answers are no more the server's than a hold's).
 */
export function lateWakes(sleeps: readonly Sleep[], sentSorted: Float64Array): { spans: Span[]; byOwn: number; maxMs: number } {
  const spans: Span[] = [];
  let byOwn = 0;
  let maxMs = 0;
  for (const z of sleeps) {
    // The first query sent after the thread fell asleep.
    let lo = 0;
    let hi = sentSorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sentSorted[mid] < z.from) lo = mid + 1;
      else hi = mid;
    }
    if (lo === sentSorted.length) continue;
    const first = sentSorted[lo];
    if ((z.to - first) * 1000 <= SLEEP_MS) continue;
    maxMs = Math.max(maxMs, (z.to - first) * 1000);
    if (z.byOwn) byOwn++;
    else spans.push({ from: first, to: z.to });
  }
  return { spans, byOwn, maxMs };
}

/**
 * Task switches and wakeups on every CPU while a latency run goes on
 * (ftrace's sched_switch and sched_wakeup): the holds of the CPUs left to the
 * server by other tasks, and where the server's query thread ran and waited.
 * start() returns null where tracefs cannot be written (not root, not
 * mounted, or in use: a tracer other than "nop" is set).
 */
export class SchedTrace {
  private constructor(
    private readonly restore: { bufferKb: string; cpumask: string; on: string; clock: string; tick: boolean },
    private readonly serverCpus: number[],
  ) {}

  static start(cpus: number[]): SchedTrace | null {
    if (process.env.BENCH_SCHED_TRACE === '0') return null;
    try {
      if (fs.readFileSync(`${T}/current_tracer`, 'utf8').trim() !== 'nop') return null;
      for (const e of EVENTS) if (fs.readFileSync(`${T}/events/sched/${e}/enable`, 'utf8').trim() !== '0') return null; // someone else's trace
      let tick = false;
      try {
        tick = fs.readFileSync(`${T}/events/${TICK}/enable`, 'utf8').trim() === '0';
      } catch {
        // no such event here: no stalls found
      }
      // A nohz_full CPU running one task takes no periodic tick: its ticks tell nothing.
      try {
        const full = fs.readFileSync('/sys/devices/system/cpu/nohz_full', 'utf8').trim();
        if (full !== '' && full !== '(null)') tick = false;
      } catch {
        // no such file: no CPU is nohz_full
      }
      const read = (f: string) => fs.readFileSync(`${T}/${f}`, 'utf8').trim();
      // trace_clock lists every clock with the one in use in brackets.
      const clock = /\[(\S+)\]/.exec(read('trace_clock'))?.[1] ?? 'local';
      const trace = new SchedTrace({ bufferKb: read('buffer_size_kb').replace(/\s.*$/, ''), cpumask: read('tracing_cpumask'), on: read('tracing_on'), clock, tick }, cpus);
      try {
        fs.writeFileSync(`${T}/tracing_on`, '0');
        fs.writeFileSync(`${T}/trace`, '');
        fs.writeFileSync(`${T}/buffer_size_kb`, '32768');
        // CLOCK_MONOTONIC, the clock dnslat stamps its sends with: holds and answers line up.
        fs.writeFileSync(`${T}/trace_clock`, 'mono');
        // Every CPU (os.cpus(): this process is pinned to the load's by now): the holds are counted on
        // the server's, but its query thread is followed wherever it runs.
        fs.writeFileSync(`${T}/tracing_cpumask`, ((1 << os.cpus().length) - 1).toString(16));
        for (const e of EVENTS) fs.writeFileSync(`${T}/events/sched/${e}/enable`, '1');
        if (tick) fs.writeFileSync(`${T}/events/${TICK}/enable`, '1');
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
      ...EVENTS.map((e): [string, string] => [`events/sched/${e}/enable`, '0']),
      ...(this.restore.tick ? [[`events/${TICK}/enable`, '0'] as [string, string]] : []),
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

  /** Stops tracing, puts tracefs back, and reads the trace for the server's threads and the latency client's (analyseTrace). */
  async stop(serverPids: number[], clientPids: number[] = []): Promise<TraceFindings> {
    const who: TraceTasks = { own: new Set(), helpers: new Set(), mains: new Set(), clients: new Set(clientPids) };
    for (const pid of serverPids.flatMap((p) => withChildren(p))) {
      who.mains.add(pid);
      try {
        for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
          who.own.add(Number(t));
          if (Number(t) !== pid) who.helpers.add(Number(t));
        }
      } catch {
        /* gone */
      }
    }
    fs.writeFileSync(`${T}/tracing_on`, '0');
    try {
      if (process.env.BENCH_DUMP_DIR) fs.writeFileSync(`${process.env.BENCH_DUMP_DIR}/trace-${Date.now()}.txt`, fs.readFileSync(`${T}/trace`));
      return await analyseTrace(fs.createReadStream(`${T}/trace`), who, this.serverCpus, os.cpus().length);
    } finally {
      this.putBack();
    }
  }
}

/** The server's threads: every one (own), each process's main thread (mains: the query threads), the others (helpers: V8's and libuv's); and the latency client's (clients: dnslat, one thread). */
export interface TraceTasks {
  own: Set<number>;
  helpers: Set<number>;
  mains: Set<number>;
  clients?: Set<number>;
}

export interface TraceFindings {
  /** Other tasks' holds of the server's CPUs, largest total first. */
  holds: Hold[];
  /**
   * The tasks that kept the latency client (dnslat) from its CPU once it was
   * woken, largest total first. Held off for H ms, it sends the H ms of
   * queries that fell due meanwhile at once when it runs again, and the
   * server meets that burst with a queue: those answers are the hold's.
   */
  clientHolds: Hold[];
  /**
   * The times a server CPU went without its timer tick while a task ran on
   * it (null: ticks not traced). A running CPU takes a tick every period
   * (4 ms here); none for longer means the CPU itself did not run: on this
   * VM, every ~550 ms, 4–7 ms in which the server's thread made no system
   * call, took no fault and no interrupt, and no reply left. Those spans are
   * holds too: no server can answer on a CPU that does not run.
   */
  stalls: { count: number; totalMs: number; maxMs: number; tickMs: number } | null;
  /** The server's helper threads' holds of its CPUs. */
  helperHolds: Hold[];
  /** When another task held a server CPU, or kept the query thread waiting wherever it was, in time order. */
  spans: Span[];
  queryThread: QueryThread;
}

/**
 * Reads ftrace's text output of sched_switch and sched_wakeup (as SchedTrace
 * records it, clock in seconds) for the tasks of `who`: see TraceFindings.
 */
export async function analyseTrace(input: NodeJS.ReadableStream, who: TraceTasks, serverCpus: number[], ncpu: number): Promise<TraceFindings> {
  const { own, helpers, mains } = who;
  const clients = who.clients ?? new Set<number>();
  const clientHolds = new Map<string, Hold>();
  const serverCpu = new Set(serverCpus);
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
  const ranMs = new Array<number>(ncpu).fill(0);
  const waits = new Map<number, { cpu: number; count: number; totalMs: number; maxMs: number }>();
  const waitSpans: Span[] = [];
  const runs: Span[] = [];
  const helperRuns: Span[][] = Array.from({ length: ncpu }, () => []);
  const sleeps: Sleep[] = [];
  const asleepSince = new Map<number, number>();
  let foreign = 0;
  // A main thread's moment of becoming ready to run (woken or preempted), until it runs.
  const readySince = new Map<number, number>();
  const sw = /\[(\d+)\]\s+\S+\s+([\d.]+): sched_switch: prev_comm=.*? prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+) /;
  const wk = /^\s*.*?-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): sched_wakeup: comm=.*? pid=(\d+) /;
  const tk = /\[(\d+)\]\s+\S+\s+([\d.]+): local_timer_entry:/;
  const on = new Map<number, { t: number; comm: string; pid: number }>();
  // The server CPUs' timer interrupts and their switches between idle and a task, in order (ms).
  const cpuEvents: { cpu: number; t: number; kind: 'timer' | 'run' | 'idle' }[] = [];
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const m = sw.exec(line);
    if (!m) {
      const k = tk.exec(line);
      if (k) {
        const cpu = Number(k[1]);
        if (serverCpu.has(cpu)) cpuEvents.push({ cpu, t: Number(k[2]) * 1000, kind: 'timer' });
        continue;
      }
      const w = wk.exec(line);
      if (w && clients.has(Number(w[3]))) {
        const pid = Number(w[3]);
        if (!readySince.has(pid)) readySince.set(pid, Number(w[2]) * 1000);
      } else if (w && mains.has(Number(w[3]))) {
        const pid = Number(w[3]);
        const t = Number(w[2]) * 1000;
        if (!readySince.has(pid)) readySince.set(pid, t);
        const from = asleepSince.get(pid);
        asleepSince.delete(pid);
        // The task in whose context the wakeup ran: one of the server's own threads (a helper
        // it waited for), or another (an interrupt on an idle CPU: a packet, a timer).
        if (from !== undefined && t - from > SLEEP_MS) sleeps.push({ from: from / 1000, to: t / 1000, byOwn: own.has(Number(w[1])) });
      }
      continue;
    }
    const cpu = Number(m[1]);
    const t = Number(m[2]) * 1000;
    const prevPid = Number(m[3]);
    const nextPid = Number(m[6]);
    const was = on.get(cpu);
    if (was && mains.has(was.pid)) {
      ranMs[cpu] += t - was.t;
      runs.push({ from: was.t / 1000, to: t / 1000 });
    } else if (was && helpers.has(was.pid)) {
      helperRuns[cpu].push({ from: was.t / 1000, to: t / 1000 });
      if (helperRuns[cpu].length > 4096) helperRuns[cpu].splice(0, 2048); // only recent ones are looked at
    }
    if (clients.has(prevPid)) {
      if (m[4] === 'R' || m[4] === 'R+') readySince.set(prevPid, t);
      else readySince.delete(prevPid);
    }
    if (clients.has(nextPid)) {
      const since = readySince.get(nextPid);
      readySince.delete(nextPid);
      // Kept from its CPU by another task (the one it takes the CPU from): a hold, as one of a
      // server CPU is. The server's own threads (the scheduler may move one there) are its doing.
      if (since !== undefined && t - since > HOLD_MS && was && was.pid !== 0 && !own.has(was.pid)) {
        note(clientHolds, was.comm.replace(/\/\d+(:\d+)?$/, '').replace(/^kworker\/.*$/, 'kworker'), t - since);
        spans.push({ from: since / 1000, to: t / 1000 });
      }
    }
    if (mains.has(prevPid)) {
      // Preempted (state R): ready again at once. Going to sleep: a wakeup seen while it still
      // ran (the kernel reports those too) is void.
      if (m[4] === 'R' || m[4] === 'R+') readySince.set(prevPid, t);
      else {
        readySince.delete(prevPid);
        asleepSince.set(prevPid, t);
      }
    }
    if (mains.has(nextPid)) {
      const since = readySince.get(nextPid);
      readySince.delete(nextPid);
      if (since !== undefined && t - since > HOLD_MS) {
        const w = waits.get(cpu) ?? { cpu, count: 0, totalMs: 0, maxMs: 0 };
        w.count++;
        w.totalMs += t - since;
        w.maxMs = Math.max(w.maxMs, t - since);
        waits.set(cpu, w);
        waitSpans.push({ from: since / 1000, to: t / 1000 });
        // Whose doing: unless the server's own helper threads had that CPU for most of the wait,
        // another task's (on the load's CPU, where the scheduler may have moved the thread, the
        // client or etcd), and the answers it delayed are no more the server's than a hold's.
        let ownMs = 0;
        const hs = helperRuns[cpu];
        for (let k = hs.length - 1; k >= 0 && hs[k].to * 1000 > since; k--) ownMs += Math.min(t, hs[k].to * 1000) - Math.max(since, hs[k].from * 1000);
        if (ownMs < (t - since) / 2) {
          foreign++;
          spans.push({ from: since / 1000, to: t / 1000 });
        }
      }
    }
    if (serverCpu.has(cpu)) {
      if (was && was.pid !== 0 && !own.has(was.pid) && t - was.t > HOLD_MS) {
        // Kernel threads and programs by name (kworker/1:1 → kworker); the server's own threads never count.
        note(holds, was.comm.replace(/\/\d+(:\d+)?$/, '').replace(/^kworker\/.*$/, 'kworker'), t - was.t);
        spans.push({ from: was.t / 1000, to: t / 1000 });
      } else if (was && helpers.has(was.pid) && t - was.t > HOLD_MS) {
        // The server's own helper threads: its doing, so no span (its answers stay counted), but named.
        note(helperHolds, was.comm, t - was.t);
      }
    }
    if (serverCpu.has(cpu) && (nextPid === 0) !== (prevPid === 0)) cpuEvents.push({ cpu, t, kind: nextPid === 0 ? 'idle' : 'run' });
    on.set(cpu, { t, comm: m[5], pid: nextPid });
  }
  // (Null when ticks were not traced: cpuStalls finds no grid without timer interrupts.)
  const stalls = cpuStalls(cpuEvents);
  if (stalls) spans.push(...stalls.spans);
  spans.sort((a, b) => a.from - b.from);
  waitSpans.sort((a, b) => a.from - b.from);
  const byTotal = (m: Map<string, Hold>) => [...m.values()].sort((a, b) => b.totalMs - a.totalMs);
  return { holds: byTotal(holds), clientHolds: byTotal(clientHolds), stalls: stalls && { count: stalls.spans.length, totalMs: stalls.totalMs, maxMs: stalls.maxMs, tickMs: stalls.tickMs }, helperHolds: byTotal(helperHolds), spans, queryThread: { ranMs, waits: [...waits.values()].sort((a, b) => a.cpu - b.cpu), foreign, spans: waitSpans, runs, sleeps } };
}

/**
 * When the server's CPUs stopped running although a task was on them: the
 * timer ticks a running CPU must take (every period, on one grid of
 * CLOCK_MONOTONIC) that came more than 1 ms late, or not before the task left.
 * The period is the kernel's HZ choice (1, 3.33, 4 or 10 ms) on which the
 * timer interrupts line up best; other timers (hrtimers) interrupt off it
 * (57 % of CPU 0's interrupts were on the grid in a run here). Null when
 * fewer than 8 interrupts, or under 30 % of them, keep to any grid.
 * From the tick's due time until it came (or the task left), the CPU ran
 * nothing: spans in seconds.
 */
export function cpuStalls(events: readonly { cpu: number; t: number; kind: 'timer' | 'run' | 'idle' }[]): { spans: Span[]; totalMs: number; maxMs: number; tickMs: number } | null {
  const timers = events.filter((e) => e.kind === 'timer').map((e) => e.t);
  if (timers.length < 8) return null;
  // The grid: for each period, the 20-µs phase bin most interrupts fall in.
  let best = { tickMs: 0, phase: 0, share: -1 };
  for (const p of [1, 10 / 3, 4, 10]) {
    const bins = new Map<number, number>();
    for (const t of timers) {
      const b = Math.floor((((t % p) + p) % p) / 0.02);
      bins.set(b, (bins.get(b) ?? 0) + 1);
    }
    let top = 0;
    let topBin = 0;
    for (const [b, n] of bins) if (n > top) [top, topBin] = [n, b];
    // A shorter period fits more interrupts by chance: take the longest that explains about as many.
    const share = top / timers.length;
    if (share >= best.share * 0.9) best = { tickMs: p, phase: topBin * 0.02 + 0.01, share };
  }
  // Without a grid most interrupts keep to (a CPU without a periodic tick: nohz_full), nothing is said.
  if (best.share < 0.3) return null;
  const { tickMs, phase } = best;
  const spans: Span[] = [];
  let totalMs = 0;
  let maxMs = 0;
  // Per CPU: since when it has run without a tick, and whether that was a timer interrupt (null: idle).
  const since = new Map<number, { t: number; timer: boolean } | null>();
  const grid = (t: number): number => Math.round((t - phase) / tickMs) * tickMs + phase;
  const check = (cpu: number, until: number): void => {
    const s = since.get(cpu);
    if (s === undefined || s === null) return;
    // The next tick: a period after a tick (its grid point, jitter aside), or the first grid
    // point after the task came on; 50 µs of jitter allowed.
    const first = grid(s.t) > s.t ? grid(s.t) : grid(s.t) + tickMs;
    const due = (s.timer && Math.abs(s.t - grid(s.t)) < 0.05 ? grid(s.t) + tickMs : first) + 0.05;
    // A tick came, or the task left, more than 1 ms past the due time.
    if (until - due > 1) {
      spans.push({ from: due / 1000, to: until / 1000 });
      totalMs += until - due;
      maxMs = Math.max(maxMs, until - due);
    }
  };
  for (const e of events) {
    if (e.kind === 'run') since.set(e.cpu, { t: e.t, timer: false });
    else if (e.kind === 'idle') {
      check(e.cpu, e.t);
      since.set(e.cpu, null);
    } else {
      check(e.cpu, e.t);
      if (since.get(e.cpu)) since.set(e.cpu, { t: e.t, timer: true });
    }
  }
  return { spans, totalMs, maxMs, tickMs };
}

/** A stretch of time (CLOCK_MONOTONIC seconds): a hold, a wait, a run of the query thread. */
export interface Span {
  from: number;
  to: number;
}

/**
 * The latencies of the answers that no hold by another task can have
 * delayed: of those whose query went out (sentS, CLOCK_MONOTONIC seconds) and
 * came back (+ ms) with no hold in between, nor in a hold's shadow: the
 * queue a hold of H leaves behind takes H × ρ/(1-ρ) to drain when the server
 * is busy a share ρ of its time (`drain`, that ratio; 1 at half load, the
 * least used). The holds are another task's on a server CPU, or the server's
 * query thread kept waiting by another task wherever it was (SchedTrace.stop).
 */
export function clearOfHolds(ms: Float64Array, sentS: Float64Array, spans: readonly Span[], drain = 1): Float64Array {
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
    for (let j = lo - 1; j >= 0 && spans[j].from >= a - (1 + drain) * longest; j--) {
      const h = spans[j];
      if (h.to + (h.to - h.from) * drain >= a) {
        clear = false;
        break;
      }
    }
    if (clear) out[n++] = ms[i];
  }
  return out.slice(0, n);
}

/**
 * How long a hold's queue takes to drain, per ms of hold, for a server busy a
 * share `busy` of the time no other task held its CPU: ρ/(1-ρ), at least 1
 * (the half-load figure, also where the share is unknown), at most 19
 * (ρ = 0.95: a server that busy is not at half load).
 */
export function drainFactor(busy: number): number {
  if (!(busy >= 0)) return 1;
  const rho = Math.min(0.95, busy);
  return Math.max(1, rho / (1 - rho));
}

/** "kdamond.0 9× (max 2.8 ms), tokio-rt-worker 5× (max 4.7 ms)". */
export function describeHolds(holds: Hold[] | null): string {
  if (holds === null) return 'not traced';
  if (holds.length === 0) return 'none';
  return holds.map((h) => `${h.task} ${h.count}× (max ${h.maxMs.toFixed(1)} ms)`).join(', ');
}

/**
 * Page faults a server took during a run. On this machine's VM a page the
 * process touches for the first time costs 10-15 µs (a memset of fresh
 * memory runs at ~0.3 GB/s; see freshPageMicros), so a collector or an
 * allocator that hands memory back and takes it again stalls the thread that
 * touches it, without any other task holding the CPU.
 */
export interface Faults {
  minor: number;
  major: number;
  seconds: number;
}

/** Minor and major faults so far of the processes, summed (/proc/PID/stat fields 10 and 12); null if none could be read. */
export function faultsOf(pids: number[]): { minor: number; major: number } | null {
  let minor = 0;
  let major = 0;
  let read = 0;
  for (const pid of pids) {
    const f = procStat(`/proc/${pid}/stat`);
    if (!f) continue; // gone
    minor += Number(f[7]); // minflt, field 10
    major += Number(f[9]); // majflt, field 12
    read++;
  }
  return read ? { minor, major } : null;
}

/**
 * What one fresh page costs on this machine, in µs: the time to write every
 * page of 32 MiB just mapped, less the time to write them again. Bare metal
 * gives ~0.1-0.3 µs; a VM whose host backs guest memory lazily, or hands
 * freed pages back (virtio-balloon free page reporting), much more.
 */
export function freshPageMicros(): number {
  const size = 32 << 20;
  const pages = size / 4096;
  const b = Buffer.allocUnsafeSlow(size); // malloc: mmap'd, not touched
  const t0 = performance.now();
  for (let i = 0; i < size; i += 4096) b[i] = 1;
  const t1 = performance.now();
  for (let i = 0; i < size; i += 4096) b[i] = 2;
  const t2 = performance.now();
  return ((t1 - t0 - (t2 - t1)) * 1000) / pages;
}

/** "1,234 minor page faults (247/s, ~3.0 ms/s at 12 µs each), 0 major". */
export function faultsText(f: Faults | null, pageMicros: number): string {
  if (!f) return 'page faults: not read';
  const perS = f.minor / f.seconds;
  return `${f.minor} minor page faults (${perS.toFixed(0)}/s, ~${((perS * pageMicros) / 1000).toFixed(1)} ms/s at ${pageMicros.toFixed(1)} µs each), ${f.major} major`;
}

/** "busy 38% of the run; ran 91% on CPU 0, 9% on CPU 1; waited for a CPU > 0.5 ms: on CPU 0 3× (max 1.2 ms), on CPU 1 40× (max 12.0 ms)". */
export function queryThreadText(q: QueryThread | null, busy: number | null): string {
  const b = busy !== null && Number.isFinite(busy) ? `busy ${(100 * busy).toFixed(0)}% of the run` : 'busy ?';
  if (!q) return b;
  const total = q.ranMs.reduce((a, b) => a + b, 0) || 1;
  const ran = q.ranMs.map((ms, cpu) => `${((100 * ms) / total).toFixed(0)}% on CPU ${cpu}`).join(', ');
  const waits = q.waits.length ? `${q.waits.map((w) => `on CPU ${w.cpu} ${w.count}× (max ${w.maxMs.toFixed(1)} ms)`).join(', ')}, ${q.foreign} of them for other tasks` : 'never';
  return `${b}; ran ${ran}; waited for a CPU > ${HOLD_MS} ms: ${waits}`;
}
