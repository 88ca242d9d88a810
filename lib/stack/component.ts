/**
 * A child program of the local stack: spawned with every line of its output written to its
 * log file, and shown on the terminal, prefixed with its name, as its `show` mode says (all
 * lines, only warnings and errors, or none); tracked by PID, stopped with SIGTERM (SIGKILL
 * after a grace period).
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { LineClassifier, LineLevel, readable } from './logs.js';
import { terminate } from './process.js';

const COLORS = [36, 33, 35, 32, 34, 31];
let colorIndex = 0;

/** Which of a component's lines the terminal gets: everything, warnings and errors, nothing. */
export type Show = 'all' | 'problems' | 'none';

export interface ComponentOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The whole environment instead (env is still added to it). */
  fullEnv?: NodeJS.ProcessEnv;
  /** File that receives every line (created or appended to). */
  logFile?: string;
  /** Default 'all'. */
  show?: Show;
  /** Where shown lines go (default: process.stdout). */
  out?: (text: string) => void;
}

export class Component {
  private child: ChildProcess | null = null;
  /** Resolves when the process has exited and its output is in the log file. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private resolveExit!: (v: { code: number | null; signal: NodeJS.Signals | null }) => void;
  private readonly color = COLORS[colorIndex++ % COLORS.length];
  private tail: string[] = [];
  private readonly classifier = new LineClassifier();
  /** Warning and error lines seen (records and their continuation lines). */
  problems = 0;

  constructor(
    readonly name: string,
    readonly cmd: string,
    readonly args: string[],
    private readonly opts: ComponentOptions = {},
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get logFile(): string | undefined {
    return this.opts.logFile;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last lines of output (for error messages). */
  lastLines(n = 20): string {
    return this.tail.slice(-n).join('\n');
  }

  start(): void {
    const file = this.opts.logFile ? fs.createWriteStream(this.opts.logFile, { flags: 'a' }) : null;
    file?.on('error', () => undefined); // a full disk must not stop the stack
    // A process group of its own: Ctrl-C in the terminal reaches the stack alone, which then
    // stops the components one by one in reverse order (kube2sky and skydns before etcd), so
    // none of them reports the others going away.
    const child = spawn(this.cmd, this.args, { env: { ...(this.opts.fullEnv ?? process.env), ...this.opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const show = this.opts.show ?? 'all';
    const out = this.opts.out ?? ((s: string) => void process.stdout.write(s));
    const prefix = process.stdout.isTTY ? `\x1b[${this.color}m${this.name.padEnd(12)}\x1b[0m| ` : `${this.name.padEnd(12)}| `;
    const onLine = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 200) this.tail.shift();
      file?.write(line + '\n');
      const level: LineLevel = this.classifier.level(line);
      if (level !== 'info') this.problems++;
      if (show === 'all' || (show === 'problems' && level !== 'info')) out(prefix + readable(line) + '\n');
    };
    const pipe = (stream: NodeJS.ReadableStream) =>
      new Promise<void>((resolve) => {
        let partial = '';
        stream.on('data', (d: Buffer) => {
          const parts = (partial + d.toString()).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) onLine(line);
        });
        stream.on('close', () => {
          if (partial !== '') onLine(partial);
          partial = '';
          resolve();
        });
      });
    const drained = Promise.all([pipe(child.stdout!), pipe(child.stderr!)]);
    let done = false;
    const finish = (v: { code: number | null; signal: NodeJS.Signals | null }) => {
      if (done) return;
      done = true;
      // The pipes close once the output is read (a grandchild holding them gets 2 s).
      void Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]).then(() => {
        if (!file) return this.resolveExit(v);
        file.end(() => this.resolveExit(v));
      });
    };
    child.on('error', (err) => {
      onLine(`cannot start ${this.cmd}: ${err.message}`);
      finish({ code: null, signal: null });
    });
    child.on('exit', (code, signal) => finish({ code, signal }));
  }

  /** SIGKILL now, without waiting (for the stack's own exit, when nothing can be awaited). */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  async stop(graceMs = 5000): Promise<void> {
    const c = this.child;
    if (!c || !this.running || c.pid === undefined) {
      if (c) await this.exited;
      return;
    }
    await terminate(c, this.exited, 'SIGTERM', graceMs);
  }
}
