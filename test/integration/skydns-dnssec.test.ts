// skydns -dnssec end to end: keys made by BIND's dnssec-keygen, records in a
// real etcd as kube2sky writes them, the real skydns program on loopback, and
// its answers judged by two real validators (BIND's delv, Unbound's
// unbound-host) given the zone's trust anchor — and shown to fail when a
// signature is altered or removed or the anchor is another key's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdProcess, etcdPut, startEtcd } from '../harness/etcd.js';
import { DigRR, dig } from '../harness/dig.js';
import { SkyDnsProcess, startSkyDns, SKYDNS_BIN } from '../harness/skydns.js';
import { runToExit, waitUntil } from '../harness/proc.js';
import { startUpstream, UpstreamServer } from '../harness/upstream.js';
import { TestKey, Validation, delv, makeKey, tamperingProxy, unboundHost } from '../harness/dnssec.js';
import { TYPE } from '../../lib/skydns/wire.js';
// kube2sky's exact value bytes (A_VALUE: an address leaf, SRV_VALUE: a service port leaf).
import { K2S_A as A_VALUE, K2S_SRV as SRV_VALUE } from '../unit/fixtures/skydns-records.js';

const D = '/skydns/local/cluster';

async function seed(url: string): Promise<void> {
  await etcdPut(url, `${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.1'));
  await etcdPut(url, `${D}/svc/default/kubernetes/_tcp/_https/c88f1059`, SRV_VALUE('kubernetes.default.svc.cluster.local.', 443));
  for (const [ip, label] of [['10.0.0.11', 'c88f1059'], ['10.0.0.12', '4e756cde']] as const) {
    await etcdPut(url, `${D}/svc/default/testservice/${label}`, A_VALUE(ip));
    await etcdPut(url, `${D}/svc/default/testservice/_tcp/_http1/${label}`, SRV_VALUE(`${label}.testservice.default.svc.cluster.local.`, 80));
  }
  await etcdPut(url, `${D}/svc/default/alias/1`, '{"host":"kubernetes.default.svc.cluster.local.","ttl":30}');
  await etcdPut(url, `${D}/svc/default/six/1`, '{"host":"fd00::6","ttl":30}');
  await etcdPut(url, `${D}/svc/default/text/1`, '{"text":"hello from etcd","ttl":30}');
  await etcdPut(url, `${D}/dns/ns/ns1`, '{"host":"10.0.0.53","ttl":30}');
  for (let i = 1; i <= 40; i++) await etcdPut(url, `${D}/svc/default/big/${i}`, A_VALUE(`10.1.0.${i}`));
  await etcdPut(url, '/skydns/arpa/in-addr/10/0/0/1', '{"host":"kubernetes.default.svc.cluster.local."}');
}

const rrsigs = (rrs: DigRR[]) => rrs.filter((r) => r.type === 'RRSIG');
const assertSecure = (v: Validation, what: string) => assert.ok(v.secure, `${what} not validated:\n${v.out}`);

describe('skydns -dnssec, judged by delv and unbound-host', () => {
  let etcd: EtcdProcess;
  let up: UpstreamServer;
  let dir: string;
  let ecdsa: TestKey;
  let rsa: TestKey;
  let other: TestKey;
  let sky: SkyDnsProcess;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skydns-dnssec-'));
    [ecdsa, rsa] = await Promise.all([makeKey(dir, 'ECDSAP256SHA256', 'cluster.local', true), makeKey(dir, 'RSASHA256')]);
    other = await makeKey(fs.mkdtempSync(path.join(dir, 'other-')), 'ECDSAP256SHA256');
    etcd = await startEtcd();
    await seed(etcd.url);
    up = await startUpstream();
    up.add('www.example.org.', TYPE.A, { ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 7) } });
    sky = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${up.port}`, `-dnssec=${ecdsa.base}`]);
  });
  after(async () => {
    await sky?.stop();
    await up?.close();
    await etcd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the start-up line names the key', () => {
    assert.match(sky.prog.output(), new RegExp(`ready for queries on cluster\\.local\\. .*, signing with ${ecdsa.base.replace(/[.+]/g, '\\$&')} \\[scache 10000\\]`));
  });

  const positive: [string, string][] = [
    ['cluster.local', 'DNSKEY'],
    ['cluster.local', 'SOA'],
    ['cluster.local', 'NS'],
    ['kubernetes.default.svc.cluster.local', 'A'],
    ['KuBeRnEtEs.Default.svc.cluster.local', 'A'],
    ['testservice.default.svc.cluster.local', 'A'],
    ['_https._tcp.kubernetes.default.svc.cluster.local', 'SRV'],
    ['_http1._tcp.testservice.default.svc.cluster.local', 'SRV'],
    ['alias.default.svc.cluster.local', 'A'],
    ['six.default.svc.cluster.local', 'AAAA'],
    ['text.default.svc.cluster.local', 'TXT'],
    ['*.default.svc.cluster.local', 'A'],
  ];
  const negative: [string, string, string][] = [
    ['nothere.default.svc.cluster.local', 'A', 'NXDOMAIN'],
    ['a.b.nothere.cluster.local', 'AAAA', 'NXDOMAIN'],
    ['kubernetes.default.svc.cluster.local', 'AAAA', 'NOERROR'],
    ['six.default.svc.cluster.local', 'A', 'NOERROR'],
    ['kubernetes.default.svc.cluster.local', 'TXT', 'NOERROR'],
    ['kubernetes.default.svc.cluster.local', 'DS', 'NOERROR'],
    ['default.svc.cluster.local', 'MX', 'NOERROR'],
  ];

  test('positive answers of every kind validate (delv over UDP and TCP, unbound-host)', async () => {
    for (const [name, type] of positive) {
      for (const tcp of [false, true]) assertSecure(await delv(sky.port, ecdsa, name, type, { tcp, dir }), `delv${tcp ? ' +tcp' : ''} ${name} ${type}`);
      assertSecure(await unboundHost(sky.port, ecdsa, name, type, { dir }), `unbound-host ${name} ${type}`);
    }
  });

  test('NXDOMAIN and NODATA proofs validate (the NODATA bitmap never lists the asked type)', async () => {
    for (const [name, type, status] of negative) {
      const d = await dig({ port: sky.port, name, type, extra: ['+dnssec'] });
      assert.equal(d.status, status, `${name} ${type}`);
      assert.ok(d.authority.some((r) => r.type === 'NSEC3'), `${name} ${type}: NSEC3 in the authority section:\n${d.raw}`);
      assertSecure(await delv(sky.port, ecdsa, name, type, { dir }), `delv ${name} ${type}`);
      assertSecure(await unboundHost(sky.port, ecdsa, name, type, { dir }), `unbound-host ${name} ${type}`);
    }
  });

  test('repeated signed NXDOMAIN answers keep validating with both caches on (SkyDNS issue #80)', async () => {
    const withCache = await startSkyDns(etcd.url, [`-nameservers=127.0.0.1:${up.port}`, `-dnssec=${ecdsa.base}`, '-rcache=1000']);
    try {
      for (let i = 0; i < 4; i++) assertSecure(await delv(withCache.port, ecdsa, 'gone.default.svc.cluster.local', 'A', { dir }), `round ${i}`);
    } finally {
      await withCache.stop();
    }
  });

  test('RRSIG fields: algorithm, labels, original TTL, validity, key tag, signer; AD and the 4096 OPT', async () => {
    const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', extra: ['+dnssec'] });
    assert.ok(r.flags.includes('ad'), r.raw);
    assert.match(r.raw, /; EDNS: version: 0, flags: do; udp: 4096/);
    const [sig] = rrsigs(r.answer);
    assert.ok(sig, r.raw);
    const f = sig.data.split(' ');
    // type-covered algorithm labels original-ttl expiration inception key-tag signer signature
    assert.deepEqual(f.slice(0, 4), ['A', '13', '5', '3600']);
    const time = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14)) / 1000;
    const now = Date.now() / 1000;
    assert.ok(Math.abs(time(f[5]) - (now - 3 * 3600)) < 120, `inception ${f[5]}`);
    assert.ok(Math.abs(time(f[4]) - (now + 7 * 86400)) < 120, `expiration ${f[4]}`);
    assert.equal(Number(f[6]), ecdsa.tag);
    assert.equal(f[7], 'cluster.local.');
    assert.equal(sig.ttl, 30, 'the RRSIG has the TTL of its set');
    // The owner keeps the question's case; the SkyDNS wildcard echo has one label less.
    const mixed = await dig({ port: sky.port, name: 'KuBeRnEtEs.default.svc.cluster.local', extra: ['+dnssec'] });
    assert.equal(rrsigs(mixed.answer)[0].name, 'KuBeRnEtEs.default.svc.cluster.local.');
    const wild = await dig({ port: sky.port, name: '*.default.svc.cluster.local', extra: ['+dnssec'] });
    assert.equal(wild.status, 'NOERROR');
    assert.equal(rrsigs(wild.answer)[0]?.data.split(' ')[2], '4', wild.raw);
  });

  test('no DNSSEC records, no AD and the usual OPT without the DO bit; DNSKEY is answered all the same', async () => {
    for (const edns of [[], ['+edns=0', '+nodnssec']]) {
      const r = await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local', extra: edns });
      assert.deepEqual(r.answer.map((a) => a.type), ['A']);
      assert.ok(!r.flags.includes('ad'));
      const nx = await dig({ port: sky.port, name: 'nothere.default.svc.cluster.local', extra: edns });
      assert.deepEqual(nx.authority.map((a) => a.type), ['SOA']);
    }
    const k = await dig({ port: sky.port, name: 'cluster.local', type: 'DNSKEY' });
    assert.deepEqual(k.answer.map((a) => `${a.name} ${a.ttl} ${a.type}`), ['cluster.local. 3600 DNSKEY']);
    assert.equal(k.answer[0].data.replace(/ /g, ''), `${ecdsa.dnskey.flags}${ecdsa.dnskey.protocol}${ecdsa.dnskey.algorithm}${ecdsa.dnskey.key}`);
  });

  test('PTR, CHAOS and forwarded answers are not signed', async () => {
    const ptr = await dig({ port: sky.port, name: '1.0.0.10.in-addr.arpa', type: 'PTR', extra: ['+dnssec'] });
    assert.deepEqual(ptr.answer.map((a) => a.type), ['PTR']);
    const fwd = await dig({ port: sky.port, name: 'www.example.org', extra: ['+dnssec'] });
    assert.deepEqual(fwd.answer.map((a) => a.type), ['A']);
    assert.ok(!fwd.flags.includes('ad'));
    const ch = await dig({ port: sky.port, name: 'cluster.local', type: 'TXT', extra: ['+dnssec', '-c', 'CH'] });
    assert.ok(ch.answer.length > 0 && rrsigs(ch.answer).length === 0, ch.raw);
  });

  test('an altered signature, stripped signatures and a wrong anchor all fail validation', async () => {
    for (const mode of ['flip-signature', 'drop-signatures'] as const) {
      const proxy = await tamperingProxy(sky.port, mode);
      try {
        for (const [name, type] of [['kubernetes.default.svc.cluster.local', 'A'], ['nothere.default.svc.cluster.local', 'A'], ['kubernetes.default.svc.cluster.local', 'AAAA']]) {
          // delv retries unsigned answers for 12 s before it gives up: once is enough to show it.
          if (mode === 'flip-signature' || type === 'A' && name.startsWith('kubernetes')) {
            const d = await delv(proxy.port, ecdsa, name, type, { dir });
            assert.ok(!d.secure && d.failed, `${mode}: delv accepted ${name} ${type}:\n${d.out}`);
          }
          const u = await unboundHost(proxy.port, ecdsa, name, type, { dir });
          assert.ok(!u.secure && u.failed, `${mode}: unbound-host accepted ${name} ${type}:\n${u.out}`);
        }
      } finally {
        proxy.close();
      }
      // Through the proxy, the DNSKEY itself still validates: the failures above are the answers' own.
      if (mode === 'flip-signature') {
        const proxy2 = await tamperingProxy(sky.port, mode);
        try {
          assertSecure(await delv(proxy2.port, ecdsa, 'cluster.local', 'DNSKEY', { dir }), 'DNSKEY through the proxy');
        } finally {
          proxy2.close();
        }
      }
    }
    const wrong = await delv(sky.port, other, 'kubernetes.default.svc.cluster.local', 'A', { dir });
    assert.ok(!wrong.secure && wrong.failed, wrong.out);
    const wrongU = await unboundHost(sky.port, other, 'kubernetes.default.svc.cluster.local', 'A', { dir });
    assert.ok(!wrongU.secure && wrongU.failed, wrongU.out);
  });

  test('a record changed in etcd validates with its new data within a second (every record type)', async () => {
    const changes: [string, string, string, string, RegExp][] = [
      [`${D}/svc/default/kubernetes/c88f1059`, A_VALUE('10.0.0.99'), 'kubernetes.default.svc.cluster.local', 'A', /\bA\s+10\.0\.0\.99\b/],
      [`${D}/svc/default/kubernetes/_tcp/_https/c88f1059`, SRV_VALUE('kubernetes.default.svc.cluster.local.', 8443), '_https._tcp.kubernetes.default.svc.cluster.local', 'SRV', /\bSRV\s+10 100 8443 /],
      [`${D}/svc/default/text/1`, '{"text":"changed text","ttl":30}', 'text.default.svc.cluster.local', 'TXT', /"changed text"/],
      [`${D}/svc/default/alias/1`, '{"host":"testservice.default.svc.cluster.local.","ttl":30}', 'alias.default.svc.cluster.local', 'A', /CNAME\s+testservice\.default/],
    ];
    for (const [key, value, name, type, want] of changes) {
      await etcdPut(etcd.url, key, value);
      const t0 = Date.now();
      let last: Validation | null = null;
      await waitUntil(async () => {
        last = await delv(sky.port, ecdsa, name, type, { dir });
        return last.secure && want.test(last.out);
      }, 5000, `${name} ${type} after the change`);
      assert.ok(Date.now() - t0 < 1500, `${name}: ${Date.now() - t0} ms`);
    }
  });

  test('signatures come from the signature cache (ECDSA signatures are random: identical bytes prove reuse)', async () => {
    const noAnswerCache = await startSkyDns(etcd.url, [`-dnssec=${ecdsa.base}`, '-answer-cache=0', '-nameservers=127.0.0.1:1']);
    try {
      const q = () => dig({ port: noAnswerCache.port, name: 'testservice.default.svc.cluster.local', extra: ['+dnssec'] });
      const a = rrsigs((await q()).answer)[0].data;
      const b = rrsigs((await q()).answer)[0].data;
      assert.equal(a, b);
      const m = await noAnswerCache.httpGet('/metrics');
      assert.match(m.body, /dns_cachemiss_count_total\{cache="signature"\} [1-9]/);
    } finally {
      await noAnswerCache.stop();
    }
  });

  test('a truncated signed answer never separates a set from its RRSIG and keeps the OPT; TCP carries it whole', async () => {
    const r = await dig({ port: sky.port, name: 'big.default.svc.cluster.local', extra: ['+dnssec', '+bufsize=512', '+ignore'] });
    assert.ok(r.flags.includes('tc'), r.raw);
    assert.match(r.raw, /; EDNS: version: 0, flags: do;/);
    if (r.answer.length > 0) assert.equal(r.answer[r.answer.length - 1].type, 'RRSIG', r.raw);
    assertSecure(await delv(sky.port, ecdsa, 'big.default.svc.cluster.local', 'A', { tcp: true, dir }), 'big over TCP');
    assertSecure(await delv(sky.port, ecdsa, 'big.default.svc.cluster.local', 'A', { dir }), 'big over UDP, retried over TCP');
  });

  test('an RSA-2048 key signs as well', async () => {
    const withRsa = await startSkyDns(etcd.url, [`-dnssec=${rsa.base}`, '-nameservers=127.0.0.1:1']);
    try {
      for (const [name, type] of [['kubernetes.default.svc.cluster.local', 'A'], ['nothere.default.svc.cluster.local', 'A'], ['six.default.svc.cluster.local', 'A'], ['cluster.local', 'DNSKEY']]) {
        assertSecure(await delv(withRsa.port, rsa, name, type, { dir }), `RSA delv ${name} ${type}`);
        assertSecure(await unboundHost(withRsa.port, rsa, name, type, { dir }), `RSA unbound-host ${name} ${type}`);
      }
    } finally {
      await withRsa.stop();
    }
  });

  test('with -workers=2 every process signs with the key', async () => {
    const two = await startSkyDns(etcd.url, [`-dnssec=${ecdsa.base}`, '-workers=2', '-nameservers=127.0.0.1:1']);
    try {
      // Each validator run comes from new source ports, which the kernel spreads over both workers' sockets.
      for (let i = 0; i < 6; i++) assertSecure(await delv(two.port, ecdsa, i % 2 ? 'testservice.default.svc.cluster.local' : `gone${i}.default.svc.cluster.local`, 'A', { dir }), `round ${i}`);
      // Workers report their metrics to the first process once a second.
      await waitUntil(async () => /dns_cachemiss_count_total\{cache="signature"\} [1-9]/.test((await two.httpGet('/metrics')).body), 5000, 'signature-cache misses in the merged metrics');
    } finally {
      await two.stop();
    }
  });

  test('a key that cannot be used stops start-up: one line naming -dnssec and the file, exit status 2', async () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    const missing = path.join(bad, 'Kcluster.local.+013+00001');
    const wrongZone = await makeKey(bad, 'ECDSAP256SHA256', 'example.org');
    const mismatched = path.join(bad, 'Kcluster.local.+013+54321');
    fs.copyFileSync(`${ecdsa.base}.key`, `${mismatched}.key`);
    fs.copyFileSync(`${other.base}.private`, `${mismatched}.private`);
    const cases: [string, RegExp][] = [
      [missing, /\.key/],
      [wrongZone.base, /owner|example\.org/i],
      [mismatched, /\.private/],
    ];
    for (const [base, why] of cases) {
      for (const workers of ['1', '2']) {
        const r = await runToExit(process.execPath, [SKYDNS_BIN, `-machines=${etcd.url}`, '-addr=127.0.0.1:1', '-domain=cluster.local.', `-dnssec=${base}`, `-workers=${workers}`], { name: 'skydns bad key' });
        assert.equal(r.code, 2, r.out);
        const lines = r.out.trim().split('\n');
        assert.equal(lines.length, 1, r.out);
        assert.match(lines[0], /^skydns: -dnssec: /);
        assert.match(lines[0], why);
        assert.ok(lines[0].includes(path.basename(base)), lines[0]);
      }
    }
  });
});
