/**
 * Go-style command-line flags, shared by every program of the pod so that the
 * legacy container arguments work unchanged:
 *   -name=value, -name value, --name=value, --name value, -bool, -bool=false,
 *   `--` ends the flags, parsing stops at the first non-flag argument,
 *   optionally `_` and `-` interchangeable in names (kube2sky's pflag normaliser).
 * Environment variables may supply a flag's default; an explicit flag wins.
 *
 * commander does the parsing: each spec table becomes a commander Command
 * (options with defaults, Option.env() defaults, argParsers for Go values, and
 * a help formatter in Go's PrintDefaults shape). Commander itself only knows
 * GNU-style `--name=value`, so a small adapter (goArgv) first rewrites the
 * Go-style argv into that form.
 */
import { Command, CommanderError, Option } from 'commander';

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
  /** The usage text commander produced for `--help` (empty when not known). */
  readonly usage: string;
  constructor(usage = '') {
    super('help requested');
    this.name = 'HelpRequested';
    this.usage = usage;
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

// ---------------------------------------------------------------- Go argv → commander argv

/** What the adapter made of a Go-style argv. */
export interface CommanderArgv {
  /** `--name=value` for every flag (canonical names), then `--help` if help was asked for. */
  args: string[];
  /** Per canonical name, the spellings used on the command line, in order (for Go's error texts). */
  spellings: Map<string, string[]>;
  /** Arguments after the flags. */
  rest: string[];
  /** `_` spellings accepted (kube2sky). */
  warnings: string[];
  /** A syntax error found after `args`; reported only if the flags before it parse (Go stops at the first error). */
  error?: FlagError;
}

function flagIndex(defs: readonly FlagDef[], norm: (n: string) => string): Map<string, FlagDef> {
  const byName = new Map<string, FlagDef>();
  for (const d of defs) {
    byName.set(norm(d.name), d);
    for (const a of d.aliases ?? []) byName.set(norm(a), d);
  }
  return byName;
}

/**
 * Rewrites Go `flag` syntax into what commander parses. Only this step knows
 * Go's rules: one or two dashes, `-flag value` for non-bool flags only (so the
 * flag's type decides whether the next argument is consumed), a bare bool flag
 * meaning true, parsing stopping at the first non-flag, `-h`/`-help` when not
 * defined, and kube2sky's `_`/`-` equivalence. Values are left to commander.
 */
export function goArgv(defs: readonly FlagDef[], argv: readonly string[], opts: ParseOptions = {}): CommanderArgv {
  const norm = (n: string) => (opts.underscores ? n.replace(/_/g, '-') : n);
  const byName = flagIndex(defs, norm);
  const out: CommanderArgv = { args: [], spellings: new Map(), rest: [], warnings: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break;
    if (arg === '--') {
      i++;
      break;
    }
    let body = arg.slice(arg[1] === '-' ? 2 : 1);
    if (body === '' || body[0] === '-' || body[0] === '=') return stopWith(out, new FlagError(`bad flag syntax: ${arg}`));
    let value: string | undefined;
    const eq = body.indexOf('=');
    if (eq !== -1) {
      value = body.slice(eq + 1);
      body = body.slice(0, eq);
    }
    const def = byName.get(norm(body));
    if (!def && (body === 'h' || body === 'help')) {
      out.args.push('--help');
      return out;
    }
    if (!def) return stopWith(out, new FlagError(`flag provided but not defined: -${body}`));
    if (opts.underscores && body.includes('_')) out.warnings.push(`flag -${body} uses "_"; it is the same as -${body.replace(/_/g, '-')}`);
    if (def.type === 'bool') value ??= 'true';
    else if (value === undefined) {
      if (i + 1 >= argv.length) return stopWith(out, new FlagError(`flag needs an argument: -${body}`));
      value = argv[++i];
    }
    out.args.push(`--${def.name}=${value}`);
    const seen = out.spellings.get(def.name) ?? [];
    seen.push(body);
    out.spellings.set(def.name, seen);
  }
  out.rest = argv.slice(i);
  return out;
}

function stopWith(out: CommanderArgv, error: FlagError): CommanderArgv {
  out.error = error;
  return out;
}

// ---------------------------------------------------------------- spec table → commander Command

/** The placeholder naming each type in commander's option flags; help shows it as Go does. */
const PLACEHOLDER: Record<FlagType, string> = { string: '<string>', bool: '<bool>', int: '<int>', duration: '<duration>' };

/** Go's PrintDefaults leaves out zero values ("", false, 0, 0s); others are shown as Go would. */
function goDefaultText(d: FlagDef): string | undefined {
  const def = d.default;
  const zero = def === '' || def === false || def === 0 || (d.type === 'duration' && (def === '0' || def === '0s'));
  if (zero) return undefined;
  return typeof def === 'string' && d.type === 'string' ? JSON.stringify(def) : String(def);
}

/** A commander option for one spec-table row. `shown` yields the spelling used for each occurrence. */
function optionFor(def: FlagDef, shown: () => string): Option {
  const o = new Option(`--${def.name} ${PLACEHOLDER[def.type]}`, def.usage);
  o.default(defaultOf(def), goDefaultText(def));
  if (def.env) o.env(def.env);
  // FlagError is not commander's InvalidArgumentError, so commander lets it
  // through untouched and the Go message reaches the user as it is.
  o.argParser((raw: string) => parseValue(def, raw, shown()));
  return o;
}

/** Go's flag.PrintDefaults layout, read back from the commander options (so help shows what commander parses). */
function goHelp(cmd: Command): string {
  const lines = [`Usage of ${cmd.name()}:`];
  if (cmd.description()) lines.push(cmd.description());
  for (const o of cmd.options) {
    if (!o.long || o.long === '--help') continue;
    const kind = o.flags.endsWith(PLACEHOLDER.bool) ? '' : ' ' + o.flags.slice(o.flags.lastIndexOf('<') + 1, -1);
    lines.push(`  -${o.long.slice(2)}${kind}`);
    let text = `    \t${o.description}`;
    if (o.defaultValueDescription !== undefined) text += ` (default ${o.defaultValueDescription})`;
    if (o.envVar) text += ` [env ${o.envVar}]`;
    lines.push(text);
  }
  return lines.join('\n') + '\n';
}

/**
 * Builds the commander Command for a spec table. `spellings` (from goArgv) lets
 * each value error name the flag as it was typed; without it errors use the
 * canonical name. Commander never prints or exits itself: its output is
 * captured and its errors thrown, so callers keep Go's one line and exit 2.
 */
export function commandFor(
  program: string,
  defs: readonly FlagDef[],
  intro = '',
  spellings = new Map<string, string[]>(),
): { cmd: Command; options: Map<string, Option>; help: string[] } {
  const help: string[] = [];
  const options = new Map<string, Option>();
  const cmd = new Command(program)
    .description(intro)
    .exitOverride()
    .configureOutput({ writeOut: (s) => help.push(s), writeErr: () => {}, outputError: () => {} })
    .configureHelp({ formatHelp: (c) => goHelp(c) });
  // A table may define -help itself (Go lets it); then it is an ordinary flag.
  cmd.helpOption(defs.some((d) => d.name === 'help') ? false : '--help', 'show this usage');
  const attributes = new Set<string>();
  for (const def of defs) {
    const o = optionFor(def, () => spellings.get(def.name)?.shift() ?? def.name);
    // commander keys values by attribute name ("no-rec" → "rec"); two flags must not share one.
    if (attributes.has(o.attributeName())) throw new Error(`flags: -${def.name} collides with another flag in commander`);
    attributes.add(o.attributeName());
    cmd.addOption(o);
    options.set(def.name, o);
  }
  return { cmd, options, help };
}

// ---------------------------------------------------------------- environment defaults

/**
 * The environment commander should see: only the table's variables, set and
 * non-empty (an empty value counts as unset), each already a valid value in
 * flag syntax. SkyDNS read environment integers with strconv.Atoi and ignored
 * a bad value with a warning instead of failing, which commander cannot do,
 * so values are checked here, and ints handed on in plain decimal (commander
 * then applies the flag parser, which would read "010" as octal).
 */
export function envFor(defs: readonly FlagDef[], env: NodeJS.ProcessEnv, warnings: string[]): Record<string, string> {
  const view: Record<string, string> = {};
  for (const d of defs) {
    const raw = d.env ? env[d.env] : undefined;
    if (!d.env || raw === undefined || raw === '') continue;
    try {
      const v = parseValue(d, raw, d.name, true);
      view[d.env] = d.type === 'int' ? String(v) : raw;
    } catch {
      warnings.push(`ignoring environment ${d.env}=${JSON.stringify(raw)} (not a valid ${d.type}); using the default for -${d.name}`);
    }
  }
  return view;
}

/**
 * Runs `fn` with process.env replaced by `env`. Commander's Option.env() reads
 * process.env and nothing else; the swap lets callers (and tests) supply the
 * environment, and is safe because parsing is synchronous.
 */
function withProcessEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = process.env;
  process.env = env;
  try {
    return fn();
  } finally {
    process.env = saved;
  }
}

// ---------------------------------------------------------------- parsing

/** ParseOptions plus what `--help` shows (parseCommandLine passes them). */
export interface ParseAndHelpOptions extends ParseOptions {
  program?: string;
  intro?: string;
}

/**
 * Parses a Go-style argv against a spec table: goArgv rewrites it, commander
 * parses it (values, defaults, environment), and the result is read back per
 * spec row. Throws FlagError (Go's message) or HelpRequested; never prints.
 */
export function parseFlags(defs: readonly FlagDef[], argv: readonly string[], opts: ParseAndHelpOptions = {}): ParsedFlags {
  const adapted = goArgv(defs, argv, opts);
  const { cmd, options, help } = commandFor(opts.program ?? 'flags', defs, opts.intro, adapted.spellings);
  const warnings: string[] = [];
  const env = envFor(defs, opts.env ?? process.env, warnings);
  try {
    withProcessEnv(env, () => cmd.parse(adapted.args, { from: 'user' }));
  } catch (err) {
    if (err instanceof CommanderError && err.code === 'commander.helpDisplayed') throw new HelpRequested(help.join(''));
    // The adapter only hands commander known flags with values, so any other
    // commander error is a bug here; it still becomes one line and exit 2.
    if (err instanceof CommanderError) throw new FlagError(err.message.replace(/^error: /, ''));
    throw err;
  }
  if (adapted.error) throw adapted.error;
  const values = new Map<string, FlagValue>();
  const explicit = new Set<string>();
  for (const [name, o] of options) {
    values.set(name, cmd.getOptionValue(o.attributeName()) as FlagValue);
    if (cmd.getOptionValueSource(o.attributeName()) === 'cli') explicit.add(name);
  }
  return { values, explicit, rest: adapted.rest, warnings: [...warnings, ...adapted.warnings] };
}

/** Usage text in the shape Go's flag.PrintDefaults uses, as commander's `--help` prints it. */
export function usageText(program: string, defs: readonly FlagDef[], intro = ''): string {
  return commandFor(program, defs, intro).cmd.helpInformation();
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
    flags = parseFlags(defs, argv, { ...opts, program });
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stderr.write(err.usage);
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
