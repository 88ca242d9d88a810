/**
 * lib/flags: Go `flag`-package argv parsing (docs/design.md §5), environment
 * defaults, Go durations and integers, and the legacy pod command lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FlagDef,
  FlagError,
  FlagValue,
  HelpRequested,
  ParseOptions,
  ParsedFlags,
  bool,
  formatDuration,
  num,
  parseBool,
  parseDuration,
  parseFlags,
  parseGoInt,
  str,
  usageText,
} from '../../lib/flags.js';
import { SKYDNS_FLAGS } from '../../lib/skydns/config.js';

const DEFS: readonly FlagDef[] = [
  { name: 'addr', type: 'string', default: '127.0.0.1:53', usage: 'listen address' },
  { name: 'domain', type: 'string', default: 'skydns.local.', env: 'T_DOMAIN', usage: 'domain' },
  { name: 'b', type: 'bool', default: false, usage: 'a bool' },
  { name: 'round-robin', type: 'bool', default: true, usage: 'shuffle' },
  { name: 'ndots', type: 'int', default: 2, env: 'T_NDOTS', usage: 'ndots' },
  { name: 'systemd', type: 'bool', default: false, env: 'T_SYSTEMD', usage: 'systemd' },
  { name: 'rtimeout', type: 'duration', default: '2s', env: 'T_RTIMEOUT', usage: 'timeout' },
  { name: 'etcd-mutation-timeout', type: 'duration', default: '10s', usage: 'retry window', aliases: ['etcd_mutation_timeout'] },
  { name: 'kube-master-url', type: 'string', default: '', usage: 'API server URL' },
];

const DEFAULTS: Record<string, FlagValue> = {
  addr: '127.0.0.1:53',
  domain: 'skydns.local.',
  b: false,
  'round-robin': true,
  ndots: 2,
  systemd: false,
  rtimeout: 2000,
  'etcd-mutation-timeout': 10_000,
  'kube-master-url': '',
};

function parse(argv: string[], opts: ParseOptions = {}): ParsedFlags {
  return parseFlags(DEFS, argv, { env: {}, ...opts });
}

function valuesOf(p: ParsedFlags): Record<string, FlagValue> {
  return Object.fromEntries(p.values);
}

test('parseFlags: Go flag syntax', async (t) => {
  // [name, argv, changed values, explicit flags, rest]
  const cases: Array<[string, string[], Record<string, FlagValue>, string[], string[]]> = [
    ['no arguments → defaults', [], {}, [], []],
    ['-x=v', ['-addr=0.0.0.0:53'], { addr: '0.0.0.0:53' }, ['addr'], []],
    ['-x v', ['-addr', '0.0.0.0:53'], { addr: '0.0.0.0:53' }, ['addr'], []],
    ['--x=v', ['--addr=0.0.0.0:53'], { addr: '0.0.0.0:53' }, ['addr'], []],
    ['--x v', ['--addr', '0.0.0.0:53'], { addr: '0.0.0.0:53' }, ['addr'], []],
    ['value containing "="', ['-domain=a=b'], { domain: 'a=b' }, ['domain'], []],
    ['empty value with =', ['-domain='], { domain: '' }, ['domain'], []],
    ['value that looks like a flag is taken as the value', ['-addr', '-b'], { addr: '-b' }, ['addr'], []],
    ['bool -b', ['-b'], { b: true }, ['b'], []],
    ['bool --b', ['--b'], { b: true }, ['b'], []],
    ['bool -b=false', ['-round-robin=false'], { 'round-robin': false }, ['round-robin'], []],
    ['bool -b=0 / -b=T / -b=FALSE', ['-b=T', '-round-robin=0', '-systemd=FALSE'], { b: true, 'round-robin': false }, ['b', 'round-robin', 'systemd'], []],
    ['bool does not consume the next argument', ['-round-robin', 'false'], {}, ['round-robin'], ['false']],
    ['int', ['-ndots', '5'], { ndots: 5 }, ['ndots'], []],
    ['negative int', ['-ndots=-1'], { ndots: -1 }, ['ndots'], []],
    ['int base prefixes (strconv.ParseInt base 0)', ['-ndots=0x1F'], { ndots: 31 }, ['ndots'], []],
    ['duration', ['-rtimeout=1m30s'], { rtimeout: 90_000 }, ['rtimeout'], []],
    ['duration as next argument', ['-rtimeout', '300ms'], { rtimeout: 300 }, ['rtimeout'], []],
    ['last occurrence wins', ['-addr=1.1.1.1:53', '-addr=2.2.2.2:53'], { addr: '2.2.2.2:53' }, ['addr'], []],
    ['-- ends the flags', ['-b', '--', '-addr=x'], { b: true }, ['b'], ['-addr=x']],
    ['stops at the first non-flag', ['-b', 'positional', '-addr=x'], { b: true }, ['b'], ['positional', '-addr=x']],
    ['a lone "-" is a non-flag', ['-', '-b'], {}, [], ['-', '-b']],
    ['alias spelling', ['-etcd_mutation_timeout=5s'], { 'etcd-mutation-timeout': 5000 }, ['etcd-mutation-timeout'], []],
  ];
  for (const [name, argv, changed, explicit, rest] of cases) {
    await t.test(name, () => {
      const p = parse(argv);
      assert.deepEqual(valuesOf(p), { ...DEFAULTS, ...changed });
      assert.deepEqual([...p.explicit].sort(), [...explicit].sort());
      assert.deepEqual(p.rest, rest);
      assert.deepEqual(p.warnings, []);
    });
  }
});

test('parseFlags: errors carry Go flag messages', async (t) => {
  const cases: Array<[string[], string]> = [
    [['-foo'], 'flag provided but not defined: -foo'],
    [['--foo=1'], 'flag provided but not defined: -foo'],
    [['-kube_master_url=x'], 'flag provided but not defined: -kube_master_url'], // no underscores without the option
    [['-addr'], 'flag needs an argument: -addr'],
    [['-b', '-ndots'], 'flag needs an argument: -ndots'],
    [['-ndots=abc'], 'invalid value "abc" for flag -ndots: parse error'],
    [['-ndots', '1.5'], 'invalid value "1.5" for flag -ndots: parse error'],
    [['-ndots='], 'invalid value "" for flag -ndots: parse error'],
    [['-ndots=08'], 'invalid value "08" for flag -ndots: parse error'], // leading 0 means octal
    [['-ndots=99999999999999999999'], 'invalid value "99999999999999999999" for flag -ndots: value out of range'],
    [['-b=yes'], 'invalid boolean value "yes" for -b: parse error'],
    [['-round-robin='], 'invalid boolean value "" for -round-robin: parse error'],
    [['-rtimeout=2'], 'invalid value "2" for flag -rtimeout: parse error'],
    [['-rtimeout', '2x'], 'invalid value "2x" for flag -rtimeout: parse error'],
    [['---addr=x'], 'bad flag syntax: ---addr=x'],
    [['-=x'], 'bad flag syntax: -=x'],
    [['--=x'], 'bad flag syntax: --=x'],
  ];
  for (const [argv, message] of cases) {
    await t.test(argv.join(' '), () => {
      assert.throws(
        () => parse(argv),
        (err: unknown) => {
          assert.ok(err instanceof FlagError);
          assert.equal(err.name, 'FlagError');
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }
});

test('parseFlags: -h / -help / --help request usage unless defined', () => {
  for (const argv of [['-h'], ['-help'], ['--help'], ['-b', '-h'], ['-help=1']]) {
    assert.throws(() => parse(argv), (err: unknown) => err instanceof HelpRequested && err.message === 'help requested', argv.join(' '));
  }
  const withH: FlagDef[] = [{ name: 'h', type: 'bool', default: false, usage: 'defined h' }];
  assert.equal(parseFlags(withH, ['-h'], { env: {} }).values.get('h'), true);
});

test('parseFlags: environment variables supply defaults; explicit flags win', async (t) => {
  await t.test('env default used', () => {
    const p = parse([], { env: { T_DOMAIN: 'env.local.', T_NDOTS: '1', T_SYSTEMD: 't', T_RTIMEOUT: '5s' } });
    assert.deepEqual(valuesOf(p), { ...DEFAULTS, domain: 'env.local.', ndots: 1, systemd: true, rtimeout: 5000 });
    assert.deepEqual([...p.explicit], []);
    assert.deepEqual(p.warnings, []);
  });
  await t.test('explicit flag wins over env', () => {
    const p = parse(['-domain=flag.local.', '-ndots', '3', '-systemd=false'], { env: { T_DOMAIN: 'env.local.', T_NDOTS: '1', T_SYSTEMD: '1' } });
    assert.equal(str(p, 'domain'), 'flag.local.');
    assert.equal(num(p, 'ndots'), 3);
    assert.equal(bool(p, 'systemd'), false);
    assert.deepEqual([...p.explicit].sort(), ['domain', 'ndots', 'systemd']);
  });
  await t.test('empty env value counts as unset', () => {
    const p = parse([], { env: { T_DOMAIN: '', T_NDOTS: '' } });
    assert.equal(str(p, 'domain'), 'skydns.local.');
    assert.equal(num(p, 'ndots'), 2);
    assert.deepEqual(p.warnings, []);
  });
  await t.test('unparsable env default ignored with a warning', () => {
    const p = parse([], { env: { T_NDOTS: 'two', T_SYSTEMD: 'yes', T_RTIMEOUT: '5' } });
    assert.equal(num(p, 'ndots'), 2);
    assert.equal(bool(p, 'systemd'), false);
    assert.equal(p.values.get('rtimeout'), 2000);
    assert.deepEqual(p.warnings, [
      'ignoring environment T_NDOTS="two" (not a valid int); using the default for -ndots',
      'ignoring environment T_SYSTEMD="yes" (not a valid bool); using the default for -systemd',
      'ignoring environment T_RTIMEOUT="5" (not a valid duration); using the default for -rtimeout',
    ]);
  });
  await t.test('env integers are decimal (strconv.Atoi), flags use base prefixes', () => {
    const p = parse([], { env: { T_NDOTS: '0x10' } });
    assert.equal(num(p, 'ndots'), 2);
    assert.deepEqual(p.warnings, ['ignoring environment T_NDOTS="0x10" (not a valid int); using the default for -ndots']);
    assert.equal(num(parse([], { env: { T_NDOTS: '010' } }), 'ndots'), 10);
    assert.equal(num(parse([], { env: { T_NDOTS: '+3' } }), 'ndots'), 3);
    assert.equal(num(parse(['-ndots=010']), 'ndots'), 8);
  });
  await t.test('process.env is the default source', () => {
    const saved = process.env.T_DOMAIN;
    process.env.T_DOMAIN = 'from.process.';
    try {
      assert.equal(str(parseFlags(DEFS, []), 'domain'), 'from.process.');
    } finally {
      if (saved === undefined) delete process.env.T_DOMAIN;
      else process.env.T_DOMAIN = saved;
    }
  });
});

test('parseFlags: "_" and "-" interchangeable only with underscores: true', async (t) => {
  await t.test('underscore spelling accepted with a warning', () => {
    const p = parse(['--kube_master_url=http://127.0.0.1:8080', '--etcd_mutation_timeout', '3s'], { underscores: true });
    assert.equal(str(p, 'kube-master-url'), 'http://127.0.0.1:8080');
    assert.equal(p.values.get('etcd-mutation-timeout'), 3000);
    assert.deepEqual(p.warnings, [
      'flag -kube_master_url uses "_"; it is the same as -kube-master-url',
      'flag -etcd_mutation_timeout uses "_"; it is the same as -etcd-mutation-timeout',
    ]);
  });
  await t.test('dash spelling accepted without warnings', () => {
    const p = parse(['--kube-master-url=u', '--domain=cluster.local'], { underscores: true });
    assert.equal(str(p, 'kube-master-url'), 'u');
    assert.equal(str(p, 'domain'), 'cluster.local');
    assert.deepEqual(p.warnings, []);
  });
  await t.test('without the option the underscore name is unknown', () => {
    assert.throws(() => parse(['--kube_master_url=u']), { message: 'flag provided but not defined: -kube_master_url' });
  });
  await t.test('unknown flag still reported with its spelling', () => {
    assert.throws(() => parse(['--no_such_flag'], { underscores: true }), { message: 'flag provided but not defined: -no_such_flag' });
  });
});

test('legacy skydns-rc.yaml argument vector parses with SKYDNS_FLAGS', () => {
  const argv = ['-machines=http://127.0.0.1:4001', '-addr=0.0.0.0:53', '-ns-rotate=false', '-domain=cluster.local.'];
  const p = parseFlags(SKYDNS_FLAGS, argv, { env: {} });
  assert.equal(str(p, 'machines'), 'http://127.0.0.1:4001');
  assert.equal(str(p, 'addr'), '0.0.0.0:53');
  assert.equal(bool(p, 'ns-rotate'), false);
  assert.equal(str(p, 'domain'), 'cluster.local.');
  assert.deepEqual([...p.explicit].sort(), ['addr', 'domain', 'machines', 'ns-rotate']);
  assert.deepEqual(p.rest, []);
  assert.deepEqual(p.warnings, []);
  // untouched flags keep their SkyDNS defaults
  assert.equal(bool(p, 'round-robin'), true);
  assert.equal(p.values.get('rtimeout'), 2000);
  assert.equal(num(p, 'ndots'), 2);
  assert.equal(num(p, 'rcache'), 0);
  assert.equal(num(p, 'rcache-ttl'), 60);
  assert.equal(num(p, 'scache'), 10000);
  assert.equal(str(p, 'path-prefix'), 'skydns');
  assert.equal(str(p, 'hostmaster'), 'hostmaster@skydns.local.');
  assert.equal(str(p, 'nameservers'), '');
  assert.equal(bool(p, 'no-rec'), false);

  // the same vector with environment defaults present: explicit flags still win
  const q = parseFlags(SKYDNS_FLAGS, argv, { env: { ETCD_MACHINES: 'http://10.0.0.1:2379', SKYDNS_DOMAIN: 'env.local.', SKYDNS_NDOTS: '1', SKYDNS_NAMESERVERS: '8.8.8.8:53' } });
  assert.equal(str(q, 'machines'), 'http://127.0.0.1:4001');
  assert.equal(str(q, 'domain'), 'cluster.local.');
  assert.equal(num(q, 'ndots'), 1);
  assert.equal(str(q, 'nameservers'), '8.8.8.8:53');
});

test('legacy kube2sky and exec-healthz argument vectors parse', () => {
  const kube2sky: FlagDef[] = [
    { name: 'domain', type: 'string', default: 'cluster.local', usage: 'domain' },
    { name: 'etcd-server', type: 'string', default: 'http://127.0.0.1:4001', usage: 'etcd' },
    { name: 'kube-master-url', type: 'string', default: '', usage: 'master' },
  ];
  for (const argv of [['--domain=cluster.local'], ['-domain=cluster.local'], ['-domain', 'cluster.local']]) {
    const p = parseFlags(kube2sky, argv, { underscores: true, env: {} });
    assert.equal(str(p, 'domain'), 'cluster.local');
    assert.equal(str(p, 'etcd-server'), 'http://127.0.0.1:4001');
  }
  const healthz: FlagDef[] = [
    { name: 'cmd', type: 'string', default: 'echo healthz', usage: 'command' },
    { name: 'port', type: 'int', default: 8080, usage: 'port' },
    { name: 'period', type: 'duration', default: '2s', usage: 'period' },
  ];
  const p = parseFlags(healthz, ['-cmd=nslookup kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null', '-port=8080'], { env: {} });
  assert.equal(str(p, 'cmd'), 'nslookup kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null');
  assert.equal(num(p, 'port'), 8080);
  assert.equal(p.values.get('period'), 2000);
});

test('typed accessors reject the wrong type', () => {
  const p = parse([]);
  assert.throws(() => str(p, 'ndots'), { message: 'flag ndots is not a string flag' });
  assert.throws(() => num(p, 'addr'), { message: 'flag addr is not a numeric flag' });
  assert.throws(() => bool(p, 'addr'), { message: 'flag addr is not a boolean flag' });
  assert.throws(() => str(p, 'missing'), { message: 'flag missing is not a string flag' });
});

// ---------------------------------------------------------------- values

test('parseDuration: Go time.ParseDuration, in milliseconds', async (t) => {
  const ok: Array<[string, number]> = [
    ['2s', 2000],
    ['1m30s', 90_000],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['-1s', -1000],
    ['+2s', 2000],
    ['0', 0],
    ['-0', 0],
    ['0s', 0],
    ['1.005s', 1005], // exact, not 1004.9999999999999
    ['.5s', 500],
    ['1.s', 1000],
    ['1us', 0.001],
    ['1µs', 0.001], // U+00B5
    ['1μs', 0.001], // U+03BC
    ['1ns', 0.000001],
    ['1h1m1s1ms', 3_661_001],
    ['10s', 10_000],
    ['1.0000000001s', 1000], // below a nanosecond: truncated like Go
    ['2562047h47m16.854775807s', 9_223_372_036_854.775], // the largest Go duration
  ];
  for (const [input, want] of ok) await t.test(input, () => assert.equal(parseDuration(input), want));
  const bad = ['', '1', '2x', 's', '.s', '1.5', '1sm', '1 s', '--1s', '+-1s', '1h-1m', '1e3s', 'abc', '2562047h47m16.854775808s'];
  for (const input of bad) {
    await t.test(`invalid ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseDuration(input), (err: unknown) => err instanceof FlagError && err.message === `time: invalid duration "${input}"`);
    });
  }
});

test('formatDuration: Go Duration.String', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [2000, '2s'],
    [90_000, '1m30s'],
    [500, '500ms'],
    [1, '1ms'],
    [1500, '1.5s'],
    [1005, '1.005s'],
    [3_600_000, '1h0m0s'],
    [5_400_000, '1h30m0s'],
    [9_900_000, '2h45m0s'],
    [3_661_001, '1h1m1.001s'],
    [-1000, '-1s'],
    [-90_000, '-1m30s'],
    [0.5, '500µs'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [1.5, '1.5ms'],
    [60_000.0001, '1m0.0000001s'],
    [100 * 3_600_000, '100h0m0s'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDuration(ms), want, String(ms));
  for (const s of ['2s', '1m30s', '300ms', '1h0m0s', '1.5µs', '-1s']) assert.equal(formatDuration(parseDuration(s)), s, `round trip ${s}`);
});

test('parseGoInt: strconv.ParseInt base 0 and Atoi', () => {
  const base0: Array<[string, number | null]> = [
    ['0', 0],
    ['42', 42],
    ['-42', -42],
    ['+7', 7],
    ['0x1f', 31],
    ['0X1F', 31],
    ['-0x10', -16],
    ['0o17', 15],
    ['017', 15],
    ['0b101', 5],
    ['1_000', 1000],
    ['0x_1f', 31],
    ['00', 0],
    ['08', null],
    ['0x', null],
    ['1__0', null],
    ['_1', null],
    ['1_', null],
    ['', null],
    ['-', null],
    ['1.0', null],
    [' 1', null],
    ['1e3', null],
  ];
  for (const [input, want] of base0) assert.equal(parseGoInt(input), want, input);
  const atoi: Array<[string, number | null]> = [
    ['10', 10],
    ['010', 10],
    ['-3', -3],
    ['+3', 3],
    ['0x10', null],
    ['1_000', null],
    ['', null],
  ];
  for (const [input, want] of atoi) assert.equal(parseGoInt(input, true), want, `atoi ${input}`);
});

test('parseBool: strconv.ParseBool', () => {
  for (const s of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parseBool(s), true, s);
  for (const s of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parseBool(s), false, s);
  for (const s of ['', 'yes', 'no', 'tRUE', 'on', '2']) assert.equal(parseBool(s), null, s);
});

test('usageText: Go PrintDefaults shape, zero defaults left out', () => {
  const defs: FlagDef[] = [
    { name: 'addr', type: 'string', default: '127.0.0.1:53', env: 'SKYDNS_ADDR', usage: 'ip:port to bind to' },
    { name: 'local', type: 'string', default: '', usage: 'local name' },
    { name: 'verbose', type: 'bool', default: false, usage: 'log queries' },
    { name: 'round-robin', type: 'bool', default: true, usage: 'shuffle' },
    { name: 'rcache', type: 'int', default: 0, usage: 'cache size' },
    { name: 'scache', type: 'int', default: 10000, usage: 'signature cache size' },
    { name: 'rtimeout', type: 'duration', default: '2s', usage: 'timeout' },
    { name: 'idle', type: 'duration', default: '0s', usage: 'idle' },
  ];
  assert.equal(
    usageText('skydns', defs, 'intro line'),
    [
      'Usage of skydns:',
      'intro line',
      '  -addr string',
      '    \tip:port to bind to (default "127.0.0.1:53") [env SKYDNS_ADDR]',
      '  -local string',
      '    \tlocal name',
      '  -verbose',
      '    \tlog queries',
      '  -round-robin',
      '    \tshuffle (default true)',
      '  -rcache int',
      '    \tcache size',
      '  -scache int',
      '    \tsignature cache size (default 10000)',
      '  -rtimeout duration',
      '    \ttimeout (default 2s)',
      '  -idle duration',
      '    \tidle',
      '',
    ].join('\n'),
  );
});
