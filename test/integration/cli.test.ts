/**
 * Every program's command line, parsed by commander through lib/flags: `-help`
 * and `--help` print the usage listing exactly the program's spec table and exit
 * 0; a bad flag prints one error line, then the usage, and exits 2; an
 * environment default reaches the program and an explicit flag beats it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToExit } from '../harness/proc.js';
import type { FlagDef } from '../../lib/flags.js';
import { SKYDNS_FLAGS } from '../../lib/skydns/config.js';
import { KUBE2SKY_FLAGS } from '../../lib/kube2sky/config.js';
import { APISERVER_FLAGS } from '../../lib/sandbox-apiserver/index.js';
import { EXEC_HEALTHZ_FLAGS } from '../../lib/healthz/flags.js';
import { STACK_FLAGS } from '../../lib/stack/flags.js';

const CMD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cmd');

const PROGRAMS: Array<[string, string, readonly FlagDef[]]> = [
  ['skydns.js', 'skydns', SKYDNS_FLAGS],
  ['kube2sky.js', 'kube2sky', KUBE2SKY_FLAGS],
  ['apiserver.js', 'apiserver', APISERVER_FLAGS],
  ['exec-healthz.js', 'exec-healthz', EXEC_HEALTHZ_FLAGS],
  ['stack.js', 'npm start --', STACK_FLAGS],
];

const run = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) => runToExit(process.execPath, [path.join(CMD, file), ...args], { name: `cli-${file}`, env });

const listedFlags = (usage: string) => [...usage.matchAll(/^ {2}-(\S+)/gm)].map((m) => m[1]);

for (const [file, program, defs] of PROGRAMS) {
  test(`${program}: -help and --help list the spec table and exit 0`, async () => {
    for (const arg of ['-help', '--help', '-h']) {
      const r = await run(file, [arg]);
      assert.equal(r.code, 0, `${arg}: ${r.out}`);
      assert.ok(r.out.startsWith(`Usage of ${program}:\n`), r.out);
      assert.deepEqual(listedFlags(r.out), defs.map((d) => d.name), arg);
    }
  });

  test(`${program}: a bad flag is one line, then the usage, exit 2`, async () => {
    const r = await run(file, ['-no-such-flag']);
    assert.equal(r.code, 2, r.out);
    const lines = r.out.split('\n');
    assert.equal(lines[0], `${program}: flag provided but not defined: -no-such-flag`);
    assert.equal(lines[1], `Usage of ${program}:`);
  });
}

test('skydns: an environment default reaches the program; an explicit flag wins', async () => {
  const fromEnv = await run('skydns.js', [], { SKYDNS_ADDR: 'nonsense' });
  assert.equal(fromEnv.code, 2, fromEnv.out);
  assert.equal(fromEnv.out.split('\n')[0], 'skydns: "nonsense" is not an ip:port address');
  const flagWins = await run('skydns.js', ['-addr=127.0.0.1:99999'], { SKYDNS_ADDR: 'nonsense' });
  assert.equal(flagWins.code, 2, flagWins.out);
  assert.equal(flagWins.out.split('\n')[0], 'skydns: "127.0.0.1:99999": port must be 1-65535');
});

test('kube2sky: "_" spellings and -bool=false in the legacy form reach the program', async () => {
  const r = await run('kube2sky.js', ['--etcd_mutation_timeout=x', '--pod-records=false']);
  assert.equal(r.code, 2, r.out);
  assert.equal(r.out.split('\n')[0], 'kube2sky: invalid value "x" for flag -etcd_mutation_timeout: parse error');
});
