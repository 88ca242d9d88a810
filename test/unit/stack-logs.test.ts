// lib/stack/logs.ts: which component lines the stack's default output shows, how etcd's JSON
// lines read there, and the run directories under .stack/logs/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineClassifier, KEEP_RUNS, makeRunDir, pruneRuns, readable } from '../../lib/stack/logs.js';

test('LineClassifier: levels of each component format; continuation lines follow their record', () => {
  const c = new LineClassifier();
  const cases: Array<[string, string]> = [
    ['2026-12-04T02:36:51.626Z skydns INFO ready for queries on cluster.local.', 'info'],
    ['2026-12-04T02:36:51.626Z skydns WARN etcd: lost connection (14 UNAVAILABLE); answering from the last snapshot', 'warn'],
    ['2026-12-04T02:37:34.435Z kube2sky ERROR uncaught exception (kept running): AbortError: The user aborted a request.', 'error'],
    ['    at abort (/x/node_modules/node-fetch/lib/index.js:1458:16)', 'error'],
    ['', 'error'],
    ['2026-12-04T02:36:53.311Z kube2sky DEBUG wrote 3 keys', 'info'],
    ['    a continuation of an info record', 'info'],
    ['E Connection to dns:127.0.0.1:2379 at 127.0.0.1:2379 rejected by server because of excess pings. Increasing ping interval to 20000 ms', 'error'],
    ['{"level":"info","ts":"2026-12-04T02:40:50.803Z","caller":"embed/etcd.go:117","msg":"configuring peer listeners"}', 'info'],
    ['{"level":"warn","ts":"2026-12-04T02:40:50.803Z","caller":"etcdserver/util.go:163","msg":"apply request took too long","took":"1.2s"}', 'warn'],
    ['{"level":"error","ts":"2026-12-04T02:40:50.803Z","msg":"failed to publish"}', 'error'],
    ['{"level":"fatal","ts":"2026-12-04T02:40:50.803Z","msg":"listen tcp: address already in use"}', 'error'],
    ['{"level":"warn","ts":"2026-12-04T02:40:50.814Z","caller":"auth/store.go:1380","msg":"simple token is not cryptographically signed"}', 'info'],
    ['2026-12-04T02:36:54.031Z exec-healthz Worker running nslookup -port=10053 kubernetes.default.svc.cluster.local 127.0.0.1 >/dev/null', 'info'],
    ['2026-12-04T02:36:54.080Z exec-healthz No result yet: the first run of "nslookup" has not finished', 'info'],
    ['2026-12-04T02:37:10.131Z exec-healthz command failed: exit status 1: ;; connection timed out; no servers could be reached', 'warn'],
    ['2026-12-04T02:37:10.131Z exec-healthz cannot listen on 127.0.0.1:8080: listen EADDRINUSE', 'error'],
    ['apiserver listening on http://127.0.0.1:42795', 'info'],
    ['an ERROR in the middle of a line without a level', 'info'],
  ];
  for (const [line, want] of cases) assert.equal(c.level(line), want, line);
});

test('readable: an etcd JSON line as time, level, message and fields; anything else unchanged', () => {
  assert.equal(
    readable('{"level":"warn","ts":"2026-12-04T02:40:50.803Z","caller":"etcdserver/util.go:163","msg":"apply request took too long","took":"1.2s","expected-duration":"100ms","request":{"a":1}}'),
    '2026-12-04T02:40:50.803Z WARN apply request took too long took=1.2s expected-duration=100ms request={"a":1}',
  );
  for (const l of ['2026-12-04T02:36:51.626Z skydns WARN x', '{not json', '{"no":"level"}']) assert.equal(readable(l), l);
});

test('makeRunDir / pruneRuns: a new directory per run under .stack/logs/, the newest kept; --log-dir used as given', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-logs-test-'));
  try {
    const base = path.join(root, '.stack', 'logs');
    fs.mkdirSync(base, { recursive: true });
    const old = Array.from({ length: KEEP_RUNS + 3 }, (_, i) => `20260101T0000${String(i).padStart(2, '0')}Z-1`);
    for (const d of old) fs.mkdirSync(path.join(base, d));
    fs.mkdirSync(path.join(base, 'mine')); // not a run directory: left alone
    const run = makeRunDir(root, '', new Date('2026-12-04T02:40:50.123Z'));
    assert.equal(run, path.join(base, `20261204T024050Z-${process.pid}`));
    assert.ok(fs.statSync(run).isDirectory());
    const left = fs.readdirSync(base).sort();
    assert.deepEqual(left, [...old.slice(old.length - (KEEP_RUNS - 1)), path.basename(run), 'mine'].sort());
    pruneRuns(base, 1);
    assert.deepEqual(fs.readdirSync(base).sort(), [path.basename(run), 'mine']);
    const given = path.join(root, 'given', 'deeper');
    assert.equal(makeRunDir(root, given), given);
    assert.ok(fs.statSync(given).isDirectory());
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
