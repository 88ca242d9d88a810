/**
 * Go-style command-line flags, shared by every program of the pod so that the
 * legacy container arguments work unchanged:
 *   -name=value, -name value, --name=value, --name value, -bool, -bool=false,
 *   `--` ends the flags, parsing stops at the first non-flag argument,
 *   optionally `_` and `-` interchangeable in names (kube2sky's pflag normaliser).
 * Environment variables may supply a flag's default; an explicit flag wins.
 */

export type FlagType = 'string' | 'bool' | 'int' | 'duration';
export type FlagValue = string | number | boolean;

export interface FlagDef {
  name: string;
  type: FlagType;
  /** Default in Go syntax for durations ("2s"), else the plain value. */
  default: FlagValue;
  usage: string;
  /** Environment variable supplying the default (empty value = unset). */
  env?: string;
  /** Other accepted spellings. */
  aliases?: string[];
}

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export class HelpRequested extends Error {
  constructor() {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

export interface ParsedFlags {
  /** Flag values; durations are in milliseconds. */
  values: Map<string, FlagValue>;
  /** Names of flags set explicitly on the command line. */
  explicit: Set<string>;
  /** Arguments after the flags. */
  rest: string[];
  /** Warnings to log (unparsable environment defaults, `_` spellings). */
  warnings: string[];
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("300ms", "1.5h", "2h45m", "-1s", "0") into milliseconds. */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m || s === '' ) throw new FlagError(`time: invalid duration "${input}"`);
  const sign = m[1] === '-' ? -1 : 1;
  let total = 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
  let part: RegExpExecArray | null;
  while ((part = re.exec(s)) !== null) total += Number(part[1]) * DURATION_UNITS[part[2]];
  return sign * total;
}

/** Formats milliseconds as a Go duration string ("2s", "1m30s", "500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out = '';
  if (rest < 1000) return (neg ? '-' : '') + `${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  out += `${Number((rest / 1000).toFixed(9))}s`;
  return (neg ? '-' : '') + out;
}

/** Go strconv.ParseBool. */
export function parseBool(s: string): boolean | null {
  switch (s) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False':
      return false;
    default:
      return null;
  }
}

function parseValue(def: FlagDef, raw: string, shown: string): FlagValue {
  switch (def.type) {
    case 'string':
      return raw;
    case 'bool': {
      const b = parseBool(raw);
      if (b === null) throw new FlagError(`invalid boolean value "${raw}" for -${shown}: parse error`);
      return b;
    }
    case 'int': {
      if (!/^[+-]?(0x[0-9a-fA-F]+|\d+)$/.test(raw)) throw new FlagError(`invalid value "${raw}" for flag -${shown}: parse error`);
      const n = Number(raw.replace(/^\+/, ''));
      if (!Number.isSafeInteger(n)) throw new FlagError(`invalid value "${raw}" for flag -${shown}: value out of range`);
      return n;
    }
    case 'duration':
      try {
        return parseDuration(raw);
      } catch {
        throw new FlagError(`invalid value "${raw}" for flag -${shown}: parse error`);
      }
  }
}

function defaultOf(def: FlagDef): FlagValue {
  if (def.type === 'duration' && typeof def.default === 'string') return parseDuration(def.default);
  return def.default;
}

export interface ParseOptions {
  /** Accept `_` for `-` in flag names (kube2sky). */
  underscores?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function parseFlags(defs: readonly FlagDef[], argv: readonly string[], opts: ParseOptions = {}): ParsedFlags {
  const env = opts.env ?? process.env;
  const byName = new Map<string, FlagDef>();
  const norm = (n: string) => (opts.underscores ? n.replace(/_/g, '-') : n);
  for (const d of defs) {
    byName.set(norm(d.name), d);
    for (const a of d.aliases ?? []) byName.set(norm(a), d);
  }
  const values = new Map<string, FlagValue>();
  const explicit = new Set<string>();
  const warnings: string[] = [];
  for (const d of defs) {
    let v = defaultOf(d);
    const ev = d.env ? env[d.env] : undefined;
    if (d.env && ev !== undefined && ev !== '') {
      try {
        v = parseValue(d, ev, d.name);
      } catch {
        warnings.push(`ignoring environment ${d.env}=${JSON.stringify(ev)} (not a valid ${d.type}); using the default for -${d.name}`);
      }
    }
    values.set(d.name, v);
  }
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break;
    if (arg === '--') {
      i++;
      break;
    }
    let body = arg.slice(arg[1] === '-' ? 2 : 1);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`);
    let value: string | undefined;
    const eq = body.indexOf('=');
    if (eq !== -1) {
      value = body.slice(eq + 1);
      body = body.slice(0, eq);
    }
    if (body === 'h' || body === 'help') {
      if (!byName.has(norm(body))) throw new HelpRequested();
    }
    const def = byName.get(norm(body));
    if (!def) throw new FlagError(`flag provided but not defined: -${body}`);
    if (opts.underscores && body.includes('_')) warnings.push(`flag -${body} uses "_"; it is the same as -${body.replace(/_/g, '-')}`);
    if (def.type === 'bool') {
      values.set(def.name, value === undefined ? true : parseValue(def, value, body));
    } else {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${body}`);
        value = argv[++i];
      }
      values.set(def.name, parseValue(def, value, body));
    }
    explicit.add(def.name);
  }
  return { values, explicit, rest: argv.slice(i), warnings };
}

/** Usage text in the shape Go's flag.PrintDefaults uses. */
export function usageText(program: string, defs: readonly FlagDef[], intro = ''): string {
  const lines = [`Usage of ${program}:`];
  if (intro) lines.push(intro);
  for (const d of defs) {
    const kind = d.type === 'bool' ? '' : ` ${d.type === 'duration' ? 'duration' : d.type === 'int' ? 'int' : 'string'}`;
    lines.push(`  -${d.name}${kind}`);
    let text = `    \t${d.usage}`;
    const def = d.type === 'duration' && typeof d.default === 'string' ? d.default : d.default;
    if (def !== '' && def !== false) text += ` (default ${typeof def === 'string' && d.type === 'string' ? JSON.stringify(def) : String(def)})`;
    if (d.env) text += ` [env ${d.env}]`;
    lines.push(text);
  }
  return lines.join('\n') + '\n';
}

/** Typed accessors over ParsedFlags.values. */
export function str(p: ParsedFlags, name: string): string {
  const v = p.values.get(name);
  if (typeof v !== 'string') throw new Error(`flag ${name} is not a string flag`);
  return v;
}
export function num(p: ParsedFlags, name: string): number {
  const v = p.values.get(name);
  if (typeof v !== 'number') throw new Error(`flag ${name} is not a numeric flag`);
  return v;
}
export function bool(p: ParsedFlags, name: string): boolean {
  const v = p.values.get(name);
  if (typeof v !== 'boolean') throw new Error(`flag ${name} is not a boolean flag`);
  return v;
}
