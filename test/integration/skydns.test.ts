// skydns end to end: a real etcd, the real skydns program with the legacy pod
// arguments, and the real dig over UDP and TCP on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { EtcdProcess, etcdDel, etcdPut, startEtcd } from '../harness/etcd.js';
import { DigRR, dig, nslookup } from '../harness/dig.js';
import { SkyDnsProcess, startSkyDns, SKYDNS_BIN } from '../harness/skydns.js';
import { runToExit, spawnProgram, waitUntil } from '../harness/proc.js';
import { freePort } from '../harness/ports.js';
import { startUpstream, UpstreamServer } from '../harness/upstream.js';
import { TYPE } from '../../lib/skydns/wire.js';
import { loadUdpIo } from '../../lib/skydns/udp-batch.js';
// kube2sky's exact value bytes (A_VALUE: an address leaf, SRV_VALUE: a service port leaf).
import { K2S_A as A_VALUE, K2S_SRV as SRV_VALUE } from '../unit/fixtures/skydns-records.js';

const D = '/skydns/local/cluster';

const lines = (rrs: DigRR[]) => rrs.map((r) => `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`);
const sorted = (rrs: DigRR[]) => lines(rrs).sort();

async function seed(url: string): Promise<void> {
  // kube2sky's records for `kubernetes` (spec kube2sky §2.10 a) and a headless service (c).
  await etcdPut(url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
  await etcdPut(url, `${D}/svc/default/kubernetes/_tcp/_https/c88f1059`, SRV_VALUE('kubernetes.default.svc.cluster.local.', 443));
  for (const [ip, label] of [['10.0.0.1', 'c88f1059'], ['10.0.0.2', '4e756cde']] as const) {
    await etcdPut(url, `${D}/svc/default/testservice/${label}`, A_VALUE(ip));
    await etcdPut(url, `${D}/svc/default/testservice/_tcp/_http1/${label}`, SRV_VALUE(`${label}.testservice.default.svc.cluster.local.`, 80));
  }
  await etcdPut(url, `${D}/pod/default/1-2-3-4/ad70cf0f`, A_VALUE('1.2.3.4'));
  await etcdPut(url, '/skydns/arpa/in-addr/10/0/0/1', '{"host":"kubernetes.default.svc.cluster.local."}');
  await etcdPut(url, `${D}/svc/default/broken/deadbeef`, '{"host":"10.9.9.9","port":"80"}');
  await etcdPut(url, `${D}/svc/default/broken/c0ffee`, A_VALUE('10.9.9.8'));
  await etcdPut(url, `${D}/svc/default/ext/1`, '{"host":"www.example.org","ttl":30}');
}

describe('skydns with the legacy pod arguments', () => {
  let etcd: EtcdProcess;
  let sky: SkyDnsProcess;
  let up: UpstreamServer;

  before(async () => {
    etcd = await startEtcd();
    await seed(etcd.url);
    up = await startUpstream();
    up.add('www.example.org.', TYPE.A, { ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 7) } });
    up.add('outside.example.org.', TYPE.A, { ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 8) } });
    up.add('big.example.org.', TYPE.TXT, { ttl: 300, data: { t: 'txt', strings: [Buffer.alloc(200, 'x'), Buffer.alloc(200, 'y'), Buffer.alloc(200, 'z')] } });
    sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${up.port}`, '-round-robin=false']);
  });
  after(async () => {
    // The watch stream must stay up for the whole suite (a per-call deadline once cut it every 5 s).
    assert.doesNotMatch(sky.prog.output(), /lost connection/);
    await sky?.stop();
    await up?.close();
    await etcd?.stop();
  });

  test('A for a ClusterIP service over UDP and TCP', async () => {
    for (const tcp of [false, true]) {
      const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', tcp });
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(r.flags.sort(), ['aa', 'qr', 'ra', 'rd']);
      assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
      assert.deepEqual(r.authority, []);
    }
  });

  test('qname case is preserved in the answer', async () => {
    const r = await dig({ port: sky.port, name: 'KuBeRnEtEs.default.svc.cluster.local' });
    assert.deepEqual(lines(r.answer), ['KuBeRnEtEs.default.svc.cluster.local. 30 IN A 10.0.0.1']);
    const again = await dig({ port: sky.port, name: 'kubernetes.DEFAULT.svc.cluster.local' });
    assert.deepEqual(lines(again.answer), ['kubernetes.DEFAULT.svc.cluster.local. 30 IN A 10.0.0.1']);
  });

  test('SRV for a named port, with glue', async () => {
    const r = await dig({ port: sky.port, name: '_https._tcp.kubernetes.default.svc.cluster.local', type: 'SRV' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(lines(r.answer), ['_https._tcp.kubernetes.default.svc.cluster.local. 30 IN SRV 10 100 443 kubernetes.default.svc.cluster.local.']);
    assert.deepEqual(lines(r.additional), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
  });

  test('headless service: A gives exactly the endpoints (no CNAME from SRV leaves)', async () => {
    const r = await dig({ port: sky.port, name: 'testservice.default.svc.cluster.local' });
    assert.deepEqual(sorted(r.answer), [
      'testservice.default.svc.cluster.local. 30 IN A 10.0.0.1',
      'testservice.default.svc.cluster.local. 30 IN A 10.0.0.2',
    ]);
    const srv = await dig({ port: sky.port, name: '_http1._tcp.testservice.default.svc.cluster.local', type: 'SRV' });
    assert.deepEqual(sorted(srv.answer), [
      '_http1._tcp.testservice.default.svc.cluster.local. 30 IN SRV 10 50 80 4e756cde.testservice.default.svc.cluster.local.',
      '_http1._tcp.testservice.default.svc.cluster.local. 30 IN SRV 10 50 80 c88f1059.testservice.default.svc.cluster.local.',
    ]);
    assert.deepEqual(sorted(srv.additional), [
      '4e756cde.testservice.default.svc.cluster.local. 30 IN A 10.0.0.2',
      'c88f1059.testservice.default.svc.cluster.local. 30 IN A 10.0.0.1',
    ]);
  });

  test('pod A record', async () => {
    const r = await dig({ port: sky.port, name: '1-2-3-4.default.pod.cluster.local' });
    assert.deepEqual(lines(r.answer), ['1-2-3-4.default.pod.cluster.local. 30 IN A 1.2.3.4']);
  });

  test('NXDOMAIN and NODATA carry the SOA with min_ttl', async () => {
    const nx = await dig({ port: sky.port, name: 'nope.default.svc.cluster.local' });
    assert.equal(nx.status, 'NXDOMAIN');
    assert.deepEqual(nx.answer, []);
    assert.equal(nx.authority.length, 1);
    assert.match(lines(nx.authority)[0], /^cluster\.local\. 60 IN SOA ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 28800 7200 604800 60$/);
    const nodata = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', type: 'AAAA' });
    assert.equal(nodata.status, 'NOERROR');
    assert.deepEqual(nodata.answer, []);
    assert.equal(nodata.authority[0].type, 'SOA');
    assert.equal(nodata.authority[0].ttl, 60);
    // `/a` never matches `/ab`
    const prefix = await dig({ port: sky.port, name: 'kube.default.svc.cluster.local' });
    assert.equal(prefix.status, 'NXDOMAIN');
  });

  test('SOA at the apex; ANY is refused', async () => {
    const soa = await dig({ port: sky.port, name: 'cluster.local', type: 'SOA' });
    assert.equal(soa.status, 'NOERROR');
    const serial = Math.floor(Date.now() / 1000);
    const hour = serial - (serial % 3600);
    assert.deepEqual(lines(soa.answer), [`cluster.local. 3600 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. ${hour} 28800 7200 604800 60`]);
    const any = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', type: 'ANY' });
    assert.equal(any.status, 'REFUSED');
    assert.deepEqual(any.answer, []);
  });

  test('PTR from /skydns/arpa', async () => {
    const r = await dig({ port: sky.port, name: '1.0.0.10.in-addr.arpa', type: 'PTR' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(lines(r.answer), ['1.0.0.10.in-addr.arpa. 3600 IN PTR kubernetes.default.svc.cluster.local.']);
  });

  test('a bad JSON value is skipped; its siblings still answer', async () => {
    const r = await dig({ port: sky.port, name: 'broken.default.svc.cluster.local' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(lines(r.answer), ['broken.default.svc.cluster.local. 30 IN A 10.9.9.8']);
    assert.match(sky.prog.output(), /bad record at \/skydns\/local\/cluster\/svc\/default\/broken\/deadbeef: field "port" is a JSON string, want a number/);
  });

  test('CNAME to an out-of-zone name is chased upstream (TTL forced to rcache-ttl)', async () => {
    const r = await dig({ port: sky.port, name: 'ext.default.svc.cluster.local' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(lines(r.answer), [
      'ext.default.svc.cluster.local. 30 IN CNAME www.example.org.',
      'www.example.org. 30 IN A 192.0.2.7',
    ]);
  });

  test('out-of-zone names are forwarded over the client transport', async () => {
    up.log.length = 0;
    const r = await dig({ port: sky.port, name: 'outside.example.org' });
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(lines(r.answer), ['outside.example.org. 300 IN A 192.0.2.8']);
    const t = await dig({ port: sky.port, name: 'outside.example.org', tcp: true });
    assert.deepEqual(lines(t.answer), ['outside.example.org. 300 IN A 192.0.2.8']);
    assert.deepEqual(up.log, ['udp outside.example.org. 1', 'tcp outside.example.org. 1']);
    const nx = await dig({ port: sky.port, name: 'missing.example.org' });
    assert.equal(nx.status, 'NXDOMAIN');
  });

  test('a truncated upstream reply is relayed with TC; dig retries over TCP', async () => {
    up.mode = 'truncate';
    try {
      up.log.length = 0;
      const r = await dig({ port: sky.port, name: 'outside.example.org' });
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(lines(r.answer), ['outside.example.org. 300 IN A 192.0.2.8']);
      assert.deepEqual(up.log, ['udp outside.example.org. 1', 'tcp outside.example.org. 1']);
    } finally {
      up.mode = 'answer';
    }
  });

  test('forwarding failing on every upstream answers SERVFAIL (not silence)', async () => {
    up.mode = 'drop';
    try {
      const t0 = Date.now();
      const r = await dig({ port: sky.port, name: 'dropped.example.org', extra: ['+time=8'] });
      assert.equal(r.status, 'SERVFAIL');
      assert.ok(r.flags.includes('ra'));
      assert.ok(Date.now() - t0 < 7000, 'SERVFAIL arrives after the upstream timeouts, before the client gives up');
    } finally {
      up.mode = 'answer';
    }
  });

  test('single-label names are not forwarded (ndots)', async () => {
    up.log.length = 0;
    const r = await dig({ port: sky.port, name: 'localhost' });
    assert.equal(r.status, 'SERVFAIL');
    assert.deepEqual(up.log, []);
  });

  test('nslookup (the exec-healthz probe command) succeeds', async () => {
    const r = await nslookup('kubernetes.default.svc.cluster.local', '127.0.0.1', sky.port);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Address: 10\.0\.0\.1/);
  });

  test('an etcd change is visible in answers', async () => {
    await etcdPut(etcd.url, `${D}/svc/default/fresh/abcd1234`, A_VALUE('10.0.0.77'));
    await waitUntil(async () => (await dig({ port: sky.port, name: 'fresh.default.svc.cluster.local' })).answer.length === 1, 5000, 'new record answered');
    const r = await dig({ port: sky.port, name: 'fresh.default.svc.cluster.local' });
    assert.deepEqual(lines(r.answer), ['fresh.default.svc.cluster.local. 30 IN A 10.0.0.77']);
    await etcdDel(etcd.url, `${D}/svc/default/fresh/abcd1234`);
    await waitUntil(async () => (await dig({ port: sky.port, name: 'fresh.default.svc.cluster.local' })).status === 'NXDOMAIN', 5000, 'deleted record gone');
  });

  test('metrics use the SkyDNS names; /healthz and /readyz answer', async () => {
    await dig({ port: sky.port, name: 'nope2.default.svc.cluster.local' });
    const m = await sky.httpGet('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /^skydns_skydns_dns_request_count_total\{system="auth"\} \d+/m);
    assert.match(m.body, /^skydns_skydns_dns_request_count_total\{system="recursive"\} \d+/m);
    assert.match(m.body, /^skydns_skydns_dns_error_count_total\{system="auth",cause="nxdomain"\} \d+/m);
    assert.match(m.body, /^skydns_skydns_dns_request_duration_seconds_bucket\{le="0.001",system="auth"\} \d+/m);
    assert.match(m.body, /^skydns_skydns_dns_response_size_bytes_bucket\{le="512",system="auth"\} \d+/m);
    assert.match(m.body, /^skydns_skydns_etcd_synced 1$/m);
    assert.match(m.body, /^skydns_skydns_staleness_seconds 0$/m);
    assert.match(m.body, /^skydns_skydns_records 1\d$/m);
    // kubernetes.default.svc.cluster.local was asked many times above: served from the answer cache.
    assert.match(m.body, /^skydns_skydns_answer_cache_hits_total [1-9]\d*$/m);
    assert.deepEqual(await sky.httpGet('/healthz'), { status: 200, body: 'ok' });
    assert.deepEqual(await sky.httpGet('/readyz'), { status: 200, body: 'ok' });
    assert.equal((await sky.httpGet('/nope')).status, 404);
  });

  test('malformed packets get FORMERR or silence, and the server keeps answering', async () => {
    const sock = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, sky.port, '127.0.0.1', () => r()));
    const hdr = (id: number, qd: number) => {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(id, 0);
      b.writeUInt16BE(0x0100, 2);
      b.writeUInt16BE(qd, 4);
      return b;
    };
    await send(Buffer.from([1, 2, 3])); // short: silence
    await send(hdr(0x1111, 0)); // QDCOUNT 0 → FORMERR
    await send(Buffer.concat([hdr(0x2222, 1), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])); // pointer loop → FORMERR
    await send(Buffer.concat([hdr(0x3333, 1), Buffer.from([5, 0x61, 0x62])])); // truncated label → FORMERR
    await send(Buffer.concat([hdr(0x4444, 2), Buffer.from([0, 0, 1, 0, 1, 0, 0, 1, 0, 1])])); // QDCOUNT 2 → FORMERR
    const resp = hdr(0x5555, 1);
    resp.writeUInt16BE(0x8100, 2);
    await send(Buffer.concat([resp, Buffer.from([0, 0, 1, 0, 1])])); // a response: silence
    await waitUntil(() => replies.length >= 4, 3000, 'FORMERR replies');
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    const got = replies.map((b) => `${b.readUInt16BE(0).toString(16)} rcode=${b[3] & 0xf} qr=${b[2] >> 7}`).sort();
    assert.deepEqual(got, ['1111 rcode=1 qr=1', '2222 rcode=1 qr=1', '3333 rcode=1 qr=1', '4444 rcode=1 qr=1']);

    // TCP: a huge length prefix with no body, and a client that never sends anything.
    const c1 = net.connect(sky.port, '127.0.0.1');
    const c2 = net.connect(sky.port, '127.0.0.1');
    await Promise.all([c1, c2].map((c) => new Promise((r) => c.once('connect', r))));
    c1.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', tcp: true });
    assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
    const u = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' });
    assert.deepEqual(lines(u.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
    c1.destroy();
    c2.destroy();
  });

  test('large answers: TC over UDP at 512 bytes, full answer over TCP', async () => {
    const puts: Promise<void>[] = [];
    for (let i = 1; i <= 60; i++) puts.push(etcdPut(etcd.url, `${D}/svc/default/big/${i.toString(16).padStart(8, '0')}`, A_VALUE(`10.1.0.${i}`)));
    await Promise.all(puts);
    await waitUntil(async () => (await dig({ port: sky.port, name: 'big.default.svc.cluster.local', tcp: true })).answer.length === 60, 5000, '60 records');
    const udp = await dig({ port: sky.port, name: 'big.default.svc.cluster.local', extra: ['+ignore', '+noedns'] });
    assert.ok(udp.flags.includes('tc'), `flags ${udp.flags}`);
    // 12 header + 35 question + 16 bytes per compressed A record ≤ 512 → 29 records
    assert.equal(udp.answer.length, 29);
    const edns = await dig({ port: sky.port, name: 'big.default.svc.cluster.local', extra: ['+bufsize=4096'] });
    assert.ok(!edns.flags.includes('tc'));
    assert.equal(edns.answer.length, 60);
  });
});

describe('skydns and etcd failures', () => {
  test('etcd unreachable at start: SERVFAIL in zone (never NXDOMAIN), answers once etcd is up', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
    await etcd.kill();
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1'], { waitReady: false });
    try {
      const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' });
      assert.equal(r.status, 'SERVFAIL');
      const ready = await sky.httpGet('/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /not ready: records not read from etcd yet/);
      await etcd.restart();
      await waitUntil(async () => (await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' })).status === 'NOERROR', 20000, 'answers after etcd came up');
      // Ready once the query path has been warmed up on the records (a fraction of a second).
      await waitUntil(async () => (await sky.httpGet('/readyz')).status === 200, 5000, '/readyz 200 after the warm-up');
      assert.match(sky.prog.output(), /query path warmed up with \d+ answers from the records in \d+ ms/);
    } finally {
      await sky.stop();
      await etcd.stop();
    }
  });

  test('etcd going away keeps answers flowing from the last snapshot; changes resume after it returns', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
    try {
      await etcd.kill();
      for (let i = 0; i < 5; i++) {
        const r = await dig({ port: sky.port, name: `kubernetes.default.svc.cluster.local` });
        assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
      }
      await waitUntil(async () => /^skydns_skydns_etcd_connected 0$/m.test((await sky.httpGet('/metrics')).body), 15000, 'disconnection noticed');
      await waitUntil(async () => {
        const m = /^skydns_skydns_staleness_seconds ([\d.e+-]+)$/m.exec((await sky.httpGet('/metrics')).body);
        return m !== null && Number(m[1]) > 0;
      }, 5000, 'staleness > 0');
      assert.equal((await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' })).status, 'NOERROR');
      await etcd.restart();
      await etcdPut(etcd.url, `${D}/svc/default/after/abcd`, A_VALUE('10.0.0.99'));
      await waitUntil(async () => (await dig({ port: sky.port, name: 'after.default.svc.cluster.local' })).answer.length === 1, 20000, 'record written after etcd returned');
      await waitUntil(async () => /^skydns_skydns_etcd_connected 1$/m.test((await sky.httpGet('/metrics')).body), 5000, 'reconnected');
    } finally {
      await sky.stop();
      await etcd.stop();
    }
  });
});

describe('skydns command line', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => runToExit(process.execPath, [SKYDNS_BIN, ...args], { name: 'skydns-cli', env });

  test('-version', async () => {
    const r = await run(['-version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^skydns server version: 2\.5\.3a \(kube-dns-ts [\d.]+\)\n$/);
  });

  test('bad flags exit 2 with a clear first line', async () => {
    for (const [args, msg] of [
      [['-bogus'], 'skydns: flag provided but not defined: -bogus'],
      [['-addr=nonsense'], 'skydns: "nonsense" is not an ip:port address'],
      [['-addr=127.0.0.1:99999'], 'skydns: "127.0.0.1:99999": port must be 1-65535'],
      [['-nameservers=dns.google:53'], 'skydns: "dns.google:53": "dns.google" is not an IP address'],
      [['-ndots=x'], 'skydns: invalid value "x" for flag -ndots: parse error'],
      [['-rtimeout=5'], 'skydns: invalid value "5" for flag -rtimeout: parse error'],
      [['-machines=ftp://x'], 'skydns: -machines: "ftp://x" must be an http:// or https:// URL'],
      [['-udp-io=fast'], 'skydns: -udp-io: "fast" is not one of auto, batch, dgram'],
      [['-workers=many'], 'skydns: -workers: "many" is neither a number nor "auto"'],
      [['-tcp-io-timeout=0'], 'skydns: -tcp-io-timeout must be longer than 0'],
      [['-tcp-max-conns=0'], 'skydns: -tcp-max-conns must be at least 1'],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 2, `${args}: ${r.out}`);
      assert.equal(r.out.split('\n')[0], msg);
    }
  });

  test('PROMETHEUS_PORT=tcp://... (a kubelet service variable) does not crash it', async () => {
    const etcd = await startEtcd();
    const port = await freePort();
    const p = spawnProgram(process.execPath, [SKYDNS_BIN, `-machines=${etcd.url}`, `-addr=127.0.0.1:${port}`, '-domain=cluster.local.'], {
      name: 'skydns-prom',
      env: { PROMETHEUS_PORT: 'tcp://10.0.0.5:9090' },
    });
    try {
      await p.waitFor(/PROMETHEUS_PORT="tcp:\/\/10\.0\.0\.5:9090" is not a port number/, 10000);
      await p.waitFor(/ready for queries/, 10000);
      // Listening comes before the first read of the records (SERVFAIL until then).
      await p.waitFor(/etcd: read \d+ keys/, 10000);
      const r = await dig({ port, name: 'cluster.local', type: 'SOA' });
      assert.equal(r.status, 'NOERROR');
    } finally {
      await p.stop();
      await etcd.stop();
    }
  });

  test('-addr=[::1]:port serves IPv6 clients over UDP and TCP', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
    const port = await freePort();
    const p = spawnProgram(process.execPath, [SKYDNS_BIN, `-machines=${etcd.url}`, `-addr=[::1]:${port}`, '-domain=cluster.local.', '-nameservers=127.0.0.1:1'], { name: 'skydns-v6' });
    try {
      await p.waitFor(/ready for queries on cluster\.local\. for tcp\/udp \[::1\]:/, 10000);
      await waitUntil(async () => (await dig({ server: '::1', port, name: 'kubernetes.default.svc.cluster.local' })).status === 'NOERROR', 10000, 'answers');
      // Twice over UDP: the second answer comes from the encoded-answer cache.
      for (const tcp of [false, false, true]) {
        const r = await dig({ server: '::1', port, name: 'kubernetes.default.svc.cluster.local', tcp });
        assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1'], `tcp=${tcp}`);
      }
    } finally {
      await p.stop();
      await etcd.stop();
    }
  });

  test('-udp-io: batched I/O when the module is built (the default), Node\'s dgram on request; both answer', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
    const built = loadUdpIo().io !== null;
    try {
      for (const [args, line] of [
        [[], built ? /\[rcache 0; batched UDP I\/O\]/ : /Node's dgram for UDP/],
        [['-udp-io=dgram'], /\[rcache 0; Node's dgram for UDP \(-udp-io=dgram\)\]/],
        ...(built ? [[['-udp-io=batch'], /\[rcache 0; batched UDP I\/O\]/] as const] : []),
      ] as const) {
        const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-rtimeout=200ms', ...args]);
        try {
          assert.match(sky.prog.output(), line);
          for (const tcp of [false, true]) {
            const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', tcp });
            assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1'], `${args} tcp=${tcp}`);
          }
          assert.equal((await dig({ port: sky.port, name: 'nothere.default.svc.cluster.local' })).status, 'NXDOMAIN');
          assert.equal((await dig({ port: sky.port, name: 'www.example.org' })).status, 'SERVFAIL', 'forwarded (to a closed port)');
        } finally {
          await sky.stop();
        }
      }
    } finally {
      await etcd.stop();
    }
  });

  test('/skydns/config is merged over the flags', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, '/skydns/config', '{"domain":"example.test.","ttl":77,"min_ttl":11,"no_rec":true,"bogus":1}');
    await etcdPut(etcd.url, '/skydns/test/example/x/1', '{"host":"10.1.1.1"}');
    const port = await freePort();
    const p = spawnProgram(process.execPath, [SKYDNS_BIN, `-machines=${etcd.url}`, `-addr=127.0.0.1:${port}`, '-domain=cluster.local.'], { name: 'skydns-config' });
    try {
      await p.waitFor(/ready for queries on example\.test\./, 10000);
      await waitUntil(async () => (await dig({ port, name: 'x.example.test' })).status === 'NOERROR', 10000, 'answers');
      const r = await dig({ port, name: 'x.example.test' });
      assert.deepEqual(lines(r.answer), ['x.example.test. 77 IN A 10.1.1.1']);
      const nx = await dig({ port, name: 'y.example.test' });
      assert.equal(nx.authority[0].ttl, 11);
      const fwd = await dig({ port, name: 'www.example.org' });
      assert.equal(fwd.status, 'SERVFAIL');
      assert.ok(!fwd.flags.includes('ra'));
      assert.match(p.output(), /ignoring unknown or unsupported keys: bogus/);
    } finally {
      await p.stop();
      await etcd.stop();
    }
  });
});

describe('skydns -workers=2', () => {
  test('two processes share the sockets, metrics are merged, a dead worker is replaced', async () => {
    const etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-workers=2']);
    try {
      for (let i = 0; i < 20; i++) {
        const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', tcp: i % 2 === 1 });
        assert.deepEqual(lines(r.answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
      }
      const total = async () => {
        const m = /^skydns_skydns_dns_request_count_total\{system="auth"\} (\d+)$/m.exec((await sky.httpGet('/metrics')).body);
        return m ? Number(m[1]) : -1;
      };
      await waitUntil(async () => (await total()) === 20, 5000, 'merged request count of 20');
      const body = (await sky.httpGet('/metrics')).body;
      assert.match(body, /^skydns_skydns_workers 2$/m);
      assert.match(body, /^skydns_skydns_etcd_synced 1$/m);
      // Kill one worker: the primary starts another, and answers keep coming.
      const kids = (await import('node:fs')).readFileSync(`/proc/${sky.prog.pid}/task/${sky.prog.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      assert.equal(kids.length, 2);
      process.kill(kids[0], 'SIGKILL');
      await waitUntil(async () => (await sky.httpGet('/readyz')).status === 503, 5000, 'readyz notices the missing worker');
      await waitUntil(async () => (await sky.httpGet('/readyz')).status === 200, 15000, 'replacement worker ready');
      const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' });
      assert.equal(r.status, 'NOERROR');
      assert.match(sky.prog.output(), /worker \d+ exited \(SIGKILL\); starting another/);
    } finally {
      await sky.stop();
      await etcd.stop();
    }
  });
});

describe('skydns stub zones and the response cache', () => {
  test('-stubzones forwards a zone to its servers with the loop-guard option; a looping query is dropped', async () => {
    const etcd = await startEtcd();
    const up = await startUpstream();
    up.add('www.corp.example.', TYPE.A, { ttl: 120, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 44) } });
    await etcdPut(etcd.url, `${D}/dns/stub/example/corp/ns1`, `{"host":"127.0.0.1","port":${up.port}}`);
    const sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-stubzones']);
    try {
      const r = await dig({ port: sky.port, name: 'www.corp.example' });
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(lines(r.answer), ['www.corp.example. 120 IN A 192.0.2.44']);
      assert.deepEqual(up.log, ['udp www.corp.example. 1']);
      // A query already carrying option 65011 has been through a stub forwarder: no answer.
      const loop = await dig({ port: sky.port, name: 'www.corp.example', extra: ['+ednsopt=65011:01', '+time=1'] });
      assert.equal(loop.status, 'TIMEOUT');
      assert.match(sky.prog.output(), /stub forward loop detected for www\.corp\.example\./);
      // Every stub server failing → SERVFAIL.
      up.mode = 'drop';
      const dead = await dig({ port: sky.port, name: 'other.corp.example', extra: ['+time=8'] });
      assert.equal(dead.status, 'SERVFAIL');
    } finally {
      await sky.stop();
      await up.close();
      await etcd.stop();
    }
  });

  test('-rcache keeps forwarded answers for -rcache-ttl; SERVFAIL is not cached', async () => {
    const etcd = await startEtcd();
    const up = await startUpstream();
    up.add('cached.example.org.', TYPE.A, { ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 55) } });
    const sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${up.port}`, '-rcache=100', '-rcache-ttl=30']);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await dig({ port: sky.port, name: 'cached.example.org' });
        assert.deepEqual(lines(r.answer), ['cached.example.org. 300 IN A 192.0.2.55']);
      }
      assert.deepEqual(up.log, ['udp cached.example.org. 1']);
      up.mode = 'servfail';
      for (let i = 0; i < 2; i++) assert.equal((await dig({ port: sky.port, name: 'failing.example.org' })).status, 'SERVFAIL');
      // Each SERVFAIL is retried once on the same server, and nothing is cached: 2 queries × 2 attempts.
      assert.deepEqual(up.log.slice(1), ['udp failing.example.org. 1', 'udp failing.example.org. 1', 'udp failing.example.org. 1', 'udp failing.example.org. 1']);
      const m = (await sky.httpGet('/metrics')).body;
      assert.match(m, /^skydns_skydns_dns_request_count_total\{system="cache"\} 2$/m);
    } finally {
      await sky.stop();
      await up.close();
      await etcd.stop();
    }
  });
});
