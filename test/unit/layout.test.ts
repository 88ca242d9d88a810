// The house explains itself: every folder of lib/ has a README, and the README's Layout names every
// folder and top-level file of lib/ (and every top-level folder of the repository it describes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function layout(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /\n## Layout\n+```\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a "## Layout" block');
  return m[1];
}

test('every folder of lib/ has a README.md', () => {
  const missing = fs.readdirSync(path.join(root, 'lib'), { withFileTypes: true }).filter((e) => e.isDirectory() && !fs.existsSync(path.join(root, 'lib', e.name, 'README.md'))).map((e) => e.name);
  assert.deepEqual(missing, []);
});

test('the README Layout names every folder and file of lib/, and the repository\'s folders', () => {
  const text = layout();
  const named = new Set([...text.matchAll(/^(\S+)/gm)].map((m) => m[1].replace(/\/$/, '')));
  const lib = fs.readdirSync(path.join(root, 'lib'), { withFileTypes: true }).map((e) => `lib/${e.name}`);
  const top = ['cmd', 'native', 'manifests', 'deploy', 'test', 'bench', 'docs'];
  const missing = [...lib, ...top].filter((p) => !named.has(p));
  assert.deepEqual(missing, []);
});
