/**
 * exec-healthz: runs a shell command every period and keeps the last result
 * (docs/kube2sky.md §4), with the legacy bugs fixed: a timeout per run, never
 * two runs at once, no "healthy" before the first run has finished.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  output: string;
  /** null on success, else the error text (`exit status 1`, `timed out after 2s`, ...). */
  error: string | null;
  /** Completion time (epoch ms). */
  at: number;
  durationMs: number;
}

/** Go's default time format: `2006-01-02 15:04:05.999999999 -0700 MST`, here in UTC. */
export function goTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = String(d.getUTCMilliseconds() * 1_000_000).padStart(9, '0').replace(/0+$/, '');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac ? '.' + frac : ''} +0000 UTC`;
}

/** Process groups of runs still going, killed when the program exits. */
const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Runs `sh -c cmd`, stdout and stderr together, killing the process group after `timeoutMs`. */
export function runOnce(cmd: string, timeoutMs: number): Promise<ExecResult> {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid) running.add(child.pid);
    const chunks: Buffer[] = [];
    let size = 0;
    const take = (d: Buffer) => {
      if (size < 64 * 1024) chunks.push(d);
      size += d.length;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const done = (error: string | null) => {
      clearTimeout(timer);
      if (child.pid) running.delete(child.pid);
      const now = Date.now();
      resolve({ output: Buffer.concat(chunks).toString('utf8'), error, at: now, durationMs: now - start });
    };
    child.on('error', (err) => done(err.message));
    child.on('close', (code, signal) => {
      if (timedOut) done(`timed out after ${timeoutMs} ms`);
      else if (code === 0) done(null);
      else if (code !== null) done(`exit status ${code}`);
      else done(`signal: ${signal === 'SIGKILL' ? 'killed' : signal}`);
    });
  });
}

export interface ProberOptions {
  cmd: string;
  periodMs: number;
  timeoutMs: number;
  latencyMs: number;
  log?: (line: string) => void;
}

export class Prober {
  last: ExecResult | null = null;
  runs = 0;
  failures = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  readonly started = Date.now();

  constructor(readonly opts: ProberOptions) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.periodMs);
  }

  /** One run, unless the previous one is still going (then this tick is skipped). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.opts.log?.(`Worker running ${this.opts.cmd}`);
    this.current = runOnce(this.opts.cmd, this.opts.timeoutMs).then((r) => {
      this.last = r;
      this.runs++;
      if (r.error) {
        this.failures++;
        this.opts.log?.(`command failed: ${r.error}: ${r.output.trim()}`);
      }
      this.running = false;
    });
    await this.current;
  }

  /** The /healthz answer. */
  status(now = Date.now()): { code: number; body: string } {
    const r = this.last;
    if (!r) return { code: 503, body: `No result yet: the first run of "${this.opts.cmd}" has not finished (started ${goTime(this.started)}).\n` };
    if (r.error) return { code: 503, body: `Healthz probe error: Result of last exec: ${r.output}, at ${goTime(r.at)}, error ${r.error}\n` };
    if (now - r.at > this.opts.latencyMs) return { code: 503, body: `Latest result too old to be useful: Result of last exec: ${r.output}, at ${goTime(r.at)}, error None.\n` };
    return { code: 200, body: 'ok' };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
}
