// The README documents every flag of every program, and nothing else: each program's flag table
// (or, for the local stack, its options paragraph) names exactly the flags the program defines.
// skydns's flag table and its /skydns/config table agree with the one table of its settings
// (lib/skydns/config.ts SKYDNS_SETTINGS): environment variables, defaults, JSON keys and types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlagDef } from '../../lib/flags.js';
import { SKYDNS_FLAGS, SKYDNS_SETTINGS, type Setting } from '../../lib/skydns/config.js';
import { KUBE2SKY_FLAGS } from '../../lib/kube2sky/config.js';
import { EXEC_HEALTHZ_FLAGS } from '../../lib/healthz/flags.js';
import { APISERVER_FLAGS } from '../../lib/sandbox-apiserver/options.js';
import { STACK_FLAGS } from '../../lib/stack/flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const README = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

/** The text of a `## title` section, up to the next heading of the same level. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no "## ${title}" section`);
  const end = text.indexOf('\n## ', start + 4);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Flag names in the first column of a markdown table's rows (`-name`, `--name`, several per cell). */
export function tableFlags(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('| `-')) continue;
    const cell = line.split('|')[1];
    for (const m of cell.matchAll(/`--?([a-z0-9][a-z0-9-]*)`/g)) out.push(m[1]);
  }
  return out;
}

const names = (defs: readonly FlagDef[]) => defs.map((d) => d.name).sort();

test('tableFlags reads every flag of a row', () => {
  assert.deepEqual(tableFlags('| Flag | Default |\n|---|---|\n| `-a`, `--b-c` | x |\n| `-d` | `-e` |\ntext `-f`'), ['a', 'b-c', 'd']);
});

test('the README flag tables of skydns, kube2sky and exec-healthz name exactly their flags', () => {
  const programs: [string, readonly FlagDef[]][] = [
    ['skydns', SKYDNS_FLAGS],
    ['kube2sky', KUBE2SKY_FLAGS],
    ['exec-healthz', EXEC_HEALTHZ_FLAGS],
  ];
  for (const [title, defs] of programs) {
    const documented = tableFlags(section(README, title));
    assert.deepEqual([...new Set(documented)].sort(), names(defs), `README "## ${title}": documented vs defined`);
    assert.equal(documented.length, new Set(documented).size, `README "## ${title}": a flag documented twice`);
  }
});

test('the sandbox API server\'s flags are all in lib/sandbox-apiserver/README.md', () => {
  const doc = fs.readFileSync(path.join(root, 'lib/sandbox-apiserver/README.md'), 'utf8');
  const missing = APISERVER_FLAGS.filter((f) => !doc.includes(`--${f.name}`)).map((f) => f.name);
  assert.deepEqual(missing, []);
});

test('the local stack\'s options are all in the README\'s quick start', () => {
  const quick = section(README, 'Quick start');
  const missing = STACK_FLAGS.filter((f) => !new RegExp(`\`--${f.name}[=\`]`).test(quick)).map((f) => f.name);
  assert.deepEqual(missing, []);
});

/** The cells of a markdown table row, trimmed. */
const cells = (row: string) => row.split('|').slice(1, -1).map((c) => c.trim());

test('the README skydns flag table shows each flag\'s environment variable and default as SKYDNS_SETTINGS has them', () => {
  const byFlag = new Map(SKYDNS_SETTINGS.flatMap((s) => (s.flag ? [[s.flag.name, s] as const] : [])));
  const shown = (s: Setting) => s.shownDefault ?? (s.flag!.default === '' ? '' : `\`${String(s.flag!.default)}\``);
  const problems: string[] = [];
  for (const row of section(README, 'skydns').split('\n').filter((l) => l.startsWith('| `-'))) {
    const flags = tableFlags(row);
    const [, env, def] = cells(row);
    const settings = flags.map((f) => byFlag.get(f)!);
    const wantEnv = settings.flatMap((s) => (s.flag!.env ? [`\`${s.flag!.env}\``] : [])).join(', ');
    if (env !== wantEnv) problems.push(`${flags.join(',')}: env "${env}", the settings say "${wantEnv}"`);
    for (const s of settings) if (shown(s) !== def) problems.push(`-${s.flag!.name}: default "${def}", the settings say "${shown(s)}"`);
  }
  assert.deepEqual(problems, []);
});

test('the README /skydns/config table names exactly the keys skydns applies, with their JSON type and flag', () => {
  const start = README.indexOf('### The configuration object `/skydns/config`');
  assert.ok(start >= 0);
  const text = README.slice(start, README.indexOf('\n### ', start + 10));
  const kindWord = { string: 'string', bool: 'boolean', int: 'integer', strings: 'list of strings' } as const;
  const documented = text.split('\n').filter((l) => l.startsWith('| `')).map((row) => {
    const [key, kind, flag] = cells(row);
    return `${/`([a-z_]+)`/.exec(key)![1]} ${kind} ${flag}`;
  });
  const applied = SKYDNS_SETTINGS.filter((s) => s.json && s.field).map((s) => `${s.json} ${kindWord[s.kind!]} ${s.flag ? `\`-${s.flag.name}\`` : ''}`.trim());
  assert.deepEqual([...documented].map((d) => d.trim()).sort(), [...applied].sort());
  // The SkyDNS keys accepted and not kept are named as ignored.
  for (const s of SKYDNS_SETTINGS.filter((x) => x.json && !x.field)) assert.ok(text.includes(`\`${s.json}\``), `README names the ignored key ${s.json}`);
});
