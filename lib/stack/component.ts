/**
 * A child program of the local stack: spawned with its output prefixed by its
 * name, tracked by PID, stopped with SIGTERM (SIGKILL after a grace period).
 */
import { ChildProcess, spawn } from 'node:child_process';

const COLORS = [36, 33, 35, 32, 34, 31];
let colorIndex = 0;

export class Component {
  private child: ChildProcess | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private resolveExit!: (v: { code: number | null; signal: NodeJS.Signals | null }) => void;
  private readonly color = COLORS[colorIndex++ % COLORS.length];
  private tail: string[] = [];

  constructor(
    readonly name: string,
    readonly cmd: string,
    readonly args: string[],
    private readonly opts: { env?: NodeJS.ProcessEnv; quiet?: () => boolean } = {},
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last lines of output (for error messages). */
  lastLines(n = 20): string {
    return this.tail.slice(-n).join('\n');
  }

  start(): void {
    const child = spawn(this.cmd, this.args, { env: { ...process.env, ...this.opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const prefix = process.stdout.isTTY ? `\x1b[${this.color}m${this.name.padEnd(12)}\x1b[0m| ` : `${this.name.padEnd(12)}| `;
    const pipe = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      stream.on('data', (d: Buffer) => {
        const parts = (partial + d.toString()).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          this.tail.push(line);
          if (this.tail.length > 200) this.tail.shift();
          if (!this.opts.quiet?.()) process.stdout.write(prefix + line + '\n');
        }
      });
    };
    pipe(child.stdout!);
    pipe(child.stderr!);
    child.on('error', (err) => {
      this.tail.push(`cannot start ${this.cmd}: ${err.message}`);
      this.resolveExit({ code: null, signal: null });
    });
    child.on('exit', (code, signal) => this.resolveExit({ code, signal }));
  }

  async stop(graceMs = 5000): Promise<void> {
    const c = this.child;
    if (!c || !this.running || c.pid === undefined) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => {
      if (this.running) c.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Polls `check` every 100 ms until it returns true; throws `what` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
