// The query handler in memory (docs/skydns.md §3): bytes in, bytes out, with a record tree built
// here — malformed and odd requests, not yet synced, reply sizes and truncation, the answer cache
// (its fast path, question case, invalidation), and, with an upstream on loopback, the response
// cache and stub zones with their loop guard. No etcd, no dig.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configFor } from '../../lib/skydns/config.js';
import { Forwarder, parseServers } from '../../lib/skydns/forwarder.js';
import { DnsHandler, Transport } from '../../lib/skydns/handler.js';
import { Resolver, SILENT } from '../../lib/skydns/resolver.js';
import { StubZones, STUB_OPTION } from '../../lib/skydns/stub.js';
import { RecordTree } from '../../lib/skydns/tree.js';
import { CLASS, EdnsOption, Message, RCODE, TYPE, decodeMessage, encodeMessage } from '../../lib/skydns/wire.js';
import { encodeRecord } from '../../lib/msg/record.js';
import { startScriptedUpstream } from '../harness/upstream.js';

const UDP: Transport = { tcp: false, remote: 'test' };
const TCP: Transport = { tcp: true, remote: 'test' };
const D = '/skydns/local/cluster';

interface Ask {
  id?: number;
  opcode?: number;
  qr?: boolean;
  /** EDNS0 UDP size; 0: no OPT record. */
  edns?: number;
  do?: boolean;
  version?: number;
  options?: EdnsOption[];
}

function query(name: string, type: number, a: Ask = {}): Buffer {
  return encodeMessage({
    header: { id: a.id ?? 7, qr: a.qr ?? false, opcode: a.opcode ?? 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    question: [{ name, type, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
    edns: a.edns ? { udpSize: a.edns, extRcode: 0, version: a.version ?? 0, do: a.do ?? false, options: a.options ?? [] } : null,
  })!.buf;
}

async function ask(h: DnsHandler, raw: Buffer, t: Transport = UDP): Promise<Message | null> {
  const r = await h.handle(raw, t);
  return r === null ? null : decodeMessage(r);
}

function tree(): RecordTree {
  const t = new RecordTree('skydns');
  t.put(`${D}/svc/default/web/a`, encodeRecord({ host: '10.0.0.1', ttl: 30 }));
  for (let i = 1; i <= 100; i++) t.put(`${D}/svc/default/big/${i}`, encodeRecord({ host: `10.1.0.${i}`, ttl: 30 }));
  t.put('/skydns/arpa/in-addr/10/0/0/1', encodeRecord({ host: 'web.default.svc.cluster.local.' }));
  return t;
}

function handler(opts: { synced?: boolean; nameservers?: string; rcache?: number; stubzones?: boolean; t?: RecordTree; answerCache?: number; direct?: boolean } = {}): { h: DnsHandler; t: RecordTree; close(): void } {
  const cfg = configFor(['-domain=cluster.local.', `-nameservers=${opts.nameservers ?? '127.0.0.1:1'}`, '-round-robin=false', `-rcache=${opts.rcache ?? 0}`, '-rtimeout=500ms', ...(opts.stubzones ? ['-stubzones'] : [])]);
  const t = opts.t ?? tree();
  const forwarder = new Forwarder({ servers: parseServers(cfg.nameservers), timeoutMs: cfg.readTimeoutMs, nsRotate: false, log: SILENT });
  const resolver = new Resolver(t, cfg, forwarder, SILENT);
  const h = new DnsHandler({ cfg, tree: t, resolver, forwarder, stubs: opts.stubzones ? new StubZones(t, cfg.domain) : null, metrics: null, log: SILENT, synced: () => opts.synced ?? true, answerCacheSize: opts.answerCache, direct: opts.direct });
  return { h, t, close: () => (h.close(), forwarder.close()) };
}

describe('DnsHandler in memory', () => {
  test('malformed and odd requests', async () => {
    const { h, close } = handler();
    try {
      const qr = query('web.default.svc.cluster.local.', TYPE.A, { qr: true });
      const two = query('web.default.svc.cluster.local.', TYPE.A);
      two.writeUInt16BE(2, 4); // two questions claimed, one present
      // [what, request, rcode or null (no reply)]
      const cases: [string, Buffer, number | null][] = [
        ['shorter than a header', Buffer.from([1, 2, 3, 4, 5]), null],
        ['a response (QR set)', qr, null],
        ['a question count that lies', two, RCODE.FORMERR],
        ['opcode STATUS', query('web.default.svc.cluster.local.', TYPE.A, { opcode: 2 }), RCODE.NOTIMP],
        ['ANY', query('web.default.svc.cluster.local.', TYPE.ANY), RCODE.REFUSED],
        ['AXFR', query('cluster.local.', TYPE.AXFR), RCODE.REFUSED],
        ['an answer', query('web.default.svc.cluster.local.', TYPE.A), RCODE.NOERROR],
        ['no such name', query('nothere.default.svc.cluster.local.', TYPE.A), RCODE.NXDOMAIN],
      ];
      for (const [what, raw, rcode] of cases) {
        const r = await h.handle(raw, UDP);
        if (rcode === null) {
          assert.equal(r, null, what);
          continue;
        }
        assert.ok(r, what);
        assert.equal(r.readUInt16BE(0), raw.readUInt16BE(0), `${what}: the ID is echoed`);
        assert.equal(r[3] & 0x0f, rcode, what);
        assert.equal(r[2] & 0x80, 0x80, `${what}: QR`);
      }
      // EDNS version 1: BADVERS, the extended rcode 16 split between the header (0) and the OPT (1).
      const bad = await ask(h, query('web.default.svc.cluster.local.', TYPE.A, { edns: 1232, version: 1 }));
      assert.equal(bad!.header.rcode, 0);
      assert.equal(bad!.edns!.extRcode, 1);
      assert.deepEqual(bad!.answer, []);
    } finally {
      close();
    }
  });

  test('replies written straight from the answer (addresses, NODATA, NXDOMAIN) carry the header and OPT the general encoder writes', async () => {
    const t = tree();
    for (let i = 1; i <= 3; i++) t.put(`${D}/svc/default/three/${i}`, encodeRecord({ host: `10.3.0.${i}`, ttl: 30 }));
    // No answer cache: every reply is computed and encoded (a cached one is the stored reply with the asker's bits).
    const { h, close } = handler({ t, answerCache: 0 });
    try {
      const cases: [string, number][] = [
        ['web.default.svc.cluster.local.', TYPE.A],
        ['Web.Default.svc.cluster.local.', TYPE.A],
        ['three.default.svc.cluster.local.', TYPE.A],
        ['web.default.svc.cluster.local.', TYPE.AAAA],
        ['nope.default.svc.cluster.local.', TYPE.A],
        ['example.com.default.svc.cluster.local.', TYPE.AAAA],
      ];
      let id = 100;
      for (const [name, type] of cases) {
        for (const rd of [false, true]) {
          for (const cd of [false, true]) {
            for (const edns of [0, 1232]) {
              for (const doBit of edns ? [false, true] : [false]) {
                const raw = query(name, type, { id: ++id, edns, do: doBit });
                raw.writeUInt16BE((raw.readUInt16BE(2) & ~0x0110) | (rd ? 0x0100 : 0) | (cd ? 0x0010 : 0), 2);
                const what = `${name} ${type} rd=${rd} cd=${cd} edns=${edns} do=${doBit}`;
                const got = await h.handle(raw, UDP);
                assert.ok(got, what);
                const m = decodeMessage(got);
                const want = encodeMessage(m)!;
                assert.deepEqual(got, want.buf, `${what}: the general encoder writes the same bytes`);
                assert.deepEqual(
                  [m.header.id, m.header.qr, m.header.opcode, m.header.aa, m.header.tc, m.header.rd, m.header.ra, m.header.ad, m.header.cd],
                  [id, true, 0, true, false, rd, true, false, cd],
                  what,
                );
                const known = /^(web|three)\./i.test(name);
                assert.equal(m.header.rcode, known ? RCODE.NOERROR : RCODE.NXDOMAIN, what);
                assert.deepEqual(m.question, [{ name, type, class: CLASS.IN }], what);
                assert.equal(m.answer.length, !known || type !== TYPE.A ? 0 : /^three\./.test(name) ? 3 : 1, what);
                if (m.answer.length === 0) assert.equal(m.authority[0].type, TYPE.SOA, what);
                if (edns) assert.deepEqual([m.edns?.udpSize, m.edns?.do, m.edns?.version, m.edns?.extRcode], [1232, doBit, 0, 0], what);
                else assert.equal(m.edns, null, what);
              }
            }
          }
        }
      }
    } finally {
      close();
    }
  });

  test('before the first read of etcd: SERVFAIL for names in the zone and reverse names, never NXDOMAIN', async () => {
    const { h, close } = handler({ synced: false });
    try {
      for (const [name, type] of [['web.default.svc.cluster.local.', TYPE.A], ['nothere.default.svc.cluster.local.', TYPE.A], ['1.0.0.10.in-addr.arpa.', TYPE.PTR]] as const) {
        const r = await ask(h, query(name, type));
        assert.equal(r!.header.rcode, RCODE.SERVFAIL, name);
      }
    } finally {
      close();
    }
  });

  test('reply sizes: 512 without EDNS0, the size class with it (never above -udp-max-payload), 64 KiB over TCP', async () => {
    const { h, close } = handler();
    try {
      const name = 'big.default.svc.cluster.local.';
      // [transport, EDNS0 size, the most the reply may be, truncated]
      const cases: [Transport, number, number, boolean][] = [
        [UDP, 0, 512, true],
        [UDP, 1100, 1024, true],
        [UDP, 4096, 1232, true],
        [TCP, 0, 65535, false],
      ];
      for (const [t, edns, most, tc] of cases) {
        const raw = await h.handle(query(name, TYPE.A, { edns }), t);
        assert.ok(raw && raw.length <= most, `${t.tcp ? 'TCP' : 'UDP'} ${edns}: ${raw?.length} bytes`);
        const m = decodeMessage(raw);
        assert.equal(m.header.tc, tc, `${t.tcp ? 'TCP' : 'UDP'} ${edns}`);
        assert.equal(m.answer.length === 100, !tc);
        if (edns) assert.equal(m.edns!.udpSize, 1232, 'the OPT advertises -udp-max-payload');
        // A truncated reply is as full as it can be: one more record would not fit.
        if (tc) assert.ok(raw.length + 16 > most);
      }
    } finally {
      close();
    }
  });

  test('the answer cache: the second asking is served from it, in the asker\'s case and ID; a change of the records drops it', async () => {
    // A lone address is answered directly (direct.ts), never from the cache: this test is of the
    // cache, so every question takes the general path here.
    const direct = handler();
    await direct.h.handle(query('web.default.svc.cluster.local.', TYPE.A, { id: 1 }), UDP);
    await direct.h.handle(query('web.default.svc.cluster.local.', TYPE.A, { id: 2 }), UDP);
    assert.equal(direct.h.cachedAnswers, 0, 'answered directly both times');
    direct.close();
    const { h, t, close } = handler({ direct: false });
    try {
      const first = await h.handle(query('web.default.svc.cluster.local.', TYPE.A, { id: 1 }), UDP);
      assert.equal(h.cachedAnswers, 0, 'a question is kept the second time it is asked');
      await h.handle(query('web.default.svc.cluster.local.', TYPE.A, { id: 2 }), UDP);
      assert.equal(h.cachedAnswers, 1);
      // The fast path writes the reply into the caller's buffer and says how long it is.
      const out = Buffer.alloc(600);
      const n = h.answerInto(query('WEB.Default.svc.cluster.local.', TYPE.A, { id: 3 }), UDP, out, 100, 500);
      assert.equal(typeof n, 'number');
      const hit = decodeMessage(out.subarray(100, 100 + (n as number)));
      assert.equal(hit.header.id, 3);
      assert.equal(hit.question[0].name, 'WEB.Default.svc.cluster.local.');
      assert.equal(hit.answer[0].name, 'WEB.Default.svc.cluster.local.');
      assert.deepEqual(decodeMessage(first!).answer.map((r) => r.data), hit.answer.map((r) => r.data));
      // With EDNS0 (or DO) the question is another entry: not served from the plain one.
      assert.equal(h.tryCached(query('web.default.svc.cluster.local.', TYPE.A, { edns: 1232 }), false), null);
      // A change under the name drops the entry; the next answer has the new address.
      t.put(`${D}/svc/default/web/a`, encodeRecord({ host: '10.0.0.2', ttl: 30 }));
      assert.equal(h.tryCached(query('web.default.svc.cluster.local.', TYPE.A), false), null);
      const fresh = await ask(h, query('web.default.svc.cluster.local.', TYPE.A));
      assert.deepEqual(fresh!.answer.map((r) => [...Buffer.from((r.data as { octets: string }).octets, 'latin1')].join('.')), ['10.0.0.2']);
    } finally {
      close();
    }
  });
});

describe('DnsHandler with an upstream on loopback', () => {
  let upstream: Awaited<ReturnType<typeof startScriptedUpstream>>;
  let port: number;
  let seen: Message[];
  before(async () => {
    // Answers every question with 192.0.2.1 and keeps what it was asked.
    upstream = await startScriptedUpstream(1);
    port = upstream.port;
    seen = upstream.asked;
  });
  after(() => upstream.close());

  test('the response cache: a forwarded answer is asked once, then served with each client\'s ID; DO and plain are apart', async () => {
    const { h, close } = handler({ nameservers: `127.0.0.1:${port}`, rcache: 100 });
    seen.length = 0;
    try {
      for (const id of [11, 12, 13]) {
        const r = await ask(h, query('www.example.org.', TYPE.A, { id }));
        assert.equal(r!.header.id, id);
        assert.deepEqual([...Buffer.from((r!.answer[0].data as { octets: string }).octets, 'latin1')], [192, 0, 2, 1]);
      }
      assert.equal(seen.length, 1, 'asked upstream once');
      await ask(h, query('www.example.org.', TYPE.A, { edns: 1232, do: true }));
      assert.equal(seen.length, 2, 'a DO question is not served from the plain answer');
      assert.equal(seen[1].edns?.do, true, 'and goes upstream with its DO bit');
    } finally {
      close();
    }
  });

  test('stub zones: a question in a stub zone goes to its server with the loop-guard option; one carrying that option is dropped', async () => {
    const t = tree();
    t.put(`${D}/dns/stub/net/example/ns1`, encodeRecord({ host: '127.0.0.1', port }));
    const { h, close } = handler({ stubzones: true, t });
    seen.length = 0;
    try {
      const r = await ask(h, query('host.example.net.', TYPE.A, { id: 21 }));
      assert.equal(r!.header.id, 21);
      assert.deepEqual([...Buffer.from((r!.answer[0].data as { octets: string }).octets, 'latin1')], [192, 0, 2, 1]);
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0].edns?.options.map((o) => o.code), [STUB_OPTION]);
      // A question that already went through a stub forwarder once: no reply, nothing sent.
      const looped = await h.handle(query('host.example.net.', TYPE.A, { edns: 1232, options: [{ code: STUB_OPTION, data: Buffer.from([1]) }] }), UDP);
      assert.equal(looped, null);
      assert.equal(seen.length, 1);
      // Names outside every stub zone are not sent there (-nameservers is a closed port here).
      const other = await ask(h, query('web.default.svc.cluster.local.', TYPE.A));
      assert.equal(other!.header.rcode, RCODE.NOERROR);
      assert.equal(seen.length, 1);
    } finally {
      close();
    }
  });
});
