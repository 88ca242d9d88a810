// -workers=auto: the CPUs a process may use, from its cgroup's CFS quota (v2 cpu.max,
// v1 cpu.cfs_quota_us/cpu.cfs_period_us) capped by the CPUs it may run on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupQuota, cpuBudget } from '../../lib/skydns/cpus.js';
import { parseWorkers } from '../../lib/skydns/config.js';
import { FlagError } from '../../lib/flags.js';

// Every fake cgroup lives under one directory, removed when the file's tests end.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cpus-test-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function cgroup(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(scratch, 'cgroup-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

test('cgroup v2 cpu.max: quota/period, "max" is no quota', () => {
  const cases: [string, number | null][] = [
    ['max 100000\n', null],
    ['150000 100000\n', 1.5],
    ['200000 100000\n', 2],
    ['50000 100000\n', 0.5],
    ['100000\n', 1],
  ];
  for (const [text, want] of cases) {
    const root = cgroup({ 'cpu.max': text });
    assert.equal(cgroupQuota(root)?.cpus ?? null, want, text);
  }
});

test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us, -1 is no quota', () => {
  const root = cgroup({ 'cpu/cpu.cfs_quota_us': '250000\n', 'cpu/cpu.cfs_period_us': '100000\n' });
  assert.equal(cgroupQuota(root)?.cpus, 2.5);
  const none = cgroup({ 'cpu,cpuacct/cpu.cfs_quota_us': '-1\n', 'cpu,cpuacct/cpu.cfs_period_us': '100000\n' });
  assert.equal(cgroupQuota(none), null);
  assert.equal(cgroupQuota(cgroup({})), null, 'no cgroup files at all');
});

test('the budget: quota rounded up, at least 1, at most the CPUs online', () => {
  const at = (text: string, online: number) => cpuBudget(cgroup({ 'cpu.max': text }), online).count;
  assert.equal(at('max 100000', 2), 2);
  assert.equal(at('max 100000', 16), 16);
  assert.equal(at('10000 100000', 8), 1, '100m');
  assert.equal(at('150000 100000', 8), 2, '1.5 CPUs');
  assert.equal(at('400000 100000', 2), 2, 'a quota above the CPUs online');
  assert.equal(at('300000 100000', 8), 3);
  assert.match(cpuBudget(cgroup({ 'cpu.max': '150000 100000' }), 8).source, /^cgroup CPU quota 1\.5 \(.*cpu\.max\) of 8 CPUs$/);
  assert.equal(cpuBudget(cgroup({}), 4).source, '4 CPUs, no cgroup CPU quota');
});

test('-workers: a count 1..64 or auto', () => {
  assert.deepEqual(parseWorkers('1'), { workers: 1 });
  assert.deepEqual(parseWorkers('8'), { workers: 8 });
  assert.deepEqual(parseWorkers('auto', () => ({ count: 3, source: 'test' })), { workers: 3, workersSource: 'auto: test' });
  assert.deepEqual(parseWorkers('auto', () => ({ count: 200, source: 'big' })), { workers: 64, workersSource: 'auto: big' });
  for (const bad of ['0', '65', '-1', '1.5', 'two', '', 'Auto']) assert.throws(() => parseWorkers(bad), FlagError, bad);
  // This machine: auto is what cpuBudget() says.
  assert.equal(parseWorkers('auto').workers, cpuBudget().count);
});
