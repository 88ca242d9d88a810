// exec-healthz as a real process: commands that succeed, fail, hang and flap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from '../harness/ports.js';
import { spawnProgram, waitUntil, pidAlive } from '../harness/proc.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cmd/exec-healthz.js');

async function start(args: string[]) {
  const port = await freeTcpPort();
  const prog = spawnProgram(process.execPath, [BIN, `-port=${port}`, '-address=127.0.0.1', ...args], { name: 'exec-healthz' });
  await prog.waitFor(/serving \/healthz/, 10000);
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`);
    return { status: r.status, body: await r.text() };
  };
  return { prog, get };
}

test('a succeeding command: 200 ok', async () => {
  const h = await start(['-cmd=true', '-period=200ms']);
  try {
    await waitUntil(async () => (await h.get('/healthz')).status === 200, 5000, '200');
    assert.deepEqual(await h.get('/healthz'), { status: 200, body: 'ok' });
    assert.match((await h.get('/metrics')).body, /^exec_healthz_last_success 1$/m);
  } finally {
    await h.prog.stop();
  }
});

test('a failing command: 503 with the legacy body', async () => {
  const h = await start(['-cmd=echo broken; exit 3', '-period=200ms']);
  try {
    await waitUntil(async () => (await h.get('/healthz')).body.startsWith('Healthz probe error'), 5000, 'failure reported');
    const r = await h.get('/healthz');
    assert.equal(r.status, 503);
    assert.match(r.body, /^Healthz probe error: Result of last exec: broken\n, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC, error exit status 3\n$/);
    assert.match((await h.get('/metrics')).body, /^exec_healthz_failures_total [1-9]\d*$/m);
  } finally {
    await h.prog.stop();
  }
});

test('a hanging command is killed at the timeout and never runs twice at once', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'healthz-'));
  const marker = path.join(dir, 'runs');
  const h = await start([`-cmd=echo run >> ${marker}; sleep 30.123`, '-period=100ms', '-timeout=600ms']);
  try {
    await waitUntil(async () => /timed out after 600 ms/.test((await h.get('/healthz')).body), 5000, 'timeout reported');
    const r = await h.get('/healthz');
    assert.equal(r.status, 503);
    // ~1 s elapsed with a 100 ms period: runs are serial, each lasting 600 ms.
    const runs = (await fs.readFile(marker, 'utf8')).trim().split('\n').length;
    assert.ok(runs <= 3, `${runs} runs started`);
    const ps = (await import('node:child_process')).execFileSync('ps', ['-eo', 'args']).toString();
    const sleeps = ps.split('\n').filter((l) => l.trim() === 'sleep 30.123').length;
    assert.ok(sleeps <= 1, `${sleeps} hung commands alive`);
  } finally {
    await h.prog.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a flapping command follows the last result', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'healthz-'));
  const flag = path.join(dir, 'ok');
  const h = await start([`-cmd=test -e ${flag}`, '-period=100ms']);
  try {
    await waitUntil(async () => (await h.get('/healthz')).status === 503, 5000, 'down');
    await fs.writeFile(flag, '');
    await waitUntil(async () => (await h.get('/healthz')).status === 200, 5000, 'up');
    await fs.rm(flag);
    await waitUntil(async () => (await h.get('/healthz')).status === 503, 5000, 'down again');
  } finally {
    await h.prog.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a result older than -latency is a failure; no "healthy" before the first run', async () => {
  const h = await start(['-cmd=sleep 0.5', '-period=1h', '-latency=1500ms', '-timeout=5s']);
  try {
    const first = await h.get('/healthz');
    assert.equal(first.status, 503);
    assert.match(first.body, /^No result yet/);
    await waitUntil(async () => (await h.get('/healthz')).status === 200, 5000, 'first result');
    await waitUntil(async () => (await h.get('/healthz')).status === 503, 5000, 'stale');
    assert.match((await h.get('/healthz')).body, /^Latest result too old to be useful: Result of last exec: , at .+, error None\.\n$/);
  } finally {
    await h.prog.stop();
  }
});

test('unknown paths 404; /quit is off by default; SIGTERM exits promptly', async () => {
  const h = await start(['-cmd=sleep 20', '-period=10s', '-timeout=30s']);
  assert.equal((await h.get('/nope')).status, 404);
  assert.equal((await h.get('/quit')).status, 404);
  const t0 = Date.now();
  const code = await h.prog.stop();
  assert.ok(Date.now() - t0 < 2000, 'SIGTERM handled promptly');
  assert.equal(code, 0);
  assert.ok(!pidAlive(h.prog.pid));
});

test('/quit works only with -enable-quit', async () => {
  const h = await start(['-cmd=true', '-enable-quit']);
  assert.equal((await h.get('/quit')).status, 200);
  const { code } = await h.prog.exited;
  assert.equal(code, 0);
});

test('bad flags exit 2', async () => {
  const p = spawnProgram(process.execPath, [BIN, '-period=soon'], { name: 'exec-healthz-bad' });
  const { code } = await p.exited;
  assert.equal(code, 2);
  assert.equal(p.output().split('\n')[0], 'exec-healthz: invalid value "soon" for flag -period: parse error');
});
