/**
 * lib/flags on commander: the Go-argv adapter (goArgv), the Command built from
 * a spec table (commandFor), environment defaults through Option.env(), Go's
 * first-error-wins order across adapter and commander, and that commander
 * itself never prints or exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FlagDef,
  FlagError,
  HelpRequested,
  commandFor,
  envFor,
  goArgv,
  parseFlags,
  usageText,
} from '../../lib/flags.js';
import { SKYDNS_FLAGS } from '../../lib/skydns/config.js';
import { KUBE2SKY_FLAGS } from '../../lib/kube2sky/config.js';
import { APISERVER_FLAGS } from '../../lib/sandbox-apiserver/index.js';
import { EXEC_HEALTHZ_FLAGS } from '../../lib/healthz/flags.js';
import { STACK_FLAGS } from '../../lib/stack/flags.js';

const DEFS: readonly FlagDef[] = [
  { name: 'addr', type: 'string', default: '127.0.0.1:53', env: 'T_ADDR', usage: 'listen address' },
  { name: 'b', type: 'bool', default: false, usage: 'a bool' },
  { name: 'ndots', type: 'int', default: 2, env: 'T_NDOTS', usage: 'ndots' },
  { name: 'rtimeout', type: 'duration', default: '2s', env: 'T_RTIMEOUT', usage: 'timeout' },
  { name: 'no-rec', type: 'bool', default: false, env: 'T_NO_REC', usage: 'no recursion' },
  { name: 'kube-master-url', type: 'string', default: '', usage: 'master', aliases: ['master'] },
];

const TABLES: Array<[string, readonly FlagDef[]]> = [
  ['skydns', SKYDNS_FLAGS],
  ['kube2sky', KUBE2SKY_FLAGS],
  ['apiserver', APISERVER_FLAGS],
  ['exec-healthz', EXEC_HEALTHZ_FLAGS],
  ['stack', STACK_FLAGS],
];

test('goArgv: Go syntax rewritten to --name=value', async (t) => {
  const cases: Array<[string, string[], string[], string[]]> = [
    ['-x v', ['-addr', '0.0.0.0:53'], ['--addr=0.0.0.0:53'], []],
    ['--x v', ['--addr', '-b'], ['--addr=-b'], []],
    ['-x=v keeps later "="', ['-addr=a=b'], ['--addr=a=b'], []],
    ['bare bool is true', ['-b'], ['--b=true'], []],
    ['bool does not take the next argument', ['-b', 'false'], ['--b=true'], ['false']],
    ['-bool=false passed on for commander to parse', ['-no-rec=false'], ['--no-rec=false'], []],
    ['alias → canonical name', ['-master', 'u'], ['--kube-master-url=u'], []],
    ['-- ends the flags', ['-b', '--', '-ndots=1'], ['--b=true'], ['-ndots=1']],
    ['stops at the first non-flag', ['x', '-b'], [], ['x', '-b']],
    ['-h and -help become --help, and stop', ['-b', '-help', '-ndots=x'], ['--b=true', '--help'], []],
  ];
  for (const [name, argv, args, rest] of cases) {
    await t.test(name, () => {
      const a = goArgv(DEFS, argv);
      assert.deepEqual(a.args, args);
      assert.deepEqual(a.rest, rest);
      assert.equal(a.error, undefined);
    });
  }
  await t.test('"_" spellings only with underscores, recorded for the error texts', () => {
    const a = goArgv(DEFS, ['--kube_master_url=u', '-no_rec'], { underscores: true });
    assert.deepEqual(a.args, ['--kube-master-url=u', '--no-rec=true']);
    assert.deepEqual(a.spellings.get('kube-master-url'), ['kube_master_url']);
    assert.deepEqual(a.warnings, [
      'flag -kube_master_url uses "_"; it is the same as -kube-master-url',
      'flag -no_rec uses "_"; it is the same as -no-rec',
    ]);
    assert.equal(goArgv(DEFS, ['--kube_master_url=u']).error?.message, 'flag provided but not defined: -kube_master_url');
  });
  await t.test('a structural error keeps the flags before it and stops', () => {
    const a = goArgv(DEFS, ['-ndots=1', '-bogus', '-b']);
    assert.deepEqual(a.args, ['--ndots=1']);
    assert.ok(a.error instanceof FlagError);
    assert.equal(a.error.message, 'flag provided but not defined: -bogus');
  });
});

test('Go order: the first bad argument is the one reported', () => {
  const first = (argv: string[]) => {
    try {
      parseFlags(DEFS, argv, { env: {} });
    } catch (err) {
      return err instanceof HelpRequested ? 'help' : (err as Error).message;
    }
    return 'ok';
  };
  assert.equal(first(['-ndots=x', '-bogus']), 'invalid value "x" for flag -ndots: parse error');
  assert.equal(first(['-bogus', '-ndots=x']), 'flag provided but not defined: -bogus');
  assert.equal(first(['-ndots=x', '-h']), 'invalid value "x" for flag -ndots: parse error');
  assert.equal(first(['-h', '-ndots=x']), 'help');
  assert.equal(first(['-ndots=x', '-addr']), 'invalid value "x" for flag -ndots: parse error');
});

test('value errors name the flag as typed, occurrence by occurrence', () => {
  const defs: FlagDef[] = [{ name: 'etcd-mutation-timeout', type: 'duration', default: '10s', usage: 'x' }];
  assert.throws(() => parseFlags(defs, ['--etcd-mutation-timeout=1s', '--etcd_mutation_timeout=x'], { underscores: true, env: {} }), {
    message: 'invalid value "x" for flag -etcd_mutation_timeout: parse error',
  });
  assert.throws(() => parseFlags(defs, ['--etcd_mutation_timeout=1s', '--etcd-mutation-timeout=x'], { underscores: true, env: {} }), {
    message: 'invalid value "x" for flag -etcd-mutation-timeout: parse error',
  });
});

test('commandFor: every spec row is a commander option with its default, env and type', () => {
  for (const [program, defs] of TABLES) {
    const { cmd, options } = commandFor(program, defs);
    const longs = cmd.options.map((o) => o.long).filter((l) => l !== '--help');
    assert.deepEqual(longs, defs.map((d) => `--${d.name}`), program);
    for (const d of defs) {
      const o = options.get(d.name)!;
      assert.equal(o.envVar, d.env, `${program} -${d.name} env`);
      assert.ok(o.flags.endsWith(`<${d.type}>`), `${program} -${d.name} type`);
      assert.equal(cmd.getOptionValueSource(o.attributeName()), 'default', `${program} -${d.name} source`);
    }
  }
});

test('--help (commander, Go layout) lists exactly the spec table, with its env variables', () => {
  for (const [program, defs] of TABLES) {
    const help = usageText(program, defs);
    const listed = [...help.matchAll(/^ {2}-(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(listed, defs.map((d) => d.name), program);
    const envs = [...help.matchAll(/\[env (\w+)\]/g)].map((m) => m[1]);
    assert.deepEqual(envs, defs.flatMap((d) => (d.env ? [d.env] : [])), program);
  }
});

test('HelpRequested carries the usage commander produced, intro included', () => {
  assert.throws(
    () => parseFlags(DEFS, ['--help'], { env: {}, program: 'prog', intro: 'What it does.' }),
    (err: unknown) => err instanceof HelpRequested && err.usage === usageText('prog', DEFS, 'What it does.') && err.usage.startsWith('Usage of prog:\nWhat it does.\n  -addr string\n'),
  );
});

test('environment defaults go through commander Option.env()', async (t) => {
  await t.test('commander reads process.env for the option and marks the source "env"', () => {
    const { cmd, options } = commandFor('prog', DEFS);
    const saved = process.env.T_NDOTS;
    process.env.T_NDOTS = '0x10'; // commander applies the flag parser (base 0) to what it reads
    try {
      cmd.parse([], { from: 'user' });
    } finally {
      if (saved === undefined) delete process.env.T_NDOTS;
      else process.env.T_NDOTS = saved;
    }
    const key = options.get('ndots')!.attributeName();
    assert.equal(cmd.getOptionValue(key), 16);
    assert.equal(cmd.getOptionValueSource(key), 'env');
  });
  await t.test('bool env for a "no-" flag sets that flag, not its negation', () => {
    const p = parseFlags(DEFS, [], { env: { T_NO_REC: 'true' } });
    assert.equal(p.values.get('no-rec'), true);
    assert.equal(parseFlags(DEFS, ['-no-rec=false'], { env: { T_NO_REC: 'true' } }).values.get('no-rec'), false);
  });
  await t.test('envFor: only set, valid, non-empty variables; ints as Atoi read them', () => {
    const warnings: string[] = [];
    const view = envFor(DEFS, { T_ADDR: '', T_NDOTS: '010', T_RTIMEOUT: '5s', T_NO_REC: 'maybe', OTHER: 'x' }, warnings);
    assert.deepEqual(view, { T_NDOTS: '10', T_RTIMEOUT: '5s' });
    assert.deepEqual(warnings, ['ignoring environment T_NO_REC="maybe" (not a valid bool); using the default for -no-rec']);
  });
  await t.test('process.env is restored after parsing', () => {
    const before = process.env;
    parseFlags(DEFS, [], { env: { T_ADDR: 'x:1' } });
    assert.equal(process.env, before);
    assert.throws(() => parseFlags(DEFS, ['-ndots=x'], { env: { T_ADDR: 'x:1' } }), FlagError);
    assert.equal(process.env, before);
  });
});

test('commander never prints or exits by itself', () => {
  const writes: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = (chunk: string | Uint8Array): boolean => {
    writes.push(String(chunk));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    for (const argv of [['--help'], ['-bogus'], ['-ndots=x'], ['-b=yes'], ['-addr']]) {
      assert.throws(() => parseFlags(DEFS, argv, { env: {} }), (e: unknown) => e instanceof HelpRequested || e instanceof FlagError);
    }
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  assert.deepEqual(writes, []);
});

test('a table whose names collide in commander is refused', () => {
  const defs: FlagDef[] = [
    { name: 'rec', type: 'bool', default: true, usage: 'x' },
    { name: 'no-rec', type: 'bool', default: false, usage: 'y' },
  ];
  assert.throws(() => commandFor('prog', defs), { message: 'flags: -no-rec collides with another flag in commander' });
});

test('a table that defines -help itself gets it as an ordinary flag', () => {
  const defs: FlagDef[] = [{ name: 'help', type: 'string', default: '', usage: 'x' }];
  assert.equal(parseFlags(defs, ['-help=topic'], { env: {} }).values.get('help'), 'topic');
});
