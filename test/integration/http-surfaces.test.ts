// The routing rules the three small HTTP surfaces (exec-healthz, kube2sky, skydns's metrics port)
// keep from their hand-written days, now that express routes them: exact case-sensitive paths,
// every method answered alike, HEAD without a body, Go's 404 text, no extra headers, errors as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Prober } from '../../lib/healthz/exec.js';
import { startHealthzHttp } from '../../lib/healthz/status-http.js';
import { startKube2SkyHttp } from '../../lib/kube2sky/status-http.js';
import { Kube2SkyMetrics } from '../../lib/kube2sky/metrics.js';
import type { Kube2Sky } from '../../lib/kube2sky/app.js';
import { startHttp, type HealthProbe } from '../../lib/skydns/status-http.js';
import { close } from '../../lib/http/serve.js';

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One request over a fresh connection, with the raw path as given (fetch would normalise it). */
function request(srv: http.Server, method: string, path: string): Promise<Reply> {
  const { port } = srv.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** exec-healthz with a prober that has not run yet: /healthz is a 503 "No result yet". */
function healthz(enableQuit: boolean, onQuit = () => {}): Promise<http.Server> {
  const p = new Prober({ cmd: 'true', periodMs: 3600_000, timeoutMs: 1000, latencyMs: 0 });
  return startHealthzHttp(p, { host: '127.0.0.1', port: 0, enableQuit, log: () => {}, onQuit });
}

/** kube2sky's endpoint over a real metrics registry; readiness as given. */
function kube2sky(ready: { ok: boolean; reason: string }, metrics = new Kube2SkyMetrics(() => 3, () => 0)): Promise<http.Server> {
  const app = { ready: () => ready, metrics } as unknown as Kube2Sky;
  return startKube2SkyHttp(app, '127.0.0.1', 0);
}

function skydns(path: string, probe: Partial<HealthProbe>): Promise<http.Server> {
  const full: HealthProbe = { live: () => true, ready: () => ({ ok: true, reason: '' }), metrics: () => Promise.resolve('skydns_x 1\n'), ...probe };
  return startHttp('127.0.0.1', 0, path, full, quiet);
}

/** The checks every surface shares, on the surface's own health path and 404 content type. */
async function sharedRules(srv: http.Server, health: string, notFoundType: string): Promise<void> {
  const get = await request(srv, 'GET', health);
  for (const path of [`${health}/`, health.toUpperCase(), `${health}x`, '/nope', '//x']) {
    assert.deepEqual(await request(srv, 'GET', path).then((r) => [r.status, r.type, r.body]), [404, notFoundType, '404 page not found\n'], path);
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await request(srv, method, health);
    assert.deepEqual([r.status, r.type, r.body], [get.status, get.type, get.body], method);
  }
  const head = await request(srv, 'HEAD', health);
  assert.deepEqual([head.status, head.type, head.body], [get.status, get.type, ''], 'HEAD');
  const query = await request(srv, 'GET', `${health}?verbose=1`);
  assert.deepEqual([query.status, query.body], [get.status, get.body], 'query string ignored');
  for (const r of [get, head]) {
    assert.equal(r.headers['x-powered-by'], undefined);
    assert.equal(r.headers.etag, undefined);
  }
}

test('exec-healthz: shared rules, index page, /quit only when enabled', async () => {
  const off = await healthz(false);
  let quits = 0;
  const on = await healthz(true, () => quits++);
  try {
    await sharedRules(off, '/healthz', 'text/plain; charset=utf-8');
    const h = await request(off, 'GET', '/healthz');
    assert.equal(h.status, 503);
    assert.match(h.body, /^No result yet: the first run of "true" has not finished/);
    assert.deepEqual(await request(off, 'GET', '/quit').then((r) => r.status), 404);
    const index = await request(off, 'GET', '/');
    assert.deepEqual([index.status, index.type], [200, 'text/html; charset=utf-8']);
    assert.equal(index.body, '<html><body><a href="/healthz">/healthz</a> <a href="/metrics">/metrics</a></body></html>\n');
    assert.match((await request(on, 'GET', '/')).body, /<a href="\/quit">\/quit<\/a>/);
    const m = await request(off, 'GET', '/metrics');
    assert.deepEqual([m.status, m.type], [200, 'text/plain; version=0.0.4; charset=utf-8']);
    assert.match(m.body, /^exec_healthz_runs_total 0$/m);
    assert.deepEqual(await request(on, 'GET', '/quit').then((r) => [r.status, r.body]), [200, 'quitting\n']);
    assert.equal(quits, 1);
  } finally {
    await Promise.all([close(off), close(on)]);
  }
});

test('kube2sky: shared rules, readiness bodies, metrics and a failing registry', async () => {
  const ready = await kube2sky({ ok: true, reason: '' });
  const down = await kube2sky({ ok: false, reason: 'etcd unreachable: refused' });
  const broken = new Kube2SkyMetrics(() => 0, () => 0);
  broken.registry.metrics = () => Promise.reject(new Error('collector failed'));
  const failing = await kube2sky({ ok: true, reason: '' }, broken);
  try {
    await sharedRules(ready, '/readiness', 'text/plain; charset=utf-8');
    await sharedRules(down, '/readiness', 'text/plain; charset=utf-8');
    assert.deepEqual(await request(ready, 'GET', '/readiness').then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.deepEqual(await request(down, 'GET', '/readyz').then((r) => [r.status, r.body]), [503, 'not ready: etcd unreachable: refused\n']);
    assert.deepEqual(await request(down, 'GET', '/healthz').then((r) => [r.status, r.body]), [200, 'ok']);
    const m = await request(ready, 'GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /^process_cpu_user_seconds_total /m);
    const f = await request(failing, 'GET', '/metrics');
    assert.deepEqual([f.status, f.type, f.body], [500, undefined, 'collector failed']);
  } finally {
    await Promise.all([close(ready), close(down), close(failing)]);
  }
});

test('skydns metrics port: shared rules, PROMETHEUS_PATH, metrics off, failing metrics', async () => {
  const normal = await skydns('/metrics', {});
  const custom = await skydns('/prom', { metrics: () => null, live: () => false, ready: () => ({ ok: false, reason: 'warming up' }) });
  const failing = await skydns('/metrics', { metrics: () => Promise.reject(new Error('render')) });
  try {
    await sharedRules(normal, '/healthz', 'text/plain');
    await sharedRules(custom, '/readyz', 'text/plain');
    const m = await request(normal, 'GET', '/metrics');
    assert.deepEqual([m.status, m.type, m.body], [200, 'text/plain; version=0.0.4; charset=utf-8', 'skydns_x 1\n']);
    // Metrics off: the configured path falls through to Go's 404, health still answers.
    assert.deepEqual(await request(custom, 'GET', '/prom').then((r) => [r.status, r.body]), [404, '404 page not found\n']);
    assert.deepEqual(await request(custom, 'GET', '/healthz').then((r) => [r.status, r.body]), [503, 'dns listeners are not up\n']);
    assert.deepEqual(await request(custom, 'GET', '/readyz').then((r) => [r.status, r.body]), [503, 'not ready: warming up\n']);
    assert.deepEqual(await request(custom, 'GET', '/metrics').then((r) => r.status), 404);
    const f = await request(failing, 'GET', '/metrics');
    assert.deepEqual([f.status, f.type, f.body], [500, 'text/plain', 'metrics: render\n']);
  } finally {
    await Promise.all([close(normal), close(custom), close(failing)]);
  }
});

test('a PROMETHEUS_PATH with express pattern characters is matched literally', async () => {
  const srv = await skydns('/m:x(y)*{z}.', {});
  try {
    assert.deepEqual(await request(srv, 'GET', '/m:x(y)*{z}.').then((r) => [r.status, r.body]), [200, 'skydns_x 1\n']);
    for (const other of ['/m:q(y)*{z}.', '/m:x', '/m:x(y)*{z}a', '/M:x(y)*{z}.']) {
      assert.equal((await request(srv, 'GET', other)).status, 404, other);
    }
  } finally {
    await close(srv);
  }
});

test('close() returns while a client holds an idle keep-alive connection', async () => {
  const srv = await skydns('/metrics', {});
  const agent = new http.Agent({ keepAlive: true });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  const t0 = Date.now();
  await close(srv);
  assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
  agent.destroy();
});

test('a handler that throws gets a plain-text 500, not an HTML page with a stack trace', async () => {
  const srv = await skydns('/metrics', {
    live: () => {
      throw new Error('probe exploded');
    },
  });
  try {
    const r = await request(srv, 'GET', '/healthz');
    assert.deepEqual([r.status, r.type, r.body], [500, 'text/plain', 'probe exploded\n']);
    assert.deepEqual(await request(srv, 'GET', '/readyz').then((x) => x.status), 200, 'the server keeps serving');
  } finally {
    await close(srv);
  }
});
