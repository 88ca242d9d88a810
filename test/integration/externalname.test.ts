// ExternalName services end to end, as the Kubernetes DNS specification (schema 1.1.0) asks:
// the real kubectl against the sandbox API server, kube2sky and skydns as programs, a real etcd,
// Knot DNS as the upstream that serves the external names, and dig and glibc (getent) as clients.
// Also the forwarder's fail-over: a closed upstream port is passed over at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EtcdProcess, startEtcd } from '../harness/etcd.js';
import { ProcessApi, kubectl, startApiServerProcess } from '../harness/apiserver.js';
import { Kube2SkyProcess, startKube2Sky } from '../harness/kube2sky.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { KnotProcess, startKnot } from '../harness/knot.js';
import { DigRR, dig } from '../harness/dig.js';
import { freeUdpPort } from '../harness/ports.js';
import { silentUpstream, udpExchange } from '../harness/udp.js';
import { runToExit, waitUntil } from '../harness/proc.js';
import { encodeQuery } from '../../lib/skydns/wire.js';

const NAME = 'ext.default.svc.cluster.local';
const lines = (rrs: DigRR[]) => rrs.map((r) => `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`);

/** A UDP client that asks one question every `everyMs` and keeps every rcode it gets, until stopped. */
function poll(port: number, name: string, everyMs = 2): { stop(): Promise<Map<number, number>> } {
  const sock = dgram.createSocket('udp4');
  const rcodes = new Map<number, number>();
  let id = 0;
  sock.on('message', (m) => {
    if (m.length >= 4) rcodes.set(m[3] & 0x0f, (rcodes.get(m[3] & 0x0f) ?? 0) + 1);
  });
  const timer = setInterval(() => sock.send(encodeQuery(name, 1, ++id & 0xffff), port, '127.0.0.1'), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 100)); // the last replies
      sock.close();
      return rcodes;
    },
  };
}

/** One question over UDP from this process (no dig start-up in the figure): the time to the reply and its rcode. */
async function timedAsk(port: number, name: string, qtype = 1, timeoutMs = 8000): Promise<{ ms: number; rcode: number; ancount: number }> {
  const { reply, ms } = await udpExchange(port, encodeQuery(name, qtype, 4242), timeoutMs);
  if (!reply) throw new Error(`no reply for ${name} within ${timeoutMs} ms`);
  return { ms, rcode: reply[3] & 0x0f, ancount: reply.readUInt16BE(6) };
}

describe('ExternalName services (kubectl → kube2sky → etcd → skydns → dig, Knot upstream)', () => {
  let etcd: EtcdProcess;
  let api: ProcessApi;
  let knot: KnotProcess;
  let k2s: Kube2SkyProcess;
  let sky: SkyDnsProcess;
  const k = async (...args: string[]) => {
    const r = await kubectl(api, args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    etcd = await startEtcd();
    knot = await startKnot('example.com.', ['foo A 192.0.2.10', 'bar A 192.0.2.20', 'bar AAAA 2001:db8::20']);
    api = await startApiServerProcess();
    sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${knot.port}`, '-rtimeout=2s']);
    k2s = await startKube2Sky(etcd.url, api.url);
  });
  after(async () => {
    await k2s?.stop();
    await sky?.stop();
    await api?.stop();
    await knot?.stop();
    await etcd?.stop();
  });

  test('create: the CNAME question gets the CNAME; the A question the CNAME and the target\'s address', async () => {
    await k('create', 'service', 'externalname', 'ext', '--external-name', 'foo.example.com');
    await waitUntil(async () => (await dig({ port: sky.port, name: NAME, type: 'CNAME' })).answer.length === 1, 10000, 'CNAME in DNS');
    const cname = await dig({ port: sky.port, name: NAME, type: 'CNAME' });
    assert.equal(cname.status, 'NOERROR');
    assert.deepEqual(lines(cname.answer), [`${NAME}. 30 IN CNAME foo.example.com.`]);
    const a = await dig({ port: sky.port, name: NAME });
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(lines(a.answer), [`${NAME}. 30 IN CNAME foo.example.com.`, 'foo.example.com. 30 IN A 192.0.2.10']);
    // The target has no AAAA: the CNAME alone (NOERROR), which a client follows itself.
    const aaaa = await dig({ port: sky.port, name: NAME, type: 'AAAA' });
    assert.equal(aaaa.status, 'NOERROR');
    assert.deepEqual(lines(aaaa.answer), [`${NAME}. 30 IN CNAME foo.example.com.`]);
  });

  test('a new externalName shows within 1 s', async () => {
    const t0 = Date.now();
    await k('patch', 'service', 'ext', '-p', '{"spec":{"externalName":"bar.example.com"}}');
    await waitUntil(async () => (await dig({ port: sky.port, name: NAME, type: 'CNAME' })).answer[0]?.data === 'bar.example.com.', 5000, 'new CNAME');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    const a = await dig({ port: sky.port, name: NAME });
    assert.deepEqual(lines(a.answer), [`${NAME}. 30 IN CNAME bar.example.com.`, 'bar.example.com. 30 IN A 192.0.2.20']);
    const aaaa = await dig({ port: sky.port, name: NAME, type: 'AAAA' });
    assert.deepEqual(lines(aaaa.answer), [`${NAME}. 30 IN CNAME bar.example.com.`, 'bar.example.com. 30 IN AAAA 2001:db8::20']);
  });

  test('ExternalName → ClusterIP → ExternalName: one shape replaces the other, never NXDOMAIN in between', async () => {
    const p = poll(sky.port, NAME);
    try {
      await k('patch', 'service', 'ext', '-p', '{"spec":{"type":"ClusterIP","externalName":null,"ports":[{"name":"http","port":80,"protocol":"TCP"}]}}');
      const ip = JSON.parse(await k('get', 'service', 'ext', '-o', 'json')).spec.clusterIP as string;
      assert.match(ip, /^10\./);
      await waitUntil(async () => (await dig({ port: sky.port, name: NAME })).answer[0]?.type === 'A', 10000, 'A record');
      assert.deepEqual(lines((await dig({ port: sky.port, name: NAME })).answer), [`${NAME}. 30 IN A ${ip}`]);
      const cname = await dig({ port: sky.port, name: NAME, type: 'CNAME' });
      assert.deepEqual([cname.status, cname.answer], ['NOERROR', []], 'no CNAME left');
      const srv = await dig({ port: sky.port, name: `_http._tcp.${NAME}`, type: 'SRV' });
      assert.deepEqual(lines(srv.answer), [`_http._tcp.${NAME}. 30 IN SRV 10 100 80 ${NAME}.`]);

      await k('patch', 'service', 'ext', '-p', '{"spec":{"type":"ExternalName","externalName":"foo.example.com","clusterIP":null,"clusterIPs":null}}');
      await waitUntil(async () => (await dig({ port: sky.port, name: NAME, type: 'CNAME' })).answer.length === 1, 10000, 'CNAME again');
      assert.deepEqual(lines((await dig({ port: sky.port, name: NAME })).answer), [`${NAME}. 30 IN CNAME foo.example.com.`, 'foo.example.com. 30 IN A 192.0.2.10']);
      const gone = await dig({ port: sky.port, name: `_http._tcp.${NAME}`, type: 'SRV' });
      assert.equal(gone.status, 'NXDOMAIN', 'the ClusterIP shape\'s SRV record is gone');
    } finally {
      const rcodes = await p.stop();
      assert.ok((rcodes.get(0) ?? 0) > 100, `answers seen while switching: ${JSON.stringify([...rcodes])}`);
      assert.equal(rcodes.get(3), undefined, `NXDOMAIN while switching: ${JSON.stringify([...rcodes])}`);
    }
  });

  test('glibc follows it: getent hosts with a pod\'s resolv.conf (search list, ndots:5)', async (t) => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return t.skip('needs root: port 53 and a private mount namespace for /etc/resolv.conf');
    // glibc asks port 53 only: a second skydns on a loopback address of its own, same etcd.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'resolv-'));
    const addr = '127.0.0.153';
    const sky53 = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${knot.port}`, `-addr=${addr}:53`]);
    try {
      const conf = path.join(dir, 'resolv.conf');
      await fs.writeFile(conf, `nameserver ${addr}\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 attempts:1 timeout:2\n`);
      const getent = (name: string) => runToExit('unshare', ['-m', '--', 'sh', '-c', `mount --bind "${conf}" /etc/resolv.conf && exec getent hosts ${name}`], { name: 'getent' });
      for (const name of [NAME, 'ext', 'ext.default']) {
        const r = await getent(name);
        assert.equal(r.code, 0, `getent hosts ${name}: ${r.out}`);
        assert.match(r.out, /^192\.0\.2\.10\s+foo\.example\.com\s+/m, `getent hosts ${name}: ${r.out}`);
      }
      const none = await getent('nothere.default.svc.cluster.local');
      assert.equal(none.code, 2, `a missing name: ${none.out}`);
    } finally {
      await sky53.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('every upstream port closed: the A question answers with the CNAME alone, in under 1 s', async () => {
    const closed = [await freeUdpPort(), await freeUdpPort()];
    const down = await startSkyDns(etcd.url, [`-nameservers=${closed.map((p) => `127.0.0.1:${p}`).join(',')}`, '-rtimeout=2s']);
    try {
      const first = await timedAsk(down.port, NAME);
      assert.deepEqual([first.rcode, first.ancount], [0, 1]);
      assert.ok(first.ms < 1000, `took ${first.ms.toFixed(0)} ms`);
      const a = await dig({ port: down.port, name: NAME });
      assert.equal(a.status, 'NOERROR');
      assert.deepEqual(lines(a.answer), [`${NAME}. 30 IN CNAME foo.example.com.`]);
    } finally {
      await down.stop();
    }
  });

  test('forwarding: the first upstream closed, the second answers in under 100 ms; the closed one is then tried last', async () => {
    const closed = await freeUdpPort();
    const fwd = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${closed},127.0.0.1:${knot.port}`, '-rtimeout=2s']);
    try {
      // Distinct names: each one a fresh walk over the upstreams (no answer reused).
      for (const name of ['foo.example.com', 'bar.example.com', 'nothere.example.com']) {
        const r = await timedAsk(fwd.port, name);
        assert.equal(r.rcode, name === 'nothere.example.com' ? 3 : 0, name);
        assert.ok(r.ms < 100, `${name}: ${r.ms.toFixed(1)} ms`);
      }
      const r = await dig({ port: fwd.port, name: 'foo.example.com' });
      assert.deepEqual(lines(r.answer), ['foo.example.com. 300 IN A 192.0.2.10']);
    } finally {
      await fwd.stop();
    }
  });

  test('a silent upstream costs -rtimeout once, then is tried after the others for 30 s', async () => {
    const silent = await silentUpstream();
    const fwd = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${silent.port},127.0.0.1:${knot.port}`, '-rtimeout=400ms']);
    try {
      const first = await timedAsk(fwd.port, 'foo.example.com');
      assert.equal(first.rcode, 0);
      assert.ok(first.ms >= 350, `the first query waited out the silent server: ${first.ms.toFixed(0)} ms`);
      assert.equal(silent.seen.length, 1);
      for (const name of ['bar.example.com', 'nothere.example.com', 'ns.example.com']) {
        const r = await timedAsk(fwd.port, name);
        assert.ok(r.ms < 100, `${name}: ${r.ms.toFixed(1)} ms`);
      }
      assert.equal(silent.seen.length, 1, 'the silent server was not asked again');
    } finally {
      await fwd.stop();
      silent.close();
    }
  });

  test('delete: NXDOMAIN', async () => {
    await k('delete', 'service', 'ext');
    await waitUntil(async () => (await dig({ port: sky.port, name: NAME, type: 'CNAME' })).status === 'NXDOMAIN', 10000, 'NXDOMAIN after delete');
    assert.equal((await dig({ port: sky.port, name: NAME })).status, 'NXDOMAIN');
  });
});
