// The sandbox API server off loopback (--allow-external): a bearer token on every request
// but the health and version paths, over HTTPS (kubectl sends tokens only over TLS), with
// the token, certificate and a kubeconfig in files that survive a restart. Real kubectl,
// real kube2sky and etcd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { APISERVER_BIN, type ProcessApi, kubectl, startApiServerProcess } from '../harness/apiserver.js';
import { type EtcdProcess, etcdGetPrefix, startEtcd } from '../harness/etcd.js';
import { startKube2Sky } from '../harness/kube2sky.js';
import { runToExit, waitUntil } from '../harness/proc.js';

const UNAUTHORIZED = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n';

/** GET/POST over HTTPS trusting `ca`, with an optional Authorization header. */
function call(url: string, ca: string, opts: { method?: string; auth?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', ca, headers: opts.auth ? { Authorization: opts.auth } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sandbox API server with --allow-external', () => {
  let dir: string;
  let api: ProcessApi;
  const files = () => ({ token: path.join(dir, 'token'), cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), kubeconfig: path.join(dir, 'kubeconfig') });
  const start = () => {
    const f = files();
    return startApiServerProcess(['--address=127.0.0.1', '--allow-external', `--token-file=${f.token}`, `--tls-cert-file=${f.cert}`, `--tls-private-key-file=${f.key}`, `--write-kubeconfig=${f.kubeconfig}`]);
  };
  const kc = () => ({ kubeconfig: files().kubeconfig, dir });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-auth-'));
    api = await start();
  });
  after(async () => {
    await api?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('HTTPS; the new token is written (0600) and logged once; every request without it gets 401 Unauthorized, health and version excepted', async () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const f = files();
    const token = fs.readFileSync(f.token, 'utf8').trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    for (const file of [f.token, f.key, f.kubeconfig]) assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
    assert.equal(api.prog.output().split(token).length - 1, 1, 'the token appears once in the log');
    const ca = fs.readFileSync(f.cert, 'utf8');
    for (const p of ['/api/v1/services', '/api/v1/namespaces/default/pods?watch=true', '/api', '/openapi/v3']) {
      assert.deepEqual(await call(api.url + p, ca), { status: 401, body: UNAUTHORIZED }, p);
      assert.deepEqual(await call(api.url + p, ca, { auth: `Bearer ${token}x` }), { status: 401, body: UNAUTHORIZED }, `${p} with a wrong token`);
    }
    assert.deepEqual(await call(`${api.url}/sandbox/close-watches`, ca, { method: 'POST' }), { status: 401, body: UNAUTHORIZED }, 'the test hooks too');
    assert.equal((await call(`${api.url}/api/v1/services`, ca, { auth: `Bearer ${token}` })).status, 200);
    assert.equal((await call(`${api.url}/api/v1/services`, ca, { auth: `bearer ${token}` })).status, 200, 'the scheme is case-insensitive');
    for (const p of ['/healthz', '/livez', '/readyz', '/readyz/ping', '/version']) assert.equal((await call(api.url + p, ca)).status, 200, p);
  });

  test('kubectl: the written kubeconfig works (create, get); a wrong token gets "You must be logged in to the server (Unauthorized)"', async () => {
    const created = await kubectl(kc(), ['create', 'service', 'clusterip', 'guarded', '--tcp=80']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'service/guarded created\n');
    const got = await kubectl(kc(), ['get', 'service', 'guarded', '-o', 'jsonpath={.spec.ports[0].port}']);
    assert.deepEqual([got.code, got.stdout], [0, '80']);
    const wrong = await kubectl(kc(), ['--token=not-the-token', 'get', 'services']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: You must be logged in to the server \(Unauthorized\)$/m);
  });

  test('kube2sky reaches it through the kubeconfig (CA and token), with --kube-master-url naming the server', async () => {
    let etcd: EtcdProcess | undefined;
    let k2s: Awaited<ReturnType<typeof startKube2Sky>> | undefined;
    try {
      etcd = await startEtcd();
      k2s = await startKube2Sky(etcd.url, api.url, [`--kubecfg-file=${files().kubeconfig}`]);
      await waitUntil(async () => (await etcdGetPrefix(etcd!.url, '/skydns/local/cluster/svc/default/guarded/')).length > 0, 15000, 'the guarded service in etcd');
    } finally {
      await k2s?.stop();
      await etcd?.stop();
    }
  });

  test('a restart keeps the token and certificate (read from the files, not logged): the old kubeconfig still works', async () => {
    const token = fs.readFileSync(files().token, 'utf8').trim();
    const before = fs.readFileSync(files().kubeconfig, 'utf8');
    await api.stop();
    api = await start();
    assert.equal(api.prog.output().includes(token), false, 'a token read from a file is not logged');
    assert.match(api.prog.output(), /bearer token read from .*\/token; required on every request but \/healthz, \/livez, \/readyz and \/version/);
    assert.equal(fs.readFileSync(files().kubeconfig, 'utf8').replace(/:\d+\n/, ''), before.replace(/:\d+\n/, ''), 'same CA and token');
    const got = await kubectl(kc(), ['get', 'services', '-o', 'name']);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^service\/kubernetes$/m);
  });
});

test('without --allow-external and a token the server is open on loopback, over HTTP, as before', async () => {
  const api = await startApiServerProcess([]);
  try {
    assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${api.url}/api/v1/services`)).status, 200);
    assert.doesNotMatch(api.prog.output(), /bearer token/);
  } finally {
    await api.stop();
  }
});

test('--token-file that is empty or not one word: a clear error, exit 1', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-auth-bad-'));
  try {
    for (const [content, why] of [['\n', 'the token is empty'], ['two words\n', 'the token must be one word']] as const) {
      fs.writeFileSync(path.join(dir, 'token'), content);
      const r = await runToExit(process.execPath, [APISERVER_BIN, '--port=0', `--token-file=${path.join(dir, 'token')}`], { name: 'apiserver-bad-token' });
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`cannot start: --token-file ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/token: ${why}`));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
