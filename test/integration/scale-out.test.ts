// The scale-out topology with real processes on loopback: a 3-member etcd cluster, kube2sky
// replicas with --leader-elect (one writes, the others stand by), and skydns replicas reading the
// shared cluster. Failover of the writer, fencing of a writer that wakes up after its lease ended,
// and DNS that keeps answering while an etcd member dies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { type EtcdCluster, etcdGetPrefix, startEtcdCluster } from '../harness/etcd.js';
import { type InProcessApi, request, startApiServerInProcess } from '../harness/apiserver.js';
import { type Kube2SkyProcess, startKube2Sky } from '../harness/kube2sky.js';
import { type SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { paced, sleep, waitUntil } from '../harness/proc.js';
import { udpExchange } from '../harness/udp.js';
import { encodeQuery } from '../../lib/skydns/wire.js';
import { serviceRecords, versionRecords, type RecordOptions } from '../../lib/kube2sky/records.js';
import type { Service } from '../../lib/kube2sky/types.js';

const LEASE_S = 3;
const MODERN: RecordOptions = { domain: 'cluster.local.', legacy: false };
const ELECT = ['--leader-elect', `--leader-elect-lease-duration=${LEASE_S}s`, '--pod-records=false', '--resync-period=10m'];

const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** What etcd must hold for the API's current services (ClusterIP services only in these tests). */
async function expectedRecords(api: InProcessApi, opts: RecordOptions): Promise<Record<string, string>> {
  const list = (await request(`${api.url}/api/v1/services`)).body as { items: Service[] };
  const out: Record<string, string> = {};
  for (const svc of list.items) for (const [k, v] of serviceRecords(svc, null, opts).records) out[k] = v;
  for (const [k, v] of versionRecords(opts)) out[k] = v;
  return sorted(out);
}

async function etcdRecords(endpoints: string): Promise<Record<string, string>> {
  const url = endpoints.split(',')[0];
  const out: Record<string, string> = {};
  for (const kv of await etcdGetPrefix(url, '/skydns/')) out[kv.key] = kv.value;
  return sorted(out);
}

async function createService(api: InProcessApi, ns: string, name: string): Promise<void> {
  const r = await request(`${api.url}/api/v1/namespaces/${ns}/services`, {
    method: 'POST',
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
  });
  assert.equal(r.status, 201, r.text);
}

async function deleteService(api: InProcessApi, ns: string, name: string): Promise<void> {
  const r = await request(`${api.url}/api/v1/namespaces/${ns}/services/${name}`, { method: 'DELETE' });
  assert.ok(r.status === 200 || r.status === 404, r.text);
}

/** Creates and deletes services at `perSecond` until stopped; returns the number of changes made. */
function churn(api: InProcessApi, perSecond: number): { stop(): Promise<number> } {
  const live: string[] = [];
  return paced(
    perSecond,
    async (i) => {
      if (live.length > 100 && i % 2 === 1) await deleteService(api, 'default', live.shift()!);
      else {
        await createService(api, 'default', `churn-${i}`);
        live.push(`churn-${i}`);
      }
    },
    120_000,
  );
}

async function leaderGauge(k: Kube2SkyProcess): Promise<number> {
  const m = /^kube2sky_leader (\d+)/m.exec((await k.get('/metrics')).body);
  return m ? Number(m[1]) : NaN;
}

/** rcode and answer count of an A question, or null after a 1 s timeout. */
async function ask(port: number, name: string): Promise<{ rcode: number; answers: number } | null> {
  const { reply } = await udpExchange(port, encodeQuery(name, 1, Math.floor(Math.random() * 65535), 1232), 1000);
  if (!reply) return null;
  return { rcode: reply[3] & 0x0f, answers: reply.readUInt16BE(6) };
}

describe('scale-out: 3 etcd members, kube2sky with --leader-elect, skydns replicas', () => {
  let etcd: EtcdCluster;
  let api: InProcessApi;
  const procs: Array<{ stop(): Promise<unknown> }> = [];

  before(async () => {
    etcd = await startEtcdCluster(3);
    api = await startApiServerInProcess();
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await api?.stop();
    await etcd?.stop();
  });

  let standby: Kube2SkyProcess;

  test('one replica leads, one stands by; kill -9 the leader under 100 changes a second: the standby writes within lease + 2 s and etcd converges to the API', async () => {
    const first = await startKube2Sky(etcd.endpoints, api.url, ELECT);
    procs.push(first);
    await first.prog.waitFor(/leader election: leading as/, 15_000);
    await waitUntil(async () => (await first.get('/readiness')).body === 'ok\n', 15_000, 'the leader synced');
    const second = await startKube2Sky(etcd.endpoints, api.url, ELECT);
    procs.push(second);
    standby = second;
    assert.deepEqual(await second.get('/readiness'), { status: 200, body: 'ok: standby, not leading\n' });
    assert.equal(await leaderGauge(first), 1);
    assert.equal(await leaderGauge(second), 0);

    const load = churn(api, 100);
    await sleep(2000);
    // Every etcd change after the kill, with the time it was seen.
    const watcher = new Etcd3({ hosts: etcd.endpoints.split(',') });
    const seen: number[] = [];
    const w = await watcher.watch().prefix('/skydns/').create();
    w.on('data', () => seen.push(Date.now()));
    await first.prog.kill();
    const killedAt = Date.now();
    await second.prog.waitFor(/leader election: leading as/, (LEASE_S + 5) * 1000);
    await sleep(1500);
    const changes = await load.stop();
    // The killed leader's last transactions land within a few ms; the new leader's come after its lease wait.
    const firstNew = seen.find((t) => t > killedAt + 300);
    assert.ok(firstNew !== undefined, 'the new leader wrote nothing');
    const failoverMs = firstNew - killedAt;
    assert.ok(failoverMs < LEASE_S * 1000 + 2000, `first write by the new leader ${failoverMs} ms after the kill (lease ${LEASE_S} s)`);
    await w.cancel();
    watcher.close();
    assert.ok(changes >= 300, `only ${changes} API changes made`);

    let want: Record<string, string> = {};
    let have: Record<string, string> = {};
    try {
      await waitUntil(async () => {
        want = await expectedRecords(api, MODERN);
        have = await etcdRecords(etcd.endpoints);
        return JSON.stringify(want) === JSON.stringify(have);
      }, 15_000, 'etcd equal to the API');
    } catch (err) {
      assert.deepEqual(have, want, (err as Error).message);
    }
    assert.equal(await leaderGauge(second), 1);
    process.stdout.write(`# failover: first write by the new leader ${failoverMs} ms after kill -9 (lease ${LEASE_S} s); ${changes} API changes; ${Object.keys(have).length} records converged\n`);
  });

  test('a leader stopped past its lease (SIGSTOP) wakes up unable to write: not one of its writes lands, and it exits', async () => {
    const leader = standby;
    // The next leader writes legacy records (no PTRs): a PTR put after it took over can only be the old leader's.
    const next = await startKube2Sky(etcd.endpoints, api.url, [...ELECT, '--legacy-records']);
    procs.push(next);
    assert.equal((await next.get('/readiness')).status, 200);
    process.kill(leader.prog.pid, 'SIGSTOP');
    let continued = false;
    try {
      await next.prog.waitFor(/leader election: leading as/, (LEASE_S + 5) * 1000);
      // Changes the stopped leader will find in its watch streams when it wakes.
      for (let i = 0; i < 20; i++) await createService(api, 'default', `after-stop-${i}`);
      await waitUntil(async () => (await etcdGetPrefix(etcd.members[1].url, '/skydns/local/cluster/svc/default/after-stop-19/')).length > 0, 10_000, 'the new leader writes');
      const watcher = new Etcd3({ hosts: etcd.endpoints.split(',') });
      const ptrPuts: string[] = [];
      const w = await watcher.watch().prefix('/skydns/arpa/').create();
      w.on('put', (kv) => ptrPuts.push(kv.key.toString()));
      process.kill(leader.prog.pid, 'SIGCONT');
      continued = true;
      const exit = await Promise.race([leader.prog.exited, sleep(15_000).then(() => null)]);
      await sleep(500);
      await w.cancel();
      watcher.close();
      assert.deepEqual(ptrPuts, [], 'writes of the old leader landed after it lost its lease');
      assert.ok(exit !== null, 'the old leader did not exit');
      assert.equal(exit.code, 1, leader.prog.output().slice(-2000));
      assert.match(leader.prog.output(), /no longer leading/);
      // It had something to write: the PTR records of the services made while it slept are missing.
      assert.equal((await etcdGetPrefix(etcd.members[0].url, '/skydns/arpa/')).filter((kv) => kv.value.includes('after-stop-')).length, 0);
      assert.equal(await leaderGauge(next), 1);
    } finally {
      if (!continued) process.kill(leader.prog.pid, 'SIGCONT');
    }
  });

  test('kill -9 an etcd member: three skydns replicas keep answering (no SERVFAIL, no timeout) and serve a new service within 100 ms of each other', async () => {
    const sky: SkyDnsProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startSkyDns(etcd.endpoints, ['-nameservers=127.0.0.1:1']);
      procs.push(s);
      sky.push(s);
    }
    const name = 'kubernetes.default.svc.cluster.local';
    for (const s of sky) assert.deepEqual(await ask(s.port, name), { rcode: 0, answers: 1 });
    const bad: string[] = [];
    let asked = 0;
    let polling = true;
    const poller = (async () => {
      while (polling && asked < 20_000) {
        for (const s of sky) {
          const r = await ask(s.port, name);
          asked++;
          if (r === null || r.rcode !== 0 || r.answers !== 1) bad.push(`skydns :${s.port}: ${r === null ? 'timeout' : `rcode ${r.rcode}, ${r.answers} answers`}`);
        }
        await sleep(5);
      }
    })();
    await sleep(1000);
    await etcd.members[0].kill();
    await sleep(4000);
    // A change while the member is down: the writer fails over to the other members too.
    await createService(api, 'default', 'while-member-down');
    const target = 'while-member-down.default.svc.cluster.local';
    const firstSeen = await Promise.all(
      sky.map(async (s) => {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const r = await ask(s.port, target);
          if (r && r.rcode === 0 && r.answers === 1) return performance.now();
          await sleep(2);
        }
        return Infinity;
      }),
    );
    polling = false;
    await poller;
    assert.deepEqual(bad, [], `${bad.length} bad answers of ${asked}`);
    assert.ok(firstSeen.every(Number.isFinite), 'a replica never served the new service');
    const spread = Math.max(...firstSeen) - Math.min(...firstSeen);
    assert.ok(spread < 100, `replicas served the change ${spread.toFixed(1)} ms apart`);
    process.stdout.write(`# etcd member killed: ${asked} queries to 3 replicas, none bad; a new service served by all within ${spread.toFixed(1)} ms of each other\n`);
    await deleteService(api, 'default', 'while-member-down');
  });
});
