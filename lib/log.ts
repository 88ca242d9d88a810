/** A small leveled logger writing one line per message to stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** What every part that logs is given: one method per level, one line per call. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A logger whose level can be changed (what createLogger makes). */
export interface Log extends Logger {
  level: Level;
}

/** A logger that drops everything (the warm-up's own resolver, tests, benchmarks). */
export const SILENT: Logger = { info() {}, warn() {}, error() {}, debug() {} };

export function createLogger(name: string, level: Level = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Log {
  const log: Log = {
    level,
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
  // Rate limit identical messages (a flood of bad packets must not flood the log).
  const recent = new Map<string, { at: number; suppressed: number }>();
  function emit(l: Level, msg: string): void {
    if (ORDER[l] < ORDER[log.level]) return;
    const now = Date.now();
    const r = recent.get(msg);
    if (r && now - r.at < 10_000) {
      r.suppressed++;
      return;
    }
    let line = `${new Date(now).toISOString()} ${name} ${l.toUpperCase()} ${msg}`;
    if (r && r.suppressed) line += ` (repeated ${r.suppressed} more times in the last ${Math.round((now - r.at) / 1000)}s)`;
    recent.set(msg, { at: now, suppressed: 0 });
    if (recent.size > 1000) {
      for (const [k, v] of recent) if (now - v.at >= 10_000) recent.delete(k);
      if (recent.size > 1000) recent.clear();
    }
    write(line + '\n');
  }
  return log;
}
