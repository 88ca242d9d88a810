// The sandbox API server's route table (express, lib/sandbox-apiserver/routes.ts) over raw HTTP: what
// each URL shape addresses, 405 MethodNotAllowed for the methods a route does not serve, the
// two kinds of 404, trailing slashes, dot segments, absolute-form targets, percent-encoded
// and empty path segments, the legacy /api/v1/watch/ paths, and nothing express would add on
// its own (X-Powered-By, ETag, HTML error pages, automatic OPTIONS answers). Raw sockets,
// because fetch() normalises paths and refuses some methods. Loopback only.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { type InProcessApi, openWatch, request, startApiServerInProcess } from '../harness/apiserver.js';

const NOT_FOUND_STATUS = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}\n';
const NOT_ALLOWED = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}\n';
const NOT_FOUND_TEXT = '404 page not found\n';
const UNAUTHORIZED = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n';
const notFound = (resource: string, name: string) =>
  `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"${resource} \\"${name}\\" not found","reason":"NotFound","details":{"name":"${name}","kind":"${resource}"},"code":404}\n`;
const badEscape = (seg: string) => `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"invalid URL escape in the path segment \\"${seg}\\"","reason":"BadRequest","code":400}\n`;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request on its own connection (Connection: close), exactly as written: the request
 * target is not normalised. Reads until the server closes (bounded: 5 s); chunked bodies are
 * decoded.
 */
function raw(port: number, method: string, target: string, opts: { headers?: Record<string, string>; body?: string; ca?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = opts.ca ? tls.connect({ host: '127.0.0.1', port, ca: opts.ca, servername: 'localhost' }) : net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${method} ${target}: no end of the answer in 5 s; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, 5000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`${method} ${target}: no HTTP answer: ${JSON.stringify(all.toString('latin1'))}`));
      const lines = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      let body = all.subarray(end + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = [];
        for (let b = body; ; ) {
          const nl = b.indexOf('\r\n');
          const n = nl < 0 ? 0 : parseInt(b.subarray(0, nl).toString('latin1'), 16);
          if (!(n > 0)) break;
          parts.push(b.subarray(nl + 2, nl + 2 + n));
          b = b.subarray(nl + 2 + n + 2);
        }
        body = Buffer.concat(parts);
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: body.toString('utf8') });
    });
    const h: Record<string, string | number> = { Host: `127.0.0.1:${port}`, Connection: 'close', ...(opts.headers ?? {}) };
    if (opts.body !== undefined) h['Content-Length'] = Buffer.byteLength(opts.body);
    sock.write(`${method} ${target} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${opts.body ?? ''}`);
  });
}

/** Nothing express adds by itself. */
function assertPlain(a: RawAnswer, what: string): void {
  assert.equal(a.headers['x-powered-by'], undefined, `${what}: X-Powered-By`);
  assert.equal(a.headers.etag, undefined, `${what}: ETag`);
  assert.doesNotMatch(a.headers['content-type'] ?? '', /html/, `${what}: content type`);
  assert.doesNotMatch(a.body, /<html|<!DOCTYPE/i, `${what}: body`);
}

async function expectAnswer(port: number, method: string, target: string, status: number, body: string, contentType = 'application/json'): Promise<RawAnswer> {
  const a = await raw(port, method, target);
  const what = `${method} ${target}`;
  assert.equal(a.status, status, `${what}: status (body ${a.body.slice(0, 200)})`);
  assert.equal(a.headers['content-type'], contentType, `${what}: content type`);
  assert.equal(a.body, method === 'HEAD' ? '' : body, `${what}: body`);
  assert.equal(Number(a.headers['content-length']), Buffer.byteLength(body), `${what}: content length`);
  assertPlain(a, what);
  return a;
}

let api: InProcessApi;
before(async () => {
  api = await startApiServerInProcess({ bookmarkIntervalMs: 200 });
  const ns = (name: string) => api.server.store.create('namespaces', undefined, { metadata: { name } });
  for (const n of ['team', 'wx', 'wy']) ns(n);
});
after(async () => {
  await api.stop();
});

const svc = (name: string) => ({ metadata: { name }, spec: { ports: [{ port: 80 }] } });

test('what each URL shape addresses (the cases of the old route() unit test, over HTTP)', async () => {
  const p = api.port;
  assert.equal((JSON.parse((await raw(p, 'GET', '/api/v1/services')).body) as { kind: string }).kind, 'ServiceList');
  api.server.store.create('endpoints', 'kube-system', { metadata: { name: 'ks-ep' }, subsets: [] });
  const w = await raw(p, 'GET', '/api/v1/watch/namespaces/kube-system/endpoints?timeoutSeconds=1');
  assert.equal(w.status, 200);
  assert.deepEqual(w.body.trim().split('\n').map((l) => { const e = JSON.parse(l) as { type: string; object: { metadata: { namespace: string; name: string } } }; return `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`; }), ['ADDED kube-system/ks-ep']);
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/pods/p1/status', 404, notFound('pods', 'p1'));
  assert.equal((JSON.parse((await raw(p, 'GET', '/api/v1/namespaces/team')).body) as { kind: string; metadata: { name: string } }).metadata.name, 'team');
  await expectAnswer(p, 'GET', '/api/v1/namespaces/nope', 404, notFound('namespaces', 'nope'));
  await expectAnswer(p, 'GET', '/api/v1/namespaces/nope/status', 404, notFound('namespaces', 'nope'));
  assert.equal((JSON.parse((await raw(p, 'GET', '/api/v1/namespaces/team/status')).body) as { kind: string }).kind, 'Namespace');
  assert.equal((JSON.parse((await raw(p, 'GET', '/api/v1/namespaces')).body) as { kind: string }).kind, 'NamespaceList');
  for (const t of ['/api/v1/configmaps', '/api/v1/namespaces/default/endpoints/x/status', '/api/v1/services/foo']) await expectAnswer(p, 'GET', t, 404, NOT_FOUND_STATUS);
  await expectAnswer(p, 'GET', '/healthz', 200, 'ok', 'text/plain; charset=utf-8');
  await expectAnswer(p, 'GET', '/readyz/', 200, 'ok', 'text/plain; charset=utf-8');
  await expectAnswer(p, 'GET', '/metrics', 404, NOT_FOUND_TEXT, 'text/plain; charset=utf-8');
});

test('405 MethodNotAllowed (a Status, never express\'s automatic OPTIONS answer) on every route shape for the methods it does not serve', async () => {
  const p = api.port;
  const shapes: Array<[string, string[], string[]]> = [
    // [target, methods that get 405, GET-like methods that get 200]
    ['/healthz', ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], ['GET', 'HEAD']],
    ['/livez/ping', ['POST', 'DELETE', 'OPTIONS'], ['GET', 'HEAD']],
    ['/version', ['POST', 'PUT', 'OPTIONS'], ['GET', 'HEAD']],
    ['/api', ['POST', 'OPTIONS'], ['GET', 'HEAD']],
    ['/apis', ['POST', 'OPTIONS'], ['GET', 'HEAD']],
    ['/api/v1', ['POST', 'DELETE', 'OPTIONS'], ['GET', 'HEAD']],
    ['/openapi/v3', ['POST', 'OPTIONS'], ['GET', 'HEAD']],
    ['/openapi/v3/api/v1', ['PUT', 'OPTIONS'], ['GET', 'HEAD']],
    ['/sandbox/watches', ['HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], ['GET']],
    ['/sandbox/compact', ['GET', 'HEAD', 'PUT', 'OPTIONS'], []],
    ['/sandbox/no-such-hook', ['GET', 'DELETE'], []],
    ['/api/v1/services', ['HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default/services', ['HEAD', 'PUT', 'PATCH', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default/services/kubernetes', ['HEAD', 'POST', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default/services/kubernetes/status', ['HEAD', 'POST', 'DELETE', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default/endpoints/kubernetes', ['HEAD', 'POST', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces', ['HEAD', 'PUT', 'PATCH', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default', ['HEAD', 'POST', 'OPTIONS'], ['GET']],
    ['/api/v1/namespaces/default/status', ['HEAD', 'POST', 'DELETE'], ['GET']],
    ['/api/v1/watch/namespaces/default/services', ['HEAD', 'PUT', 'PATCH'], []],
    ['/api/v1/watch/namespaces/default/services/kubernetes', ['POST', 'OPTIONS'], []],
  ];
  for (const [target, refused, served] of shapes) {
    for (const m of refused) await expectAnswer(p, m, target, 405, NOT_ALLOWED);
    for (const m of served) {
      const a = await raw(p, m, target);
      assert.equal(a.status, 200, `${m} ${target}`);
      assertPlain(a, `${m} ${target}`);
    }
  }
  // A POST of an unknown test hook is a 404, of /sandbox/watches too (it is GET-only).
  await expectAnswer(p, 'POST', '/sandbox/no-such-hook', 404, NOT_FOUND_STATUS);
  await expectAnswer(p, 'POST', '/sandbox/watches', 404, NOT_FOUND_STATUS);
});

test('404: resources this server does not have get the NotFound Status, paths outside the API Go\'s text, on any method', async () => {
  const p = api.port;
  const outside = ['/', '/metrics', '/api/v2', '/api/v1x', '/API/v1/services', '/healthz/Foo', '/healthz/a/b', '/openapi/v2', '/sandbox', '/sandbox/', '/version/x', '//api/v1/services', '*'];
  for (const t of outside) for (const m of ['GET', 'POST', 'OPTIONS']) await expectAnswer(p, m, t, 404, NOT_FOUND_TEXT, 'text/plain; charset=utf-8');
  const unknown = ['/apis/apps', '/apis/apps/v1/deployments', '/api/v1/configmaps', '/api/v1/Services', '/api/v1/nodes', '/api/v1/services/foo', '/api/v1/watch', '/api/v1/watch/', '/api/v1/watch/watch/services', '/api/v1//services', '/api/v1/namespaces/default/services/x/y', '/api/v1/namespaces/default/services/kubernetes/proxy', '/api/v1/namespaces/default/namespaces', '/api/v1/namespaces/default/finalize', '/api/v1/services%2Fx'];
  for (const t of unknown) for (const m of ['GET', 'DELETE', 'OPTIONS']) await expectAnswer(p, m, t, 404, NOT_FOUND_STATUS);
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/services/nope', 404, notFound('services', 'nope'));
  await expectAnswer(p, 'DELETE', '/api/v1/namespaces/default/endpoints/nope', 404, notFound('endpoints', 'nope'));
});

test('trailing slashes, dot segments, backslashes and absolute-form targets are read as before', async () => {
  const p = api.port;
  const plain = await raw(p, 'GET', '/api/v1/namespaces/default/services/kubernetes');
  assert.equal(plain.status, 200);
  for (const t of ['/api/v1/namespaces/default/services/kubernetes/', '/api/v1/namespaces/default/services/kubernetes//', 'http://example.com/api/v1/namespaces/default/services/kubernetes', '/api/v1/namespaces/kube-system/../default/services/kubernetes']) {
    const a = await raw(p, 'GET', t);
    assert.deepEqual([a.status, a.body], [200, plain.body], t);
  }
  for (const t of ['/healthz/', '/readyz//', '/livez/ping/', '/version/', '/api/', '/api/v1/', '/api/v1//', '/apis/', '/openapi/v3/', '/sandbox/watches/']) assert.equal((await raw(p, 'GET', t)).status, 200, t);
  api.server.store.create('services', 'kube-system', svc('dots'));
  for (const t of ['/api/v1/namespaces/default/../kube-system/services', '/api/v1\\namespaces\\kube-system\\services/', '/api/v1/namespaces/kube-system/./services', '/api/v1/namespaces/%2E%2E/namespaces/kube-system/services']) {
    const a = await raw(p, 'GET', t);
    assert.equal(a.status, 200, t);
    assert.deepEqual((JSON.parse(a.body) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name), ['dots'], t);
  }
});

test('percent-encoded and empty path segments are decoded as before; a bad escape or URL is a 400 and the server lives on', async () => {
  const p = api.port;
  for (const t of ['/api/v1/namespaces/def%61ult/services/kubernetes', '/api/v1/%6eamespaces/default/services/kubernetes', '/api/v1/namespaces/default/%73ervices/%6Bubernetes']) {
    const a = await raw(p, 'GET', t);
    assert.equal(a.status, 200, t);
    assert.equal((JSON.parse(a.body) as { metadata: { name: string } }).metadata.name, 'kubernetes', t);
  }
  const w = await raw(p, 'GET', '/api/v1/%77atch/namespaces/default/services/kubernetes?timeoutSeconds=1');
  assert.deepEqual([w.status, w.headers['transfer-encoding'], (JSON.parse(w.body.split('\n')[0]) as { type: string }).type], [200, 'chunked', 'ADDED']);
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/services/a%2Fb', 404, notFound('services', 'a/b'));
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/services/a%20b%3Ac', 404, notFound('services', 'a b:c'));
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/services/a%25b', 404, notFound('services', 'a%b'));
  // An empty namespace segment addresses the namespace "" (as the hand-written router read it).
  await expectAnswer(p, 'GET', '/api/v1/namespaces//services/x', 404, notFound('services', 'x'));
  await expectAnswer(p, 'GET', '/api/v1/namespaces//status', 404, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \\"\\" not found","reason":"NotFound","details":{"kind":"namespaces"},"code":404}\n');
  const empty = await raw(p, 'GET', '/api/v1/namespaces//services');
  assert.deepEqual([empty.status, (JSON.parse(empty.body) as { items: unknown[] }).items], [200, []]);
  // Only /api/v1/ paths are decoded.
  await expectAnswer(p, 'GET', '/healthz/%70ing', 404, NOT_FOUND_TEXT, 'text/plain; charset=utf-8');
  await expectAnswer(p, 'GET', '/api/%761/services', 404, NOT_FOUND_TEXT, 'text/plain; charset=utf-8');
  // These ended the hand-routed server with an uncaught exception.
  await expectAnswer(p, 'GET', '/api/v1/namespaces/default/services/%E0', 400, badEscape('%E0'));
  await expectAnswer(p, 'DELETE', '/api/v1/namespaces/default/services/a%2', 400, badEscape('a%2'));
  await expectAnswer(
    p,
    'GET',
    'http://x:99999/api/v1/services',
    400,
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the request target \\"http://x:99999/api/v1/services\\" is not a valid URL","reason":"BadRequest","code":400}\n',
  );
  await expectAnswer(p, 'GET', '/healthz', 200, 'ok', 'text/plain; charset=utf-8');
});

test('watch of one object on /api/v1/watch/namespaces/x/services/y and with ?watch=true: chunked, one JSON event per line, only y in x', async () => {
  const base = `${api.url}/api/v1/namespaces/wx/services`;
  for (const [ns, name] of [['wx', 'y'], ['wx', 'z'], ['wy', 'y']]) assert.equal((await request(`${api.url}/api/v1/namespaces/${ns}/services`, { method: 'POST', body: svc(name) })).status, 201);
  const legacy = await openWatch(`${api.url}/api/v1/watch/namespaces/wx/services/y`);
  const query = await openWatch(`${base}/y?watch=true&allowWatchBookmarks=true`);
  try {
    for (const w of [legacy, query]) {
      assert.equal(w.status, 200);
      assert.equal(w.headers['content-type'], 'application/json');
      assert.equal(w.headers['transfer-encoding'], 'chunked');
      assert.equal(w.headers['x-powered-by'], undefined);
      assert.equal(w.headers.etag, undefined);
    }
    const patch = (ns: string, name: string) => request(`${api.url}/api/v1/namespaces/${ns}/services/${name}`, { method: 'PATCH', body: { metadata: { labels: { touched: 'yes' } } }, contentType: 'application/merge-patch+json' });
    for (const [ns, name] of [['wx', 'z'], ['wy', 'y'], ['wx', 'y']]) assert.equal((await patch(ns, name)).status, 200);
    assert.equal((await request(`${base}/y`, { method: 'DELETE' })).status, 200);
    const seen = (w: typeof legacy) => w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata?.namespace}/${e.object.metadata?.name}`);
    const want = ['ADDED wx/y', 'MODIFIED wx/y', 'DELETED wx/y'];
    for (const w of [legacy, query]) await w.waitFor(() => seen(w).length >= want.length, 5000, 'ADDED, MODIFIED, DELETED of wx/y');
    await query.waitFor((evs) => evs.some((e) => e.type === 'BOOKMARK'), 5000, 'a bookmark');
    for (const w of [legacy, query]) {
      assert.deepEqual(seen(w), want);
      const text = w.raw.join('');
      assert.ok(text.endsWith('\n'));
      for (const line of text.slice(0, -1).split('\n')) assert.ok(line.startsWith('{"type":"') && (JSON.parse(line) as { object: unknown }).object, line.slice(0, 80));
    }
  } finally {
    legacy.close();
    query.close();
  }
});

test('bodies: 413 for more than 3 MiB, 415 for an unknown content type, YAML accepted, always a Status', async () => {
  const p = api.port;
  const big = await raw(p, 'POST', '/api/v1/namespaces/default/services', { headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(3 * 1024 * 1024 + 1) });
  assert.deepEqual([big.status, big.body], [413, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Request entity too large: limit is 3145728","reason":"RequestEntityTooLarge","code":413}\n']);
  assertPlain(big, '413');
  const text = await raw(p, 'POST', '/api/v1/namespaces/default/services', { headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(svc('t')) });
  assert.equal(text.status, 415);
  assert.equal((JSON.parse(text.body) as { reason: string }).reason, 'UnsupportedMediaType');
  const yaml = await raw(p, 'POST', '/api/v1/namespaces/default/services', { headers: { 'Content-Type': 'application/yaml' }, body: 'metadata: {name: routes-yaml}\nspec: {ports: [{port: 81}]}\n' });
  assert.equal(yaml.status, 201);
  const bad = await raw(p, 'PUT', '/api/v1/namespaces/default/services/routes-yaml', { headers: { 'Content-Type': 'application/json' }, body: '{"metadata":' });
  assert.equal(bad.status, 400);
  assert.equal((JSON.parse(bad.body) as { kind: string; reason: string }).reason, 'BadRequest');
  assertPlain(bad, '400');
});

describe('with a token (HTTPS)', () => {
  let secured: InProcessApi;
  const token = 'routes-test-token-0123456789';
  before(async () => {
    secured = await startApiServerInProcess({ token });
  });
  after(async () => {
    await secured?.stop();
  });

  test('authentication comes before the path is read: 401 for any path without the token, health and version excepted', async () => {
    const ca = secured.server.caCert;
    assert.ok(ca);
    const p = secured.port;
    const call = (m: string, t: string, auth?: string) => raw(p, m, t, { ca, headers: auth ? { Authorization: auth } : {} });
    for (const t of ['/api/v1/services', '/api/v1/namespaces/default/services/%E0', '/metrics', '/sandbox/watches', '/api/v1/configmaps', '/HEALTHZ', '/healthz/a/b']) {
      for (const m of ['GET', 'OPTIONS']) {
        const a = await call(m, t);
        assert.deepEqual([a.status, a.body], [401, UNAUTHORIZED], `${m} ${t}`);
        assertPlain(a, `${m} ${t}`);
      }
    }
    assert.equal((await call('GET', '/api/v1/services', 'Bearer wrong')).status, 401);
    for (const t of ['/healthz', '/healthz/', '/readyz/ping', '/livez', '/version', '/version/']) assert.equal((await call('GET', t)).status, 200, t);
    const bearer = `Bearer ${token}`;
    assert.equal((await call('GET', '/api/v1/services', bearer)).status, 200);
    const bad = await call('GET', '/api/v1/namespaces/default/services/%E0', bearer);
    assert.deepEqual([bad.status, bad.body], [400, badEscape('%E0')]);
    assert.deepEqual([(await call('GET', '/metrics', bearer)).body, (await call('PUT', '/api/v1/services', bearer)).body], [NOT_FOUND_TEXT, NOT_ALLOWED]);
  });
});
