// skydns against careless and hostile input (issue #16): replies bounded by what we advertise,
// the cached path as strict as the uncached one, bad records rejected one by one at ingest,
// a bad /skydns/config never stopping start-up, and more data than one gRPC message read whole.
// Real etcd, the real skydns program, real UDP sockets and dig on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { EtcdProcess, etcdPut, etcdPutMany, startEtcd } from '../harness/etcd.js';
import { DigRR, dig } from '../harness/dig.js';
import { SkyDnsProcess, startSkyDns } from '../harness/skydns.js';
import { udpExchange } from '../harness/udp.js';
import { TYPE, decodeMessage, encodeQuery } from '../../lib/skydns/wire.js';

const D = '/skydns/local/cluster';
const lines = (rrs: DigRR[]) => rrs.map((r) => `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`);

/** Sends one datagram and waits for the reply (or null after timeoutMs). */
async function exchange(port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return (await udpExchange(port, msg, timeoutMs)).reply;
}

/** The query with an EDNS0 option appended whose declared length runs past the OPT record (RDLENGTH says 8). */
function withBrokenOption(q: Buffer): Buffer {
  const opt = Buffer.from([0x00, 0x0a, 0x00, 0x14, 1, 2, 3, 4]); // COOKIE, length 20, 4 bytes given
  const b = Buffer.concat([q, opt]);
  b.writeUInt16BE(opt.length, q.length - 2);
  return b;
}

describe('skydns: replies no larger than advertised, and the cached path as strict as the rest', () => {
  let etcd: EtcdProcess;
  let sky: SkyDnsProcess;
  let big: SkyDnsProcess;

  before(async () => {
    etcd = await startEtcd();
    const puts: Promise<void>[] = [];
    for (let i = 1; i <= 200; i++) puts.push(etcdPut(etcd.url, `${D}/svc/default/many/${i.toString(16).padStart(8, '0')}`, `{"host":"10.2.${i >> 8}.${i & 255}","ttl":30}`));
    puts.push(etcdPut(etcd.url, `${D}/svc/default/web/1`, '{"host":"10.3.0.1","ttl":30}'));
    await Promise.all(puts);
    sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
    big = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1', '-udp-max-payload=4096']);
  });
  after(async () => {
    await sky?.stop();
    await big?.stop();
    await etcd?.stop();
  });

  test('a client offering 65535 bytes gets at most -udp-max-payload (1232 by default), with TC when the answer is longer', async () => {
    // 200 A records: about 3.2 kB uncompressed in full.
    for (const [server, cap] of [[sky, 1232], [big, 4096]] as const) {
      for (let round = 0; round < 3; round++) {
        // Asked three times: computed, stored in the answer cache, served from it.
        const r = await exchange(server.port, encodeQuery('many.default.svc.cluster.local.', TYPE.A, 100 + round, 65535));
        assert.ok(r, 'a reply');
        assert.ok(r.length <= cap, `round ${round}: ${r.length} bytes > ${cap}`);
        const m = decodeMessage(r);
        assert.equal(m.edns?.udpSize, cap, 'the size we advertise');
        if (cap === 1232) assert.equal(m.header.tc, true, 'truncated');
        else assert.deepEqual([m.header.tc, m.answer.length], [false, 200]);
      }
    }
    // Without EDNS: 512.
    const plain = await exchange(sky.port, encodeQuery('many.default.svc.cluster.local.', TYPE.A, 7));
    assert.ok(plain && plain.length <= 512 && decodeMessage(plain).header.tc);
  });

  test('a malformed EDNS0 option gets FORMERR, before and after the name is in the answer cache', async () => {
    const good = encodeQuery('web.default.svc.cluster.local.', TYPE.A, 1, 1232);
    const bad = withBrokenOption(encodeQuery('web.default.svc.cluster.local.', TYPE.A, 2, 1232));
    const cold = await exchange(sky.port, bad);
    assert.equal(cold && cold[3] & 0x0f, 1, 'FORMERR cold');
    for (let i = 0; i < 3; i++) assert.equal((await exchange(sky.port, good))?.[3]! & 0x0f, 0, 'the good one answers');
    const hot = await exchange(sky.port, bad);
    assert.equal(hot && hot[3] & 0x0f, 1, 'FORMERR with the name cached');
    assert.deepEqual(lines((await dig({ port: sky.port, name: 'web.default.svc.cluster.local' })).answer), ['web.default.svc.cluster.local. 30 IN A 10.3.0.1']);
  });
});


describe('skydns: bad records are skipped one by one when they arrive, never SERVFAIL anything', () => {
  let etcd: EtcdProcess;
  let sky: SkyDnsProcess;
  const BAD: Record<string, string> = {
    'longhost/1': JSON.stringify({ host: Array.from({ length: 30 }, () => 'abcdefghi').join('.') }),
    'longlabel/1': JSON.stringify({ host: `${'x'.repeat(64)}.example.com` }),
    'bigtext/1': JSON.stringify({ text: 'x'.repeat(1_000_000) }),
    'badport/1': JSON.stringify({ host: '10.4.0.1', port: -1 }),
    'bigport/1': JSON.stringify({ host: '10.4.0.2', port: 70000 }),
    'badprio/1': JSON.stringify({ host: '10.4.0.3', priority: -5 }),
    'bigttl/1': JSON.stringify({ host: '10.4.0.4', ttl: 4294967295 }),
    'nothost/1': JSON.stringify({ host: 'not a host!!' }),
    'notip/1': JSON.stringify({ host: '999.1.1.1' }),
    'fivedots/1': JSON.stringify({ host: '1.2.3.4.5' }),
    [`${'k'.repeat(64)}/1`]: JSON.stringify({ host: '10.4.0.5' }),
  };

  before(async () => {
    etcd = await startEtcd();
    await etcdPut(etcd.url, `${D}/svc/default/good/1`, '{"host":"10.5.0.1","port":80,"ttl":30}');
    await etcdPut(etcd.url, `${D}/svc/default/good/_tcp/_http/1`, '{"host":"good.default.svc.cluster.local.","port":80,"ttl":30}');
    await etcdPut(etcd.url, `${D}/dns-version`, '{"text":"1.1.0","ttl":30}');
    // Through the client library: a 1 MB value does not fit on etcdctl's command line.
    await etcdPutMany(etcd.url, Object.entries(BAD).map(([k, v]) => [`${D}/svc/default/${k}`, v] as const));
    sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
  });
  after(async () => {
    await sky?.stop();
    await etcd?.stop();
  });

  test('each bad record is named once, with its key and the reason, when it is read', () => {
    const warned = sky.prog.output().split('\n').filter((l) => / WARN /.test(l));
    for (const k of Object.keys(BAD)) {
      const mine = warned.filter((l) => l.includes(`bad record at ${D}/svc/default/${k}:`));
      assert.equal(mine.length, 1, `${k}: ${JSON.stringify(mine)}`);
    }
    assert.equal(warned.length, Object.keys(BAD).length, warned.join('\n'));
  });

  test('the names above them answer with the good records; their own names are NODATA, not SERVFAIL', async () => {
    const a = await dig({ port: sky.port, name: 'cluster.local', tcp: true });
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(lines(a.answer), ['cluster.local. 30 IN A 10.5.0.1']);
    const svc = await dig({ port: sky.port, name: 'default.svc.cluster.local', type: 'SRV', tcp: true });
    assert.equal(svc.status, 'NOERROR');
    assert.deepEqual(lines(svc.answer).sort(), [
      'default.svc.cluster.local. 30 IN SRV 10 50 80 1.good.default.svc.cluster.local.',
      'default.svc.cluster.local. 30 IN SRV 10 50 80 good.default.svc.cluster.local.',
    ]);
    const txt = await dig({ port: sky.port, name: 'cluster.local', type: 'TXT', tcp: true });
    assert.deepEqual(lines(txt.answer), ['cluster.local. 30 IN TXT "1.1.0"']);
    for (const k of Object.keys(BAD).filter((x) => !x.startsWith('kkk'))) {
      for (const type of ['A', 'SRV', 'TXT']) {
        const r = await dig({ port: sky.port, name: `${k.split('/')[0]}.default.svc.cluster.local`, type });
        assert.deepEqual([r.status, r.answer.length], ['NOERROR', 0], `${k} ${type}`);
      }
    }
  });

  test('answering logs nothing more (no per-query warnings, not even for the text-only dns-version record)', async () => {
    const before = sky.prog.output().length;
    for (const type of ['A', 'SRV', 'TXT']) await dig({ port: sky.port, name: 'cluster.local', type, tcp: true });
    await dig({ port: sky.port, name: 'dns-version.cluster.local', type: 'A' });
    assert.equal(sky.prog.output().slice(before).trim(), '');
  });
});

describe('skydns: a bad /skydns/config never stops it, and what is applied is what the log says', () => {
  const cases: { obj: string; log: RegExp[]; ttl: number; negTtl: number }[] = [
    { obj: '{"nameservers":["bogus"]}', log: [/refused nameservers: "bogus" is not an ip:port address; the command-line value stays/, /nothing applied/], ttl: 3600, negTtl: 60 },
    { obj: '{"dns_addr":"nonsense","ttl":40}', log: [/refused dns_addr: "nonsense" is not an ip:port address/, /applied ttl$/m], ttl: 40, negTtl: 60 },
    { obj: '{"ttl":7,"min_ttl":"x"}', log: [/refused min_ttl: "x" is not an integer/, /applied ttl$/m], ttl: 7, negTtl: 60 },
    { obj: '{"ttl":-5,"min_ttl":-1}', log: [/refused ttl: -5 is out of range 0\.\.2147483647/, /refused min_ttl: -1 is out of range/, /nothing applied/], ttl: 3600, negTtl: 60 },
    { obj: '{"domain":"not a domain!","min_ttl":30}', log: [/refused domain: "not a domain!" is not a domain name/, /applied min_ttl$/m], ttl: 3600, negTtl: 30 },
    { obj: '[1,2]', log: [/config object is not a JSON object; using the command-line configuration/], ttl: 3600, negTtl: 60 },
  ];
  for (const c of cases) {
    test(c.obj, async () => {
      const etcd = await startEtcd();
      let sky: SkyDnsProcess | null = null;
      try {
        await etcdPut(etcd.url, '/skydns/config', c.obj);
        await etcdPut(etcd.url, `${D}/x/1`, '{"host":"10.1.1.1"}');
        sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
        for (const re of c.log) assert.match(sky.prog.output(), re);
        const a = await dig({ port: sky.port, name: 'x.cluster.local' });
        assert.deepEqual(lines(a.answer), [`x.cluster.local. ${c.ttl} IN A 10.1.1.1`]);
        const nx = await dig({ port: sky.port, name: 'y.cluster.local' });
        assert.deepEqual([nx.status, nx.authority[0]?.ttl], ['NXDOMAIN', c.negTtl]);
      } finally {
        await sky?.stop();
        await etcd.stop();
      }
    });
  }
});

describe('skydns: more data under /skydns/ than one gRPC message carries (64 MiB)', () => {
  test('the first read pages by size: 72 MiB of values are read whole, skydns turns ready and answers', async () => {
    const etcd = await startEtcd();
    let sky: SkyDnsProcess | null = null;
    try {
      // 72 values of 1 MiB (under etcd's 1.5 MiB request limit): valid records with a large unknown field.
      const pad = 'p'.repeat(1024 * 1024);
      await etcdPutMany(etcd.url, [
        ...Array.from({ length: 72 }, (_, i) => [`${D}/svc/bulk/b${i}/1`, `{"host":"10.6.0.${i}","pad":"${pad}"}`] as const),
        [`${D}/svc/default/kubernetes/1`, '{"host":"10.0.0.1","ttl":30}'] as const,
      ]);
      sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
      assert.match(sky.prog.output(), /etcd: read 73 keys/);
      assert.deepEqual(lines((await dig({ port: sky.port, name: 'kubernetes.default.svc.cluster.local' })).answer), ['kubernetes.default.svc.cluster.local. 30 IN A 10.0.0.1']);
      assert.deepEqual(lines((await dig({ port: sky.port, name: 'b71.bulk.svc.cluster.local' })).answer), ['b71.bulk.svc.cluster.local. 3600 IN A 10.6.0.71']);
    } finally {
      await sky?.stop();
      await etcd.stop();
    }
  });
});

describe('skydns: a question about a name with 30,000 records below it costs what its reply carries', () => {
  let etcd: EtcdProcess;
  let sky: SkyDnsProcess;
  const N = 30_000;

  before(async () => {
    etcd = await startEtcd();
    await etcdPutMany(etcd.url, [
      ...Array.from({ length: N }, (_, j) => [`${D}/svc/ns${j % 50}/s${j}/_tcp/_http/1`, `{"host":"s${j}.ns${j % 50}.svc.cluster.local.","port":80,"ttl":30}`] as const),
      [`${D}/svc/default/web/1`, '{"host":"10.3.0.1","ttl":30}'] as const,
    ]);
    sky = await startSkyDns(etcd.url, ['-nameservers=127.0.0.1:1']);
  });
  after(async () => {
    await sky?.stop();
    await etcd?.stop();
  });

  const hits = async () => Number(/^skydns_skydns_answer_cache_hits_total (\d+)/m.exec((await sky.httpGet('/metrics')).body)?.[1] ?? 0);

  test('over UDP: TC within 1232 bytes, and the truncated answer is served from the answer cache', async () => {
    const before = await hits();
    for (let i = 0; i < 4; i++) {
      const r = await exchange(sky.port, encodeQuery('svc.cluster.local.', TYPE.SRV, 500 + i, 1232));
      assert.ok(r && r.length <= 1232);
      const m = decodeMessage(r);
      assert.equal(m.header.tc, true);
      assert.ok(m.answer.length > 0);
    }
    assert.ok((await hits()) - before >= 2, 'asked four times: stored the second, served from the cache after');
  });

  test('over TCP: as many records as a message carries, with TC, in well under a second', async () => {
    const t0 = performance.now();
    const r = await dig({ port: sky.port, name: 'svc.cluster.local', type: 'SRV', tcp: true });
    const ms = performance.now() - t0;
    assert.equal(r.status, 'NOERROR');
    assert.ok(r.flags.includes('tc'), `flags ${r.flags}`);
    assert.ok(r.answer.length > 1000, `${r.answer.length} records`);
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
  });

  test('one client asking it flat out (a different buffer size each time, past the cache) does not starve the others', async () => {
    const flood = dgram.createSocket('udp4');
    let sent = 0;
    let answered = 0;
    flood.on('message', () => void answered++);
    const stop = Date.now() + 3000;
    const timer = setInterval(() => {
      // At most 50 outstanding: the server decides the rate, as a flat-out client would see it.
      while (sent - answered < 50 && Date.now() < stop) flood.send(encodeQuery('svc.cluster.local.', TYPE.SRV, ++sent & 0xffff, 512 + (sent % 721)), sky.port, '127.0.0.1');
    }, 1);
    const latencies: number[] = [];
    try {
      while (Date.now() < stop) {
        const t0 = performance.now();
        const r = await exchange(sky.port, encodeQuery('web.default.svc.cluster.local.', TYPE.A, 7, 1232), 2000);
        latencies.push(r ? performance.now() - t0 : Infinity);
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      clearInterval(timer);
      flood.close();
    }
    latencies.sort((a, b) => a - b);
    assert.ok(answered > 300, `flood answers: ${answered} in 3 s`);
    assert.ok(latencies.length > 50);
    assert.ok(latencies[latencies.length - 1] < 500, `slowest in-zone answer meanwhile: ${latencies[latencies.length - 1].toFixed(1)} ms (p50 ${latencies[latencies.length >> 1].toFixed(2)} ms)`);
  });
});
