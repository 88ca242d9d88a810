// Child-process helpers for tests: spawn a program, capture its output, wait
// for log lines, stop it reliably, and never leak it past the test process.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { sleep, waitUntil } from '../../lib/stack/wait.js';

export { sleep, waitUntil };
export { type ExitInfo, terminate } from '../../lib/stack/process.js';
import { type ExitInfo, terminate } from '../../lib/stack/process.js';

// ---------------------------------------------------------------------------
// Leftover-process registry. Every child spawned through this module (and
// through etcd.ts) is tracked by PID until it exits. If the test process exits
// (normally, via process.exit(), or by SIGTERM/SIGINT/SIGHUP, e.g. the test
// runner's timeout) every still-running child is SIGKILLed by PID.
// ---------------------------------------------------------------------------

const live = new Set<number>();
let hooksInstalled = false;

function killLeftovers(): void {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killLeftovers);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const handler = (): void => {
      killLeftovers();
      process.removeListener(sig, handler);
      // If nobody else handles this signal, re-raise it so the default action
      // (terminate) still happens.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** Track a child PID so it is SIGKILLed if the test process exits first. */
export function trackPid(pid: number): void {
  installHooks();
  live.add(pid);
}

/** Stop tracking a PID (call once the child has exited). */
export function untrackPid(pid: number): void {
  live.delete(pid);
}

/** True if a process with this PID exists (and is not a zombie we can see). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The inodes of the sockets `pid` holds open (from /proc/<pid>/fd), to find them in /proc/net/{tcp,udp}. */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

// ---------------------------------------------------------------------------
// Waiting (sleep and waitUntil are the local stack's, lib/stack/wait.ts)
// ---------------------------------------------------------------------------

/**
 * Runs `step(0)`, `step(1)`, … at `perSecond` steps a second, one at a time (open loop: steps
 * that fell behind are caught up), until stop() or for at most `maxMs`. stop() waits for the step
 * under way and resolves with the number of steps made.
 */
export function paced(perSecond: number, step: (i: number) => Promise<void>, maxMs = Infinity): { stop(): Promise<number> } {
  let stopped = false;
  let done = 0;
  const loop = (async () => {
    const t0 = performance.now();
    while (!stopped && perSecond > 0 && performance.now() - t0 < maxMs) {
      const due = Math.floor(((performance.now() - t0) / 1000) * perSecond);
      while (done < due && !stopped) await step(done++);
      await sleep(10);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return done;
    },
  };
}


// ---------------------------------------------------------------------------
// Output capture helpers shared with etcd.ts
// ---------------------------------------------------------------------------

/** Unref a child's stdio pipe so it does not keep the event loop alive. */
export function unrefStream(stream: unknown): void {
  const s = stream as { unref?: () => void } | null;
  if (s !== null && typeof s.unref === 'function') s.unref();
}

// ---------------------------------------------------------------------------
// spawnProgram
// ---------------------------------------------------------------------------

export interface SpawnOptions {
  /** Extra environment; merged over process.env (or over fullEnv). */
  env?: NodeJS.ProcessEnv;
  /** The whole environment instead of process.env (env is still merged over it). */
  fullEnv?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Short label used in error messages. */
  name: string;
}

export interface Program {
  readonly name: string;
  readonly pid: number;
  /** Everything written to stdout and stderr so far (interleaved). */
  output(): string;
  /**
   * Poll captured output (every 50 ms) until `re` matches; resolves with the
   * matched text. Rejects early if the program exits without matching, and on
   * timeout (both errors include the output tail).
   */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, SIGKILL after 5 s; resolves with the exit code (null if killed by a signal). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Resolves when the program exits (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** True until the program has exited. */
  running(): boolean;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Spawn `cmd args` with stdout+stderr captured. The child does not keep the
 * test process alive by itself (it is unref'd); it is SIGKILLed if the test
 * process exits while it is still running. Accessing `exited` re-refs it so
 * `await prog.exited` keeps the process alive until the child exits.
 */
export function spawnProgram(cmd: string, args: string[], opts: SpawnOptions): Program {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...(opts.fullEnv ?? process.env), ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  let spawnError: Error | undefined;
  const append = (chunk: Buffer): void => {
    buf += chunk.toString('utf8');
    if (buf.length > MAX_OUTPUT) buf = buf.slice(buf.length - MAX_OUTPUT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        resolve(exitInfo);
      }
    });
    child.once('exit', (code, signal) => {
      if (child.pid !== undefined) untrackPid(child.pid);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  if (child.pid === undefined) {
    // spawn failure (e.g. ENOENT) is reported asynchronously via 'error';
    // pid is undefined synchronously in that case.
    const program: Program = {
      name: opts.name,
      pid: -1,
      output: () => buf + (spawnError ? `\n${spawnError.message}` : ''),
      waitFor: async () => {
        await exited;
        throw new Error(`${opts.name}: failed to spawn ${cmd}: ${spawnError?.message ?? 'unknown error'}`);
      },
      stop: async () => (await exited).code,
      kill: async () => {
        await exited;
      },
      exited,
      running: () => false,
    };
    return program;
  }

  const pid = child.pid;
  trackPid(pid);
  child.unref();
  unrefStream(child.stdout);
  unrefStream(child.stderr);

  const describeExit = (): string =>
    exitInfo === undefined ? 'running' : `exited with code ${exitInfo.code} signal ${exitInfo.signal}`;

  return {
    name: opts.name,
    pid,
    output: () => buf,
    async waitFor(re: RegExp, timeoutMs: number): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(buf);
        if (m) return m[0];
        if (exitInfo !== undefined) {
          // give the pipes a moment to drain before declaring failure
          await sleep(50);
          const m2 = re.exec(buf);
          if (m2) return m2[0];
          throw new Error(`${opts.name} (pid ${pid}) ${describeExit()} before output matched ${re}; output tail:\n${tail(buf)}`);
        }
        if (Date.now() >= deadline) {
          throw new Error(`timed out after ${timeoutMs}ms waiting for ${opts.name} output to match ${re}; output tail:\n${tail(buf)}`);
        }
        await sleep(50);
      }
    },
    async stop(): Promise<number | null> {
      const info = await terminate(child, exited, 'SIGTERM');
      return info.code;
    },
    async kill(): Promise<void> {
      await terminate(child, exited, 'SIGKILL');
    },
    get exited(): Promise<ExitInfo> {
      if (exitInfo === undefined) child.ref();
      return exited;
    },
    running: () => exitInfo === undefined,
  };
}

/** Runs `cmd args` to its end: its exit code and everything it printed (stdout and stderr). */
export async function runToExit(cmd: string, args: string[], opts: SpawnOptions): Promise<{ code: number | null; out: string }> {
  const p = spawnProgram(cmd, args, opts);
  const { code } = await p.exited;
  return { code, out: p.output() };
}
