// The whole pod through the README's own command (`npm start` = scripts/quickstart.mjs):
// etcd + sandbox API server + kube2sky + skydns + exec-healthz, queried with real dig/nslookup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dig, nslookup, DigRR } from '../harness/dig.js';
import { freePort } from '../harness/ports.js';
import { Program, spawnProgram, waitUntil, pidAlive } from '../harness/proc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lines = (rrs: DigRR[]) => rrs.map((r) => `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`).sort();

describe('the local stack (npm start)', () => {
  let stack: Program;
  let dnsPort: number;
  let apiPort: number;
  let healthzUrl: string;

  before(async () => {
    dnsPort = await freePort();
    apiPort = await freePort();
    stack = spawnProgram(process.execPath, [path.join(root, 'scripts/quickstart.mjs'), '--no-build', '--quiet', `--dns-port=${dnsPort}`, `--api-port=${apiPort}`], { name: 'stack', cwd: root });
    const out = await stack.waitFor(/kube-dns is up[\s\S]*Ctrl-C stops everything/, 120000);
    healthzUrl = /curl (http:\/\/127\.0\.0\.1:\d+\/healthz)/.exec(out)?.[1] ?? '';
  });
  after(async () => {
    await stack?.stop();
  });

  test('each component reported ready, in pod order', () => {
    const order = [...stack.output().matchAll(/^stack: (\S+): ready$/gm)].map((m) => m[1]);
    assert.deepEqual(order, ['etcd', 'apiserver', 'skydns', 'kube2sky', 'healthz']);
  });

  test('the seeded cluster answers', async () => {
    const k = await dig({ port: dnsPort, name: 'kubernetes.default.svc.cluster.local' });
    assert.deepEqual(lines(k.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
    const srv = await dig({ port: dnsPort, name: '_http._tcp.demoapp.default.svc.cluster.local', type: 'SRV' });
    assert.deepEqual(lines(srv.answer), ['_http._tcp.demoapp.default.svc.cluster.local. 30 IN SRV 10 100 80 demoapp.default.svc.cluster.local.']);
    assert.deepEqual(lines(srv.additional), ['demoapp.default.svc.cluster.local. 30 IN A 10.0.0.20']);
    const ptr = await dig({ port: dnsPort, name: '20.0.0.10.in-addr.arpa', type: 'PTR' });
    assert.deepEqual(lines(ptr.answer), ['20.0.0.10.in-addr.arpa. 30 IN PTR demoapp.default.svc.cluster.local.']);
    const db = await dig({ port: dnsPort, name: 'db.default.svc.cluster.local' });
    assert.deepEqual(lines(db.answer), ['db.default.svc.cluster.local. 30 IN A 10.244.1.5', 'db.default.svc.cluster.local. 30 IN A 10.244.1.6']);
    const ext = await dig({ port: dnsPort, name: 'payments.shop.svc.cluster.local', type: 'CNAME' });
    assert.deepEqual(lines(ext.answer), ['payments.shop.svc.cluster.local. 30 IN CNAME payments.example.com.']);
    const v = await dig({ port: dnsPort, name: 'dns-version.cluster.local', type: 'TXT' });
    assert.deepEqual(lines(v.answer), ['dns-version.cluster.local. 30 IN TXT "1.1.0"']);
    const ns = await nslookup('kubernetes.default.svc.cluster.local', '127.0.0.1', dnsPort);
    assert.equal(ns.code, 0, ns.output);
    assert.match(ns.output, /Name:\s+kubernetes\.default\.svc\.cluster\.local\nAddress: 10\.0\.0\.1/);
  });

  test('exec-healthz reports the nslookup probe healthy', async () => {
    assert.notEqual(healthzUrl, '');
    const r = await fetch(healthzUrl);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok');
  });

  test('a Service created, deleted and re-created through the API follows in DNS', async () => {
    const api = `http://127.0.0.1:${apiPort}/api/v1/namespaces/default/services`;
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'demoapp-svc' }, spec: { selector: { app: 'demoapp' }, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] } });
    const create = async () => {
      const r = await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      const text = await r.text();
      assert.equal(r.status, 201, text);
      return (JSON.parse(text) as { spec: { clusterIP: string } }).spec.clusterIP;
    };
    const name = 'demoapp-svc.default.svc.cluster.local';
    const ip1 = await create();
    await waitUntil(async () => (await dig({ port: dnsPort, name })).answer.length === 1, 10000, 'service in DNS');
    assert.deepEqual(lines((await dig({ port: dnsPort, name })).answer), [`${name}. 30 IN A ${ip1}`]);
    const del = await fetch(`${api}/demoapp-svc`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    await waitUntil(async () => (await dig({ port: dnsPort, name })).status === 'NXDOMAIN', 10000, 'NXDOMAIN after delete');
    const ip2 = await create();
    await waitUntil(async () => (await dig({ port: dnsPort, name })).answer.length === 1, 10000, 'answers again');
    assert.deepEqual(lines((await dig({ port: dnsPort, name })).answer), [`${name}. 30 IN A ${ip2}`]);
    const srv = await dig({ port: dnsPort, name: `_http._tcp.${name}`, type: 'SRV' });
    assert.deepEqual(lines(srv.answer), [`_http._tcp.${name}. 30 IN SRV 10 100 8080 ${name}.`]);
  });

  test('Ctrl-C stops every component', async () => {
    const pids = [...stack.output().matchAll(/^stack: (\S+): starting/gm)].length;
    assert.equal(pids, 5);
    process.kill(stack.pid, 'SIGINT');
    const { code } = await stack.exited;
    assert.equal(code, 0);
    assert.match(stack.output(), /stack: stopped/);
    for (const c of ['healthz', 'kube2sky', 'skydns', 'apiserver', 'etcd']) assert.match(stack.output(), new RegExp(`stack: ${c} stopped`));
    assert.equal((await dig({ port: dnsPort, name: 'kubernetes.default.svc.cluster.local', extra: ['+time=1'] })).status, 'TIMEOUT');
    assert.ok(!pidAlive(stack.pid));
  });
});

describe('the local stack against another cluster (--kubeconfig)', () => {
  test('no sandbox is started; kube2sky follows the cluster of the kubeconfig', async () => {
    const { startApiServerProcess } = await import('../harness/apiserver.js');
    const cluster = await startApiServerProcess(['--load', path.join(root, 'manifests/sandbox-cluster.yaml')]);
    const dnsPort = await freePort();
    const stack = spawnProgram(process.execPath, [path.join(root, 'scripts/quickstart.mjs'), '--no-build', '--quiet', `--dns-port=${dnsPort}`, `--kubeconfig=${cluster.kubeconfig}`], { name: 'stack-kubeconfig', cwd: root });
    try {
      await stack.waitFor(/kube-dns is up/, 120000);
      const started = [...stack.output().matchAll(/^stack: (\S+): starting/gm)].map((m) => m[1]);
      assert.deepEqual(started, ['etcd', 'skydns', 'kube2sky', 'healthz']);
      assert.match(stack.output(), new RegExp(`using the Kubernetes API at the kubeconfig ${cluster.kubeconfig.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      const r = await dig({ port: dnsPort, name: 'demoapp.default.svc.cluster.local' });
      assert.deepEqual(lines(r.answer), ['demoapp.default.svc.cluster.local. 30 IN A 10.0.0.20']);
    } finally {
      await stack.stop();
      await cluster.stop();
    }
  });
});
