// The etcd client's gRPC keep-alive against a real etcd 3.4 with its default enforcement
// (--grpc-keepalive-min-time 5s; pings on a connection without an open stream are allowed at
// most once in 2 hours, and the third ping too many closes the connection with GOAWAY
// too_many_pings). kube2sky (only unary calls: idle means no stream at all) and skydns (its
// watch stream is always open) run idle for longer than the old settings took to be thrown
// out (the fourth keep-alive ping, ~40 s), on the same TCP connection all along; and a frozen
// etcd is still noticed on skydns's watch stream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { EtcdProcess, etcdGetPrefix, startEtcd } from '../harness/etcd.js';
import { InProcessApi, startApiServerInProcess } from '../harness/apiserver.js';
import { Kube2SkyProcess, startKube2Sky } from '../harness/kube2sky.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { sleep, socketInodes } from '../harness/proc.js';

/** Longer than the 40 s the old client settings lasted (pings at 10, 20, 30, 40 s; strikes at 20, 30, 40). */
const IDLE_MS = 45_000;
/** The loss of a frozen etcd on an open stream: one keep-alive interval (10 s) plus its timeout (5 s), plus slack. */
const DEAD_MS = 25_000;

/** Local ports of `pid`'s established TCP connections to 127.0.0.1:`port` (from /proc, no tools needed). */
function connectionsTo(pid: number, port: number): number[] {
  const inodes = socketInodes(pid);
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [, local, remote, state] = f;
      const inode = f[9];
      // 01 = ESTABLISHED
      if (state !== '01' || !inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(':')[1], 16) !== port) continue;
      ports.push(Number.parseInt(local.split(':')[1], 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

describe('etcd keep-alive: kube2sky and skydns stay connected to an idle etcd 3.4', () => {
  let etcd: EtcdProcess;
  let api: InProcessApi;
  let k2s: Kube2SkyProcess;
  let sky: SkyDnsProcess;

  before(async () => {
    etcd = await startEtcd();
    api = await startApiServerInProcess({ simulateKubelet: true });
    sky = await startSkyDns(etcd.url);
    k2s = await startKube2Sky(etcd.url, api.url);
  });
  after(async () => {
    if (etcd) {
      try {
        process.kill(etcd.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await k2s?.stop();
    await sky?.stop();
    await api?.stop();
    await etcd?.stop();
  });

  test(`${IDLE_MS / 1000} s idle: no "excess pings", the same etcd connection throughout`, async () => {
    const who = [
      ['kube2sky', k2s.prog],
      ['skydns', sky.prog],
    ] as const;
    const first = new Map(who.map(([name, p]) => [name, connectionsTo(p.pid, etcd.port)]));
    for (const [name, ports] of first) assert.ok(ports.length > 0, `${name} has a connection to etcd at the start`);
    const end = Date.now() + IDLE_MS;
    while (Date.now() < end) {
      await sleep(500);
      for (const [name, p] of who) {
        assert.ok(p.running(), `${name} still runs`);
        assert.deepEqual(connectionsTo(p.pid, etcd.port), first.get(name), `${name}'s connection to etcd (local ports) changed after ${((IDLE_MS - (end - Date.now())) / 1000).toFixed(1)} s: it was closed or reconnected\n${p.output().split('\n').slice(-10).join('\n')}`);
      }
    }
    for (const [name, p] of who) {
      assert.doesNotMatch(p.output(), /excess pings|too_many_pings|GOAWAY/i, `${name}'s log`);
    }
    assert.doesNotMatch(sky.prog.output(), /etcd: lost connection|watch cancelled/, "skydns's log");
    // Still usable: kube2sky writes a new service over the same connection.
    api.server.store.create('services', 'default', { metadata: { name: 'after-idle' }, spec: { clusterIP: '10.0.0.77', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    const end2 = Date.now() + 15000;
    while (!(await etcdGetPrefix(etcd.url, '/skydns/local/cluster/svc/default/after-idle/')).length) {
      assert.ok(Date.now() < end2, 'kube2sky wrote the service created after the idle time');
      await sleep(100);
    }
    assert.deepEqual(connectionsTo(k2s.prog.pid, etcd.port), first.get('kube2sky'), 'kube2sky wrote on the connection it had');
  });

  test('a frozen etcd is still noticed on skydns\'s open watch stream (keep-alive ping timeout), and the watch comes back', async () => {
    const from = sky.prog.output().length;
    const since = () => sky.prog.output().slice(from);
    const until = async (re: RegExp, ms: number, what: string) => {
      const end = Date.now() + ms;
      while (!re.test(since())) {
        assert.ok(Date.now() < end, `${what} within ${ms} ms; skydns said:\n${since()}`);
        await sleep(100);
      }
    };
    const t0 = Date.now();
    process.kill(etcd.pid, 'SIGSTOP');
    try {
      await until(/etcd: lost connection/, DEAD_MS, 'skydns notices the frozen etcd');
      const lostAfter = Date.now() - t0;
      assert.ok(lostAfter >= 4000, `lost after ${lostAfter} ms: not before a ping could time out`);
    } finally {
      process.kill(etcd.pid, 'SIGCONT');
    }
    await until(/etcd: connection restored/, 20000, 'skydns reconnects once etcd runs again');
  });
});
