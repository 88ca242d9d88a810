// The whole pod through the README's own command (`npm start` = scripts/quickstart.mjs):
// etcd + sandbox API server + kube2sky + skydns + exec-healthz, queried with real dig/nslookup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dig, nslookup, DigRR } from '../harness/dig.js';
import { freePort } from '../harness/ports.js';
import { Program, spawnProgram, waitUntil, pidAlive } from '../harness/proc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const lines = (rrs: DigRR[]) => rrs.map((r) => `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`).sort();

/** Every process below `pid` (from /proc/<pid>/stat's parent field). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The "Logs" block of the summary: component → log file (absolute). */
function logFiles(out: string): Map<string, string> {
  const block = /^Logs, a file per component[^\n]*\n((?: {2}\S+ +\S+\n)+)/m.exec(out)?.[1] ?? '';
  return new Map([...block.matchAll(/^ {2}(\S+) +(\S+)$/gm)].map((m) => [m[1], path.resolve(root, m[2])]));
}

/**
 * Lines of the stack's default output that report a problem: a component's line (the stack
 * shows only their warnings and errors, prefixed `name | `) or anything saying error.
 */
const problemLines = (out: string) => out.split('\n').filter((l) => /^\S+ +\| /.test(l) || /\berror\b|uncaught|exception|excess pings|\bexited\b|timed out/i.test(l));

describe('the local stack (npm start)', () => {
  let stack: Program;
  let dnsPort: number;
  let apiPort: number;
  let healthzUrl: string;

  before(async () => {
    dnsPort = await freePort();
    apiPort = await freePort();
    // The default output, as a person running `npm start` sees it.
    stack = spawnProgram(process.execPath, [path.join(root, 'scripts/quickstart.mjs'), '--no-build', `--dns-port=${dnsPort}`, `--api-port=${apiPort}`], { name: 'stack', cwd: root });
    const out = await stack.waitFor(/kube-dns is up[\s\S]*Ctrl-C stops everything/, 120000);
    healthzUrl = /curl (http:\/\/127\.0\.0\.1:\d+\/healthz)/.exec(out)?.[1] ?? '';
  });
  after(async () => {
    await stack?.stop();
    // This run's log directory (.stack/logs/<run>/), once the test has read it.
    const dir = /^stack: logs in (\S+)\/, a file per component/m.exec(stack?.output() ?? '')?.[1];
    if (dir && !stack.running()) fs.rmSync(path.resolve(root, dir), { recursive: true, force: true });
  });

  test('each component reported ready, in pod order', () => {
    const order = [...stack.output().matchAll(/^stack: (\S+): ready$/gm)].map((m) => m[1]);
    assert.deepEqual(order, ['etcd', 'apiserver', 'skydns', 'kube2sky', 'healthz']);
  });

  test('the default output: progress, then the log files and the Try block at the end; no warning or error, no component chatter', async () => {
    const out = stack.output();
    const startup = out.slice(out.indexOf('stack: logs in '));
    // The summary ends the start-up output: the log files, then Try:, then how to stop.
    assert.match(startup, /\nkube-dns is up \(etcd http:\/\/127\.0\.0\.1:\d+, API http:\/\/127\.0\.0\.1:\d+, DNS 127\.0\.0\.1:\d+\)\.\nLogs, a file per component[^\n]*\n(?: {2}\S+ +\S+\n){5}Try:\n(?: {2}[^\n]+\n)+Ctrl-C stops everything\.\n$/);
    assert.match(startup, /^stack: logs in \.stack\/logs\/\d{8}T\d{6}Z-\d+\/, a file per component/);
    // Every line before the summary is the stack's own progress.
    for (const l of startup.slice(0, startup.indexOf('\nkube-dns is up')).split('\n').filter(Boolean)) assert.match(l, /^stack: /);
    assert.deepEqual(problemLines(out), []);
    // Each component's whole log is in its file; the terminal got none of the routine lines.
    const files = logFiles(out);
    assert.deepEqual([...files.keys()], ['etcd', 'apiserver', 'skydns', 'kube2sky', 'healthz']);
    for (const [name, file] of files) {
      assert.equal(path.dirname(file), path.join(root, /^stack: logs in (\S+)\//m.exec(out)![1]));
      assert.equal(path.basename(file), `${name}.log`);
    }
    const read = (name: string) => fs.readFileSync(files.get(name)!, 'utf8');
    assert.match(read('etcd'), /^\{"level":"info".*"msg":"starting an etcd server"/m);
    assert.match(read('skydns'), / skydns INFO ready for queries on cluster\.local\./);
    assert.match(read('kube2sky'), / kube2sky INFO initial sync done: \d+ records in etcd/);
    assert.match(read('apiserver'), /apiserver listening on http:\/\/127\.0\.0\.1:/);
    await waitUntil(() => /exec-healthz Worker running nslookup/.test(read('healthz')), 5000, 'healthz.log');
    assert.doesNotMatch(out, /Worker running|INFO|"level"/);
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
    const below = descendants(stack.pid);
    assert.ok(below.length >= 6, `the stack and its five components run below npm start: ${below}`);
    process.kill(stack.pid, 'SIGINT');
    const { code } = await stack.exited;
    assert.equal(code, 0);
    assert.match(stack.output(), /stack: stopped/);
    for (const c of ['healthz', 'kube2sky', 'skydns', 'apiserver', 'etcd']) assert.match(stack.output(), new RegExp(`stack: ${c} stopped`));
    assert.equal((await dig({ port: dnsPort, name: 'kubernetes.default.svc.cluster.local', extra: ['+time=1'] })).status, 'TIMEOUT');
    assert.ok(!pidAlive(stack.pid));
    assert.deepEqual(below.filter(pidAlive), [], 'no process of the stack is left');
    // Stopping is quiet too: no component reports another going away, none fails on its way out.
    assert.deepEqual(problemLines(stack.output()), []);
    assert.match(stack.output(), /^stack: stopped; the logs stay in \.stack\/logs\/\d{8}T\d{6}Z-\d+\/$/m);
  });
});

describe('the local stack against another cluster (--kubeconfig)', () => {
  test('no sandbox is started; kube2sky follows the cluster of the kubeconfig', async () => {
    const { startApiServerProcess } = await import('../harness/apiserver.js');
    const cluster = await startApiServerProcess(['--load', path.join(root, 'manifests/sandbox-cluster.yaml')]);
    const dnsPort = await freePort();
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-logs-'));
    const stack = spawnProgram(process.execPath, [path.join(root, 'scripts/quickstart.mjs'), '--no-build', '--quiet', `--dns-port=${dnsPort}`, `--kubeconfig=${cluster.kubeconfig}`, `--log-dir=${logDir}`], { name: 'stack-kubeconfig', cwd: root });
    try {
      await stack.waitFor(/kube-dns is up/, 120000);
      const started = [...stack.output().matchAll(/^stack: (\S+): starting/gm)].map((m) => m[1]);
      assert.deepEqual(started, ['etcd', 'skydns', 'kube2sky', 'healthz']);
      assert.match(stack.output(), new RegExp(`using the Kubernetes API at the kubeconfig ${cluster.kubeconfig.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      const r = await dig({ port: dnsPort, name: 'demoapp.default.svc.cluster.local' });
      assert.deepEqual(lines(r.answer), ['demoapp.default.svc.cluster.local. 30 IN A 10.0.0.20']);
      // --log-dir: the files go there; --quiet: none of their lines here.
      assert.deepEqual([...logFiles(stack.output())].map(([c, f]) => [c, path.relative(logDir, f)]), ['etcd', 'skydns', 'kube2sky', 'healthz'].map((c) => [c, `${c}.log`]));
      assert.match(fs.readFileSync(path.join(logDir, 'kube2sky.log'), 'utf8'), /kube2sky INFO Using .*kubeconfig/);
      assert.doesNotMatch(stack.output(), /^\S+ +\| /m);
    } finally {
      await stack.stop();
      await cluster.stop();
      fs.rmSync(logDir, { recursive: true, force: true });
    }
  });
});

describe('the local stack signing its zone (--dnssec)', () => {
  test('a key is made, answers to DO queries are signed, and the printed commands validate them', async () => {
    const { execFileSync } = await import('node:child_process');
    const dnsPort = await freePort();
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-logs-'));
    const stack = spawnProgram(process.execPath, [path.join(root, 'scripts/quickstart.mjs'), '--no-build', '--quiet', '--dnssec', `--dns-port=${dnsPort}`, `--log-dir=${logDir}`], { name: 'stack-dnssec', cwd: root });
    try {
      const out = await stack.waitFor(/kube-dns is up[\s\S]*Ctrl-C stops everything/, 120000);
      const base = /^Signed with (\S+) \(--dnssec\):$/m.exec(out)?.[1];
      assert.ok(base && fs.existsSync(`${base}.key`) && fs.existsSync(`${base}.private`), out);
      assert.match(fs.readFileSync(path.join(logDir, 'skydns.log'), 'utf8'), /, signing with \S+ \[scache 10000\]/);
      const r = await dig({ port: dnsPort, name: 'kubernetes.default.svc.cluster.local', extra: ['+dnssec'] });
      assert.deepEqual(r.answer.map((a) => a.type), ['A', 'RRSIG']);
      assert.ok(r.flags.includes('ad'));
      // The printed commands, run as printed: delv validates with the anchor file the stack wrote; the DS is the key's.
      const printed = (cmd: string) => out.split('\n').find((l) => l.trim().startsWith(cmd))!.trim().split('    ')[0];
      const v = execFileSync('/bin/sh', ['-c', printed('delv ')], { encoding: 'utf8' });
      assert.match(v, /^; fully validated$/m, v);
      const ds = execFileSync('/bin/sh', ['-c', printed('dnssec-dsfromkey ')], { encoding: 'utf8' });
      assert.match(ds, /^cluster\.local\. IN DS \d+ 13 2 [0-9A-F]{64}$/m, ds);
    } finally {
      await stack.stop();
      fs.rmSync(logDir, { recursive: true, force: true });
    }
    // The key lived in the run's temporary data directory, removed with it.
    assert.ok(!fs.existsSync(/^Signed with (\S+) /m.exec(stack.output())![1] + '.key'));
  });
});
