// skydns and kube2sky against an etcd that serves TLS only and requires client
// certificates (certificates made by the real openssl), and against an etcd
// with v3 authentication switched on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../lib/etcd/client.js';
import { EtcdProcess, startEtcd } from '../harness/etcd.js';
import { dig } from '../harness/dig.js';
import { InProcessApi, startApiServerInProcess } from '../harness/apiserver.js';
import { KUBE2SKY_BIN, startKube2Sky } from '../harness/kube2sky.js';
import { Pki, makePki } from '../harness/pki.js';
import { SKYDNS_BIN, startSkyDns } from '../harness/skydns.js';
import { runToExit, waitUntil } from '../harness/proc.js';
import { freePort, freeTcpPort } from '../harness/ports.js';
// kube2sky's exact value bytes for an address leaf.
import { K2S_A as A_VALUE } from '../unit/fixtures/skydns-records.js';

const D = '/skydns/local/cluster';
const answers = async (port: number, name: string) => (await dig({ port, name })).answer.map((r) => `${r.name} ${r.ttl} ${r.type} ${r.data}`);

async function valuesUnder(client: Etcd3, prefix: string): Promise<Record<string, string>> {
  return client.getAll().prefix(prefix).strings();
}

/** skydns that etcd turns away: SERVFAIL in the zone, /readyz 503, and a log line with etcd's reason. */
async function assertRefused(etcdUrl: string, args: string[], reason: RegExp): Promise<void> {
  const sky = await startSkyDns(etcdUrl, [...args, '-nameservers=127.0.0.1:1'], { waitReady: false });
  try {
    await sky.prog.waitFor(new RegExp(`etcd: cannot read /skydns/ \\(.*${reason.source}`), 10000);
    assert.equal((await dig({ port: sky.port, name: 'web.default.svc.cluster.local' })).status, 'SERVFAIL');
    assert.equal((await sky.httpGet('/readyz')).status, 503);
  } finally {
    await sky.stop();
  }
}

describe('etcd over TLS with client certificates', () => {
  let pki: Pki;
  let etcd: EtcdProcess;
  let client: Etcd3;

  before(async () => {
    pki = await makePki();
    etcd = await startEtcd({ tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile } });
    assert.match(etcd.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    // The shared etcd client module, as both programs build it.
    client = createEtcdClient({ urls: [etcd.url], caFile: pki.caFile, certFile: pki.client.certFile, keyFile: pki.client.keyFile });
    await client.put(`${D}/svc/default/web/1`).value(A_VALUE('10.3.0.1'));
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
    await pki?.remove();
  });

  test('skydns reads and watches over TLS (-ca-cert, -tls-pem, -tls-key)', async () => {
    const sky = await startSkyDns(etcd.url, [`-ca-cert=${pki.caFile}`, `-tls-pem=${pki.client.certFile}`, `-tls-key=${pki.client.keyFile}`, '-nameservers=127.0.0.1:1']);
    try {
      assert.deepEqual(await answers(sky.port, 'web.default.svc.cluster.local'), ['web.default.svc.cluster.local. 30 A 10.3.0.1']);
      await client.put(`${D}/svc/default/api/1`).value(A_VALUE('10.3.0.2'));
      await waitUntil(async () => (await answers(sky.port, 'api.default.svc.cluster.local')).length === 1, 10000, 'the new record through the watch');
      assert.deepEqual(await answers(sky.port, 'api.default.svc.cluster.local'), ['api.default.svc.cluster.local. 30 A 10.3.0.2']);
    } finally {
      await sky.stop();
    }
  });

  test('kube2sky writes over TLS (--etcd-cafile, --etcd-certfile, --etcd-keyfile)', async () => {
    const api: InProcessApi = await startApiServerInProcess();
    const k2s = await startKube2Sky(etcd.url, api.url, [`--etcd-cafile=${pki.caFile}`, `--etcd-certfile=${pki.client.certFile}`, `--etcd-keyfile=${pki.client.keyFile}`]);
    try {
      assert.deepEqual(await valuesUnder(client, `${D}/svc/default/kubernetes/`), {
        [`${D}/svc/default/kubernetes/_tcp/_https/c88f1059`]: '{"host":"kubernetes.default.svc.cluster.local.","port":443,"priority":10,"weight":10,"ttl":30,"targetstrip":0}',
        [`${D}/svc/default/kubernetes/c88f1059`]: A_VALUE('10.0.0.1'),
      });
    } finally {
      await k2s.stop();
      await api.stop();
    }
  });

  test('a client certificate from another CA is refused: SERVFAIL in the zone, not ready, and the log says why', async () => {
    await assertRefused(etcd.url, [`-ca-cert=${pki.caFile}`, `-tls-pem=${pki.stranger.certFile}`, `-tls-key=${pki.stranger.keyFile}`], /bad certificate/);
  });

  test('unreadable certificate files: one line and exit 2, for both programs', async () => {
    const sky = await runToExit(process.execPath, [SKYDNS_BIN, `-machines=${etcd.url}`, `-addr=127.0.0.1:${await freePort()}`, '-ca-cert=/nonexistent/ca.pem'], { name: 'skydns-badca' });
    assert.equal(sky.code, 2);
    assert.match(sky.out, /cannot start: cannot read etcd CA certificate \/nonexistent\/ca\.pem: ENOENT/);
    const k = await runToExit(process.execPath, [KUBE2SKY_BIN, `--etcd-server=${etcd.url}`, '--etcd-cafile=/nonexistent/ca.pem', '--kube-master-url=http://127.0.0.1:1', `--healthz-port=${await freeTcpPort()}`, '--healthz-address=127.0.0.1'], { name: 'kube2sky-badca' });
    assert.equal(k.code, 2);
    assert.match(k.out, /^kube2sky: cannot read etcd CA certificate \/nonexistent\/ca\.pem: ENOENT/m);
  });
});

describe('etcd with v3 authentication', () => {
  let etcd: EtcdProcess;

  before(async () => {
    etcd = await startEtcd();
    const ctl = (args: string[]) => promisify(execFile)('etcdctl', ['--endpoints', etcd.url, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    await ctl(['user', 'add', 'root', '--new-user-password=s3cret']);
    await ctl(['auth', 'enable']);
    const admin = createEtcdClient({ urls: [etcd.url], username: 'root', password: 's3cret' });
    try {
      await admin.put(`${D}/svc/default/web/1`).value(A_VALUE('10.4.0.1'));
    } finally {
      admin.close();
    }
  });
  after(async () => {
    await etcd?.stop();
  });

  test('skydns -username/-password reads the records, and watches them (its own watch authenticates too)', async () => {
    const sky = await startSkyDns(etcd.url, ['-username=root', '-password=s3cret', '-nameservers=127.0.0.1:1']);
    try {
      assert.deepEqual(await answers(sky.port, 'web.default.svc.cluster.local'), ['web.default.svc.cluster.local. 30 A 10.4.0.1']);
      const admin = createEtcdClient({ urls: [etcd.url], username: 'root', password: 's3cret' });
      try {
        await admin.put(`${D}/svc/default/api/1`).value(A_VALUE('10.4.0.2'));
      } finally {
        admin.close();
      }
      await waitUntil(async () => (await answers(sky.port, 'api.default.svc.cluster.local')).length === 1, 10000, 'the new record through the watch');
      assert.deepEqual(await answers(sky.port, 'api.default.svc.cluster.local'), ['api.default.svc.cluster.local. 30 A 10.4.0.2']);
      assert.doesNotMatch(sky.prog.output(), /lost connection|authenticating/);
    } finally {
      await sky.stop();
    }
  });

  test('a wrong password: SERVFAIL in the zone, not ready, and the log says why', async () => {
    await assertRefused(etcd.url, ['-username=root', '-password=wrong'], /authentication failed/);
  });
});
