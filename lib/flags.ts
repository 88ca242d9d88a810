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

/** Nanoseconds per unit of a Go duration. */
const DURATION_UNITS_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION_NS = 2n ** 63n - 1n;

/**
 * Parses a Go duration ("300ms", "1.5h", "2h45m", "-1s", "0") into milliseconds.
 * Like Go's time.ParseDuration the sum is computed in whole nanoseconds (so
 * "1.005s" is exactly 1005) and a value beyond ±2^63-1 ns is rejected.
 */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new FlagError(`time: invalid duration "${input}"`);
  const sign = m[1] === '-' ? -1n : 1n;
  let total = 0n;
  const re = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;
  let part: RegExpExecArray | null;
  while ((part = re.exec(s)) !== null) {
    const unit = DURATION_UNITS_NS[part[3]];
    total += BigInt(part[1] || '0') * unit;
    const frac = part[2] ?? '';
    // Go truncates the fractional part to whole nanoseconds.
    if (frac !== '') total += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    if (total > MAX_DURATION_NS) throw new FlagError(`time: invalid duration "${input}"`);
  }
  const ns = sign * total;
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** Go's fmtFrac: `v` with `prec` implied decimals, trailing zeros (and a bare dot) removed. */
function fracString(v: bigint, prec: number): { int: bigint; frac: string } {
  const scale = 10n ** BigInt(prec);
  const frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return { int: v / scale, frac: frac === '' ? '' : '.' + frac };
}

/**
 * Formats milliseconds as a Go duration string, exactly as Go's Duration.String
 * does ("2s", "1m30s", "500ms", "1h0m0s", "1.5µs", "0s"); sub-nanosecond parts are rounded.
 */
export function formatDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  if (neg) ns = -ns;
  const sign = neg ? '-' : '';
  if (ns < 1_000_000_000n) {
    // Under a second: the largest of ns, µs, ms that keeps an integer part.
    const [prec, unit] = ns < 1_000n ? [0, 'ns'] : ns < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const { int, frac } = fracString(ns, prec);
    return `${sign}${int}${frac}${unit}`;
  }
  const { int: secs, frac } = fracString(ns, 9);
  const h = secs / 3600n;
  const m = (secs / 60n) % 60n;
  const sec = secs % 60n;
  let out = `${sec}${frac}s`;
  if (h > 0n || m > 0n) out = `${m}m` + out;
  if (h > 0n) out = `${h}h` + out;
  return sign + out;
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

/**
 * An integer the way Go's flag package reads one (strconv.ParseInt with base 0):
 * optional sign, then `0x`/`0X` hex, `0o`/`0O` or leading-`0` octal, `0b`/`0B`
 * binary or decimal, with `_` allowed between digits. With `decimalOnly`, the
 * strconv.Atoi form that SkyDNS used for environment values (sign + decimal digits).
 * Returns null if the text is not an integer; the value may exceed the safe range.
 */
export function parseGoInt(raw: string, decimalOnly = false): number | null {
  const m = /^([+-]?)(.*)$/s.exec(raw);
  if (!m) return null;
  const neg = m[1] === '-';
  const body = m[2];
  let value: bigint;
  if (decimalOnly) {
    if (!/^[0-9]+$/.test(body)) return null;
    value = BigInt(body);
  } else if (/^0[xX](_?[0-9a-fA-F])+$/.test(body)) value = BigInt('0x' + body.slice(2).replace(/_/g, ''));
  else if (/^0[bB](_?[01])+$/.test(body)) value = BigInt('0b' + body.slice(2).replace(/_/g, ''));
  else if (/^0[oO](_?[0-7])+$/.test(body)) value = BigInt('0o' + body.slice(2).replace(/_/g, ''));
  else if (/^0(_?[0-7])+$/.test(body)) value = BigInt('0o' + body.slice(1).replace(/_/g, ''));
  else if (/^[0-9](_?[0-9])*$/.test(body) && !/^0[0-9_]/.test(body)) value = BigInt(body.replace(/_/g, ''));
  else return null;
  return Number(neg ? -value : value);
}

function parseValue(def: FlagDef, raw: string, shown: string, decimalOnly = false): FlagValue {
  switch (def.type) {
    case 'string':
      return raw;
    case 'bool': {
      const b = parseBool(raw);
      if (b === null) throw new FlagError(`invalid boolean value "${raw}" for -${shown}: parse error`);
      return b;
    }
    case 'int': {
      const n = parseGoInt(raw, decimalOnly);
      if (n === null) throw new FlagError(`invalid value "${raw}" for flag -${shown}: parse error`);
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
        v = parseValue(d, ev, d.name, true);
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
    const def = d.default;
    // Go's PrintDefaults leaves out zero values ("", false, 0, 0s).
    const zero = def === '' || def === false || def === 0 || (d.type === 'duration' && (def === '0' || def === '0s'));
    if (!zero) text += ` (default ${typeof def === 'string' && d.type === 'string' ? JSON.stringify(def) : String(def)})`;
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

/**
 * A program's command line: parses argv and builds its configuration. `-h`/`-help`
 * prints the usage and exits 0; a bad flag prints one line and the usage and exits 2;
 * a configuration `build` rejects prints one line and exits 2.
 */
export function parseCommandLine<T>(
  program: string,
  defs: readonly FlagDef[],
  argv: readonly string[],
  build: (p: ParsedFlags) => T,
  opts: ParseOptions & { intro?: string } = {},
): { flags: ParsedFlags; config: T } {
  let flags: ParsedFlags;
  try {
    flags = parseFlags(defs, argv, opts);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stderr.write(usageText(program, defs, opts.intro));
      process.exit(0);
    }
    process.stderr.write(`${program}: ${(err as Error).message}\n${usageText(program, defs)}`);
    process.exit(2);
  }
  try {
    if (flags.values.get('version') === true) return { flags, config: undefined as T };
    const config = build(flags);
    if (flags.rest.length) throw new FlagError(`unexpected arguments: ${flags.rest.join(' ')}`);
    return { flags, config };
  } catch (err) {
    process.stderr.write(`${program}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
