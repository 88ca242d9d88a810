#!/usr/bin/env node
// Test entry point (`npm test`).
//
//   node scripts/run-tests.mjs [FILTER...] [--node-test-flag=value...] [--no-build]
//
// 1. Runs scripts/ensure.mjs (system packages, npm deps, tsc build).
// 2. Runs Node's built-in test runner (one `node --test` per category, files one
//    at a time: --test-concurrency=1) over every compiled
//    dist/test/**/*.test.js whose test/**/*.test.ts source still exists, in the
//    order unit → integration → e2e → anything else (alphabetical within each).
//
// Arguments not starting with '-' are substring filters on the file path
// (a file runs if its path contains ANY of them): `npm test -- wire`.
// Arguments starting with '-' are passed to `node --test` (use the `--flag=value`
// form, e.g. `--test-name-pattern=restart`), except --no-build which goes to ensure.
//
// Output: the spec reporter on stdout, followed by the TAP summary lines
// (# tests / # pass / # fail / ...). Exits with the test runner's exit code.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ensureArgs = ['--tests', ...args.filter((a) => a === '--no-build')];
const nodeFlags = args.filter((a) => a.startsWith('-') && a !== '--no-build');
const filters = args.filter((a) => !a.startsWith('-'));

// ---------------------------------------------------------------- ensure
{
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'ensure.mjs'), ...ensureArgs], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    console.error(`[run-tests] scripts/ensure.mjs failed (${r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`)})`);
    process.exit(r.status || 1);
  }
}

// ---------------------------------------------------------------- find test files
const distTest = path.join(root, 'dist', 'test');

function walk(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const CATEGORY = ['unit', 'integration', 'e2e'];
function rank(rel) {
  const top = rel.split(path.sep)[0];
  const i = CATEGORY.indexOf(top);
  return i < 0 ? CATEGORY.length : i;
}

const files = walk(distTest)
  .map((abs) => path.relative(distTest, abs))
  // skip stale outputs whose TypeScript source was deleted/renamed
  .filter((rel) => fs.existsSync(path.join(root, 'test', rel.replace(/\.js$/, '.ts'))))
  .filter((rel) => filters.length === 0 || filters.some((f) => path.join('dist', 'test', rel).includes(f)))
  .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  .map((rel) => path.join('dist', 'test', rel));

if (files.length === 0) {
  console.error(`[run-tests] no test files found under dist/test${filters.length ? ` matching ${filters.map((f) => JSON.stringify(f)).join(' or ')}` : ''}`);
  process.exit(1);
}
console.log(`[run-tests] ${files.length} test file(s):`);
for (const f of files) console.log(`[run-tests]   ${f}`);

// ---------------------------------------------------------------- run
// `node --test` sorts the files it is given alphabetically (e2e < integration <
// unit), so to keep unit → integration → e2e we run one `node --test` per
// category and add up the TAP summaries.
const tapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-dns-tests-'));
const hasFlag = (name) => nodeFlags.some((f) => f === name || f.startsWith(`${name}=`));
const KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];
const totals = new Map();
let code = 0;
let missingSummary = false;

const groups = [];
for (const f of files) {
  const r = rank(path.relative(path.join('dist', 'test'), f));
  const label = CATEGORY[r] ?? 'other';
  if (groups.length === 0 || groups[groups.length - 1].label !== label) groups.push({ label, files: [] });
  groups[groups.length - 1].files.push(f);
}

for (const [i, group] of groups.entries()) {
  const tapFile = path.join(tapDir, `${i}-${group.label}.tap`);
  console.log(`[run-tests] ${group.label}: ${group.files.length} file(s)`);
  const runnerArgs = [
    '--test',
    '--test-concurrency=1',
    // a hung test must not hang CI forever (per test, in ms); override with --test-timeout=N
    ...(hasFlag('--test-timeout') ? [] : ['--test-timeout=600000']),
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...nodeFlags,
    ...group.files,
  ];
  const r = spawnSync(process.execPath, runnerArgs, { stdio: 'inherit', cwd: root });
  let groupCode = r.status ?? 1;
  if (r.error) {
    console.error(`[run-tests] failed to run node --test: ${r.error.message}`);
    groupCode = 1;
  } else if (r.signal) {
    console.error(`[run-tests] node --test killed by ${r.signal}`);
    groupCode = 1;
  }
  if (code === 0) code = groupCode;

  const summary = new Map();
  try {
    for (const line of fs.readFileSync(tapFile, 'utf8').split('\n')) {
      const m = /^# (\w+) (\S+)\s*$/.exec(line);
      if (m && KEYS.includes(m[1])) summary.set(m[1], Number(m[2]));
    }
  } catch {
    // no TAP file (runner crashed before writing it)
  }
  if (summary.size === 0) missingSummary = true;
  for (const [k, v] of summary) totals.set(k, (totals.get(k) ?? 0) + v);
}
fs.rmSync(tapDir, { recursive: true, force: true });

console.log('');
if (missingSummary) {
  console.log('[run-tests] the test runner produced no TAP summary for at least one group');
  totals.set('fail', (totals.get('fail') ?? 0) + 1);
  if (code === 0) code = 1;
}
for (const k of KEYS) {
  const v = totals.get(k) ?? 0;
  console.log(`# ${k} ${k === 'duration_ms' ? Math.round(v * 1000) / 1000 : v}`);
}
process.exit(code);
