/**
 * What the local stack does with its components' output: every line goes to a log file per
 * component in a run directory; on the terminal, by default, only the lines that are warnings
 * or errors (with their continuation lines, e.g. a stack trace), told apart by the formats the
 * components write:
 *   - lib/log.ts (skydns, kube2sky, apiserver): `<ISO time> <name> <LEVEL> message`;
 *   - etcd with --logger=zap: one JSON object per line with a "level" field;
 *   - grpc-js's own log (inside skydns and kube2sky): `E message` for its errors;
 *   - exec-healthz (legacy lines without a level): `command failed: …` is a warning,
 *     `cannot listen …` an error;
 * anything else is information. A line starting with white space continues the record above.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type LineLevel = 'info' | 'warn' | 'error';

/**
 * Warnings a component prints on every start that say nothing about this stack:
 * etcd's "simple token" warning concerns etcd authentication, which the stack never enables.
 */
const BENIGN: RegExp[] = [/"msg":"simple token is not cryptographically signed"/];

const ZAP = /^\{.*"level":"(\w+)"/;
const LOGGER = /^\d{4}-\d\d-\d\dT\S+ \S+ (DEBUG|INFO|WARN|ERROR) /;
const GRPC_ERROR = /^E /;
const HEALTHZ = /^\d{4}-\d\d-\d\dT\S+ exec-healthz (command failed: |cannot listen )/;

/** Classifies a component's lines in order (a continuation line takes the level of its record). */
export class LineClassifier {
  private last: LineLevel = 'info';

  level(line: string): LineLevel {
    if (line === '' || /^\s/.test(line)) return this.last;
    this.last = recordLevel(line);
    return this.last;
  }
}

function recordLevel(line: string): LineLevel {
  if (BENIGN.some((re) => re.test(line))) return 'info';
  let m = ZAP.exec(line);
  if (m) {
    const l = m[1].toLowerCase();
    return l === 'warn' ? 'warn' : l === 'debug' || l === 'info' ? 'info' : 'error';
  }
  m = LOGGER.exec(line);
  if (m) return m[1] === 'WARN' ? 'warn' : m[1] === 'ERROR' ? 'error' : 'info';
  if (GRPC_ERROR.test(line)) return 'error';
  m = HEALTHZ.exec(line);
  if (m) return m[1] === 'command failed: ' ? 'warn' : 'error';
  return 'info';
}

/**
 * etcd's zap JSON line as one readable line (time, level, message, the other fields as
 * key=value); other lines unchanged. For the terminal only: the log file keeps the JSON.
 */
export function readable(line: string): string {
  if (!line.startsWith('{')) return line;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof o.msg !== 'string' || typeof o.level !== 'string') return line;
  const { level, ts, msg, caller: _caller, ...rest } = o;
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [typeof ts === 'string' ? ts : '', String(level).toUpperCase(), msg, ...extra].filter((s) => s !== '').join(' ');
}

/** How many run directories `.stack/logs/` keeps (the oldest are removed when a new run starts). */
export const KEEP_RUNS = 10;

/**
 * The directory for this run's log files: `dir` if given (created if missing), else a new
 * `<repoRoot>/.stack/logs/<UTC time>-<pid>/` (keeping the newest KEEP_RUNS runs), or, when
 * the repository cannot be written, a new directory under the OS temp dir.
 */
export function makeRunDir(repoRoot: string, dir: string, now = new Date()): string {
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  const stamp = `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${process.pid}`;
  const base = path.join(repoRoot, '.stack', 'logs');
  try {
    fs.mkdirSync(base, { recursive: true });
    const run = path.join(base, stamp);
    fs.mkdirSync(run);
    pruneRuns(base, KEEP_RUNS);
    return run;
  } catch {
    return fs.mkdtempSync(path.join(os.tmpdir(), `kube-dns-stack-logs-${stamp}-`));
  }
}

/** Removes all but the newest `keep` run directories under `base` (names sort by time). */
export function pruneRuns(base: string, keep: number): void {
  const runs = fs
    .readdirSync(base, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d{8}T\d{6}Z-\d+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const name of runs.slice(0, Math.max(0, runs.length - keep))) fs.rmSync(path.join(base, name), { recursive: true, force: true });
}

/** A path as printed: relative to the working directory when it lies below it. */
export function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
