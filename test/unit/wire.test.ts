/**
 * lib/skydns/wire: strict query parsing, message decoding, the compressing
 * encoder with size fitting (docs/skydns.md §3.4, without the "strictly less" quirk),
 * and error replies. Packets are built by hand here, byte by byte, so the
 * decoder is not tested against the encoder alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLASS,
  Edns,
  Header,
  Message,
  RCODE,
  RR,
  TYPE,
  WireError,
  decodeMessage,
  encodeMessage,
  errorReply,
  headerFlags,
  lowerName,
  nameToLabels,
  parseQuery,
  rcodeName,
  rdataKey,
  readName,
  typeName,
  ZoneSoa,
  clearRecordCounts,
  encodeQuery,
  isResponse,
  isTruncated,
  rcodeOf,
  setId,
  setRA,
  setTC,
  takeRequestBits,
} from '../../lib/skydns/wire.js';

// ---------------------------------------------------------------- hand-built packets

/** Wire form of a name from plain labels (no escapes, no compression). */
function wname(...labels: string[]): number[] {
  const out: number[] = [];
  for (const l of labels) out.push(l.length, ...Buffer.from(l, 'latin1'));
  out.push(0);
  return out;
}
const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): number[] {
  return [...u16(id), ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}
function opt(udpSize: number, ttl: number, options: Array<[number, number[]]> = []): number[] {
  const data: number[] = [];
  for (const [code, bytes] of options) data.push(...u16(code), ...u16(bytes.length), ...bytes);
  return [0, ...u16(TYPE.OPT), ...u16(udpSize), ...u32(ttl), ...u16(data.length), ...data];
}
const pkt = (...parts: number[][]): Buffer => Buffer.from(parts.flat());

/** `www.Example.com. IN A`, RD set, ID 0x1234. */
const QNAME = wname('www', 'Example', 'com');
const A_QUERY = pkt(header(0x1234, 0x0100, 1, 0, 0, 0), QNAME, u16(TYPE.A), u16(CLASS.IN));

function baseHeader(over: Partial<Header> = {}): Header {
  return { id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0, ...over };
}

function wireError(message: string, id: number | null): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof WireError, `not a WireError: ${String(err)}`);
    assert.equal(err.name, 'WireError');
    assert.equal(err.message, message);
    assert.equal(err.id, id);
    return true;
  };
}

// ---------------------------------------------------------------- parseQuery

test('parseQuery: a plain A query', () => {
  const q = parseQuery(A_QUERY);
  assert.deepEqual(q.header, baseHeader({ id: 0x1234, rd: true }));
  assert.equal(q.flags, 0x0100);
  assert.equal(q.qname, 'www.Example.com.');
  assert.equal(q.qnameLower, 'www.example.com.');
  assert.equal(q.qtype, TYPE.A);
  assert.equal(q.qclass, CLASS.IN);
  assert.equal(q.questionEnd, 12 + 17 + 4);
  assert.equal(q.plainName, true);
  assert.equal(q.edns, null);
  assert.equal(q.raw, A_QUERY);
});

test('parseQuery: question names, through the plain fast path and the escaping general path alike', () => {
  const cases: [number[], string, boolean][] = [
    [[0], '.', true],
    [wname('a'), 'a.', true],
    [wname('Svc1', 'NS', 'svc', 'cluster', 'local'), 'Svc1.NS.svc.cluster.local.', true],
    [wname('_http', '_tcp', 'x-y', '0'), '_http._tcp.x-y.0.', true],
    [wname('a.b', 'c'), 'a\\.b.c.', true],
    [wname('a\\b', 'c'), 'a\\\\b.c.', true],
    [wname('sp ace', 'c'), 'sp\\032ace.c.', true],
    [[1, 0xe9, 0], '\\233.', true],
    [[1, 0x7f, 1, 0x7e, 0], '\\127.~.', true],
    [wname('x'.repeat(63), 'y'.repeat(63), 'z'.repeat(63), 'w'.repeat(61)), `${'x'.repeat(63)}.${'y'.repeat(63)}.${'z'.repeat(63)}.${'w'.repeat(61)}.`, true],
  ];
  for (const [name, text, plain] of cases) {
    const q = parseQuery(pkt(header(1, 0, 1, 0, 0, 0), name, u16(TYPE.A), u16(CLASS.IN)));
    assert.equal(q.qname, text);
    assert.equal(q.plainName, plain);
    assert.equal(q.questionEnd, 12 + name.length + 4);
  }
  // 256 bytes of name: refused on either path.
  assert.throws(() => parseQuery(pkt(header(1, 0, 1, 0, 0, 0), wname('x'.repeat(63), 'y'.repeat(63), 'z'.repeat(63), 'w'.repeat(62)), u16(TYPE.A), u16(CLASS.IN))), wireError('name longer than 255 bytes', 1));
  // A question name ending in a compression pointer (to itself, backwards: into the header) is not plain.
  const ptr = parseQuery(pkt(header(1, 0, 1, 0, 0, 0), [1, 0x61, 0xc0, 4], u16(TYPE.A), u16(CLASS.IN)));
  assert.equal(ptr.qname, 'a.');
  assert.equal(ptr.plainName, false);
});

test('parseQuery: header flags decoded bit by bit', () => {
  // QR, opcode 5, AA, TC, RD, RA, Z, AD, CD, rcode 3
  const buf = pkt(header(0xffff, 0x8000 | (5 << 11) | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0040 | 0x0020 | 0x0010 | 3, 1, 0, 0, 0), wname('a'), u16(TYPE.TXT), u16(CLASS.CH));
  const q = parseQuery(buf);
  assert.deepEqual(q.header, { id: 0xffff, qr: true, opcode: 5, aa: true, tc: true, rd: true, ra: true, ad: true, cd: true, rcode: 3 });
  assert.equal(q.qtype, TYPE.TXT);
  assert.equal(q.qclass, CLASS.CH);
  assert.equal(q.qname, 'a.');
});

test('parseQuery: EDNS0 with DO, size 4096 and options', () => {
  const buf = pkt(
    header(7, 0x0100, 1, 0, 0, 1),
    wname('example', 'org'),
    u16(TYPE.SRV),
    u16(CLASS.IN),
    opt(4096, 0x00008000, [
      [10, [1, 2, 3, 4, 5, 6, 7, 8]],
      [65011, [1]],
      [12, []],
    ]),
  );
  const q = parseQuery(buf);
  const want: Edns = {
    udpSize: 4096,
    extRcode: 0,
    version: 0,
    do: true,
    options: [
      { code: 10, data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) },
      { code: 65011, data: Buffer.from([1]) },
      { code: 12, data: Buffer.alloc(0) },
    ],
  };
  assert.deepEqual(q.edns, want);
  assert.equal(q.questionEnd, 12 + 13 + 4);
  assert.equal(q.qtype, TYPE.SRV);
});

test('parseQuery: EDNS0 extended rcode, version, DO clear, tiny size', () => {
  const buf = pkt(header(8, 0, 1, 0, 0, 1), wname('a'), u16(TYPE.A), u16(CLASS.IN), opt(100, (0xab << 24) | (1 << 16)));
  assert.deepEqual(parseQuery(buf).edns, { udpSize: 100, extRcode: 0xab, version: 1, do: false, options: [] });
});

test('parseQuery: answer/authority records are skipped, OPT found among additional records', () => {
  const buf = pkt(
    header(9, 0, 1, 1, 1, 2),
    wname('a'),
    u16(TYPE.A),
    u16(CLASS.IN),
    [0xc0, 12, ...u16(TYPE.A), ...u16(CLASS.IN), ...u32(60), ...u16(4), 1, 2, 3, 4],
    [0xc0, 12, ...u16(TYPE.TXT), ...u16(CLASS.IN), ...u32(60), ...u16(2), 1, 0x41],
    [0xc0, 12, ...u16(TYPE.A), ...u16(CLASS.IN), ...u32(60), ...u16(4), 5, 6, 7, 8],
    opt(1232, 0),
  );
  const q = parseQuery(buf);
  assert.equal(q.questionEnd, 12 + 3 + 4);
  assert.deepEqual(q.edns, { udpSize: 1232, extRcode: 0, version: 0, do: false, options: [] });
});

test('parseQuery: names with escapes and the root name', () => {
  const odd = pkt(header(1, 0, 1, 0, 0, 0), [3, 0x61, 0x2e, 0x62, 3, 0x20, 0x5c, 0xff, 0], u16(TYPE.A), u16(CLASS.IN));
  assert.equal(parseQuery(odd).qname, 'a\\.b.\\032\\\\\\255.');
  const root = pkt(header(1, 0, 1, 0, 0, 0), [0], u16(TYPE.NS), u16(CLASS.IN));
  const q = parseQuery(root);
  assert.equal(q.qname, '.');
  assert.equal(q.questionEnd, 17);
});

test('parseQuery: malformed packets → WireError (with the ID once the header is readable)', async (t) => {
  const q = (name: number[], ...rest: number[][]): Buffer => pkt(header(0xabcd, 0, 1, 0, 0, 0), name, ...rest);
  const label63 = 'x'.repeat(63);
  const cases: Array<[string, Buffer, string, number | null]> = [
    ['empty', Buffer.alloc(0), 'message of 0 bytes is shorter than a DNS header', null],
    ['11 bytes', Buffer.alloc(11), 'message of 11 bytes is shorter than a DNS header', null],
    ['QDCOUNT 0', pkt(header(0xabcd, 0, 0, 0, 0, 0)), 'QDCOUNT is 0, want 1', 0xabcd],
    ['QDCOUNT 2', pkt(header(0xabcd, 0, 2, 0, 0, 0), wname('a'), u16(1), u16(1), wname('b'), u16(1), u16(1)), 'QDCOUNT is 2, want 1', 0xabcd],
    ['header only', pkt(header(0xabcd, 0, 1, 0, 0, 0)), 'name runs past the end of the message', 0xabcd],
    ['name without its terminating zero', pkt(header(0xabcd, 0, 1, 0, 0, 0), [1, 0x61]), 'name runs past the end of the message', 0xabcd],
    ['label longer than the rest', pkt(header(0xabcd, 0, 1, 0, 0, 0), [5, 0x61, 0x62]), 'label runs past the end of the message', 0xabcd],
    ['pointer to itself', q([0xc0, 12], u16(1), u16(1)), 'bad compression pointer', 0xabcd],
    ['forward pointer', q([0xc0, 20], u16(1), u16(1), [0, 0, 0, 0]), 'bad compression pointer', 0xabcd],
    ['pointer loop (label, then a pointer back to it)', q([1, 0x61, 0xc0, 12], u16(1), u16(1)), 'bad compression pointer', 0xabcd],
    ['truncated pointer', pkt(header(0xabcd, 0, 1, 0, 0, 0), [0xc0]), 'truncated compression pointer', 0xabcd],
    ['label type 0x40 (extended)', q([0x41, 0x61, 0], u16(1), u16(1)), 'unsupported label type 0x40', 0xabcd],
    ['label type 0x80 (reserved)', q([0x81, 0x61, 0], u16(1), u16(1)), 'unsupported label type 0x80', 0xabcd],
    ['name of 257 bytes', q(wname(label63, label63, label63, label63), u16(1), u16(1)), 'name longer than 255 bytes', 0xabcd],
    ['question without type and class', q(wname('a')), 'question runs past the end of the message', 0xabcd],
    ['question with half a class', q(wname('a'), u16(1), [0]), 'question runs past the end of the message', 0xabcd],
    ['ARCOUNT 1 without a record', pkt(header(0xabcd, 0, 1, 0, 0, 1), wname('a'), u16(1), u16(1)), 'name runs past the end of the message', 0xabcd],
    ['record header cut short', pkt(header(0xabcd, 0, 1, 0, 0, 1), wname('a'), u16(1), u16(1), [0, 0, 41, 16, 0]), 'record header runs past the end of the message', 0xabcd],
    ['record data cut short', pkt(header(0xabcd, 0, 1, 1, 0, 0), wname('a'), u16(1), u16(1), [0, ...u16(1), ...u16(1), ...u32(1), ...u16(4), 1, 2]), 'record data runs past the end of the message', 0xabcd],
    ['OPT option header cut short', pkt(header(0xabcd, 0, 1, 0, 0, 1), wname('a'), u16(1), u16(1), [0, ...u16(41), ...u16(512), ...u32(0), ...u16(2), 0, 10]), 'truncated EDNS0 option', 0xabcd],
    ['OPT option data longer than the record', pkt(header(0xabcd, 0, 1, 0, 0, 1), wname('a'), u16(1), u16(1), [0, ...u16(41), ...u16(512), ...u32(0), ...u16(6), 0, 10, 0, 8, 1, 2]), 'EDNS0 option runs past its record', 0xabcd],
    ['two OPT records', pkt(header(0xabcd, 0, 1, 0, 0, 2), wname('a'), u16(1), u16(1), opt(512, 0), opt(512, 0)), 'more than one OPT record', 0xabcd],
    ['OPT with a non-root owner', pkt(header(0xabcd, 0, 1, 0, 0, 1), wname('a'), u16(1), u16(1), [0xc0, 12, ...opt(512, 0).slice(1)]), 'OPT record with a non-root owner', 0xabcd],
  ];
  for (const [name, buf, message, id] of cases) {
    await t.test(name, () => assert.throws(() => parseQuery(buf), wireError(message, id)));
  }
  await t.test('a name of exactly 255 bytes is accepted', () => {
    const name = wname(label63, label63, label63, 'y'.repeat(61));
    assert.equal(name.length, 255);
    const parsed = parseQuery(q(name, u16(1), u16(1)));
    assert.equal(parsed.qname, `${label63}.${label63}.${label63}.${'y'.repeat(61)}.`);
  });
  await t.test('a backward pointer into an earlier name is accepted', () => {
    // question name "a." at 12; an answer owner "b" + pointer to 12
    const buf = pkt(header(1, 0, 1, 1, 0, 0), wname('a'), u16(1), u16(1), [1, 0x62, 0xc0, 12, ...u16(1), ...u16(1), ...u32(0), ...u16(4), 1, 2, 3, 4]);
    assert.equal(parseQuery(buf).qname, 'a.');
    assert.equal(decodeMessage(buf).answer[0].name, 'b.a.');
  });
});

test('readName: offsets after compressed and plain names', () => {
  const buf = pkt([0, 0], wname('ab', 'c'), [3, 0x78, 0x79, 0x7a, 0xc0, 2]);
  assert.deepEqual(readName(buf, 2), { name: 'ab.c.', next: 8, compressed: false });
  assert.deepEqual(readName(buf, 8), { name: 'xyz.ab.c.', next: 14, compressed: true });
  assert.deepEqual(readName(buf, 12), { name: 'ab.c.', next: 14, compressed: true });
});

// ---------------------------------------------------------------- decodeMessage

test('decodeMessage: a compressed response, every section', () => {
  const buf = pkt(
    header(0x4242, 0x8180, 1, 2, 1, 2),
    wname('www', 'example', 'com'), // 12..28
    u16(TYPE.A),
    u16(CLASS.IN),
    // www.example.com. CNAME web.example.com. (target compressed against "example")
    [0xc0, 12, ...u16(TYPE.CNAME), ...u16(CLASS.IN), ...u32(300), ...u16(6), 3, ...Buffer.from('web'), 0xc0, 16],
    // web.example.com. A 192.0.2.1 (owner = pointer to the CNAME target at 45)
    [0xc0, 45, ...u16(TYPE.A), ...u16(CLASS.IN), ...u32(60), ...u16(4), 192, 0, 2, 1],
    // example.com. NS ns1.example.com.
    [0xc0, 16, ...u16(TYPE.NS), ...u16(CLASS.IN), ...u32(3600), ...u16(6), 3, ...Buffer.from('ns1'), 0xc0, 16],
    // ns1.example.com. AAAA 2001:db8::1
    [0xc0, 79, ...u16(TYPE.AAAA), ...u16(CLASS.IN), ...u32(3600), ...u16(16), 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    opt(1232, 0x8000),
  );
  const m = decodeMessage(buf);
  const want: Message = {
    header: baseHeader({ id: 0x4242, qr: true, rd: true, ra: true }),
    question: [{ name: 'www.example.com.', type: TYPE.A, class: CLASS.IN }],
    answer: [
      { name: 'www.example.com.', type: TYPE.CNAME, class: CLASS.IN, ttl: 300, data: { t: 'name', name: 'web.example.com.' } },
      { name: 'web.example.com.', type: TYPE.A, class: CLASS.IN, ttl: 60, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, 1) } },
    ],
    authority: [{ name: 'example.com.', type: TYPE.NS, class: CLASS.IN, ttl: 3600, data: { t: 'name', name: 'ns1.example.com.' } }],
    additional: [
      { name: 'ns1.example.com.', type: TYPE.AAAA, class: CLASS.IN, ttl: 3600, data: { t: 'ip', octets: String.fromCharCode(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) } },
    ],
    edns: { udpSize: 1232, extRcode: 0, version: 0, do: true, options: [] },
  };
  assert.deepEqual(m, want);
});

test('decodeMessage: malformed record data → WireError', async (t) => {
  const withAnswer = (type: number, rdata: number[]): Buffer =>
    pkt(header(5, 0x8000, 1, 1, 0, 0), wname('a'), u16(type), u16(CLASS.IN), [0xc0, 12, ...u16(type), ...u16(CLASS.IN), ...u32(1), ...u16(rdata.length), ...rdata]);
  const cases: Array<[string, Buffer, string]> = [
    ['A with 5 bytes', withAnswer(TYPE.A, [1, 2, 3, 4, 5]), 'A record with 5 bytes of data'],
    ['AAAA with 4 bytes', withAnswer(TYPE.AAAA, [1, 2, 3, 4]), 'AAAA record with 4 bytes of data'],
    ['MX with 1 byte at the end of the message', withAnswer(TYPE.MX, [0]), 'MX record with 1 bytes of data'],
    ['SRV with 4 bytes', withAnswer(TYPE.SRV, [0, 1, 0, 2]), 'SRV record with 4 bytes of data'],
    ['CNAME with no data', withAnswer(TYPE.CNAME, []), 'CNAME record with 0 bytes of data'],
    ['CNAME with a byte after its name', withAnswer(TYPE.CNAME, [1, 0x62, 0, 9]), 'CNAME record with 1 bytes after its data (bad rdlength)'],
    ['PTR name running out of its data', withAnswer(TYPE.PTR, [1, 0x62]), 'name runs past the end of the message'],
    ['SOA without its numbers', withAnswer(TYPE.SOA, [0, 0, ...new Array<number>(19).fill(0)]), 'SOA record with 21 bytes of data'],
    ['SOA with 4 bytes too many', withAnswer(TYPE.SOA, [0, 0, ...new Array<number>(24).fill(0)]), 'SOA record with 4 bytes after its data (bad rdlength)'],
    ['TXT string longer than its record', withAnswer(TYPE.TXT, [5, 0x61]), 'TXT string runs past its record'],
    ['SOA names leave no room for the numbers', withAnswer(TYPE.SOA, [2, 0x61, 0x62, 0, 0, ...new Array<number>(17).fill(0)]), 'truncated SOA record'],
    [
      'name running past its record data into the next record',
      pkt(
        header(5, 0x8000, 1, 2, 0, 0),
        wname('a'),
        u16(TYPE.A),
        u16(CLASS.IN),
        [0xc0, 12, ...u16(TYPE.PTR), ...u16(CLASS.IN), ...u32(1), ...u16(2), 1, 0x62],
        [0, ...u16(TYPE.A), ...u16(CLASS.IN), ...u32(1), ...u16(4), 1, 2, 3, 4],
      ),
      'PTR record data shorter than its name',
    ],
  ];
  for (const [name, buf, message] of cases) await t.test(name, () => assert.throws(() => decodeMessage(buf), wireError(message, 5)));
  await t.test('short message', () => assert.throws(() => decodeMessage(Buffer.alloc(3)), wireError('message of 3 bytes is shorter than a DNS header', null)));
  await t.test('a name inside record data may point outside it', () => {
    const m = decodeMessage(withAnswer(TYPE.CNAME, [1, 0x62, 0xc0, 12]));
    assert.deepEqual(m.answer[0].data, { t: 'name', name: 'b.a.' });
  });
});

// ---------------------------------------------------------------- encodeMessage

const ALL_KINDS: RR[] = [
  { name: 'a.example.', type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, 1) } },
  { name: 'a.example.', type: TYPE.AAAA, class: CLASS.IN, ttl: 31, data: { t: 'ip', octets: String.fromCharCode(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd) } },
  { name: 'c.example.', type: TYPE.CNAME, class: CLASS.IN, ttl: 32, data: { t: 'name', name: 'a.example.' } },
  { name: 'example.', type: TYPE.NS, class: CLASS.IN, ttl: 33, data: { t: 'name', name: 'ns1.dns.example.' } },
  { name: '1.0.0.10.in-addr.arpa.', type: TYPE.PTR, class: CLASS.IN, ttl: 34, data: { t: 'name', name: 'a.example.' } },
  { name: '_http._tcp.example.', type: TYPE.SRV, class: CLASS.IN, ttl: 35, data: { t: 'srv', priority: 10, weight: 33, port: 8080, target: 'a.example.' } },
  { name: 'example.', type: TYPE.MX, class: CLASS.IN, ttl: 36, data: { t: 'mx', preference: 10, exchange: 'mail.example.' } },
  { name: 't.example.', type: TYPE.TXT, class: CLASS.IN, ttl: 37, data: { t: 'txt', strings: [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('x'.repeat(255)), Buffer.from([0, 0xff])] } },
  {
    name: 'example.',
    type: TYPE.SOA,
    class: CLASS.IN,
    ttl: 38,
    data: { t: 'soa', mname: 'ns.dns.example.', rname: 'hostmaster.example.', serial: 4294967295, refresh: 28800, retry: 7200, expire: 604800, minimum: 60 },
  },
  { name: 'r.example.', type: TYPE.HINFO, class: CLASS.IN, ttl: 39, data: { t: 'raw', bytes: Buffer.from([3, 0x41, 0x52, 0x4d, 5, 0x4c, 0x69, 0x6e, 0x75, 0x78]) } },
  { name: 'version.bind.', type: TYPE.TXT, class: CLASS.CH, ttl: 0, data: { t: 'txt', strings: [Buffer.from('2.5.3a')] } },
];

function message(over: Partial<Message> = {}): Message {
  return {
    header: baseHeader({ id: 0x2468, qr: true, aa: true, rd: true, ra: true }),
    question: [{ name: 'a.example.', type: TYPE.A, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
    edns: null,
    ...over,
  };
}

test('encodeMessage → decodeMessage round trip: every RData kind in every section', () => {
  const msg = message({
    header: { id: 0xfffe, qr: true, opcode: 2, aa: true, tc: false, rd: true, ra: false, ad: true, cd: true, rcode: RCODE.NXDOMAIN },
    answer: ALL_KINDS,
    authority: [ALL_KINDS[8], ALL_KINDS[3]],
    additional: [ALL_KINDS[0], ALL_KINDS[1], ALL_KINDS[7]],
    edns: { udpSize: 4096, extRcode: 1, version: 0, do: true, options: [{ code: 10, data: Buffer.from('cookie!!') }] },
  });
  const enc = encodeMessage(msg);
  assert.ok(enc);
  assert.equal(enc.truncated, false);
  assert.equal(enc.droppedAdditional, false);
  assert.equal(enc.answerOffsets.length, ALL_KINDS.length + 1);
  assert.deepEqual(decodeMessage(enc.buf), msg);
  // the counts in the header, OPT included in ARCOUNT
  assert.deepEqual([enc.buf.readUInt16BE(4), enc.buf.readUInt16BE(6), enc.buf.readUInt16BE(8), enc.buf.readUInt16BE(10)], [1, 11, 2, 4]);
  // and each answer offset starts a record whose name decodes to the right owner
  for (let i = 0; i < ALL_KINDS.length; i++) assert.equal(readName(enc.buf, enc.answerOffsets[i]).name, ALL_KINDS[i].name, `answer offset ${i}`);
  // the last offset is where the authority section starts
  assert.equal(readName(enc.buf, enc.answerOffsets[ALL_KINDS.length]).name, 'example.');
});

test('encodeMessage: byte-exact simple answer with the owner compressed to the question', () => {
  const enc = encodeMessage(
    message({
      header: baseHeader({ id: 0x1234, qr: true, rd: true, ra: true }),
      question: [{ name: 'example.com.', type: TYPE.A, class: CLASS.IN }],
      answer: [{ name: 'example.com.', type: TYPE.A, class: CLASS.IN, ttl: 60, data: { t: 'ip', octets: String.fromCharCode(1, 2, 3, 4) } }],
    }),
  );
  assert.ok(enc);
  const want = pkt(
    header(0x1234, 0x8180, 1, 1, 0, 0),
    wname('example', 'com'),
    u16(1),
    u16(1),
    [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4],
  );
  assert.equal(enc.buf.toString('hex'), want.toString('hex'));
  assert.deepEqual(enc.answerOffsets, [29, 45]);
});

test('encodeMessage: name compression', async (t) => {
  await t.test('suffixes are shared: exact bytes', () => {
    const enc = encodeMessage(
      message({
        question: [{ name: 'www.example.com.', type: TYPE.MX, class: CLASS.IN }],
        answer: [
          { name: 'www.example.com.', type: TYPE.MX, class: CLASS.IN, ttl: 1, data: { t: 'mx', preference: 5, exchange: 'mail.example.com.' } },
          { name: 'mail.example.com.', type: TYPE.CNAME, class: CLASS.IN, ttl: 1, data: { t: 'name', name: 'www.example.com.' } },
        ],
      }),
    );
    assert.ok(enc);
    const b = enc.buf;
    // question name at 12; "example" at 16
    assert.equal(b.subarray(33, 35).toString('hex'), 'c00c'); // MX owner → question
    // MX rdata: preference, then "mail" + pointer to "example.com." at 16
    assert.equal(b.subarray(45, 45 + 9).toString('hex'), '0005' + '046d61696c' + 'c010');
    // the CNAME owner points at "mail.example.com." inside the MX rdata (offset 47)
    assert.equal(b.subarray(54, 56).toString('hex'), 'c02f');
    // the CNAME target (after owner, type, class, TTL, RDLENGTH) is the question name again
    assert.equal(b.readUInt16BE(64), 2);
    assert.equal(b.subarray(66, 68).toString('hex'), 'c00c');
    assert.equal(b.length, 68);
  });

  await t.test('compressed size is smaller, pointers are valid, names decode unchanged', () => {
    const answer: RR[] = [];
    for (let i = 0; i < 20; i++) {
      answer.push({ name: 'web.default.svc.cluster.local.', type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, i) } });
    }
    const msg = message({ question: [{ name: 'web.default.svc.cluster.local.', type: TYPE.A, class: CLASS.IN }], answer });
    const enc = encodeMessage(msg);
    assert.ok(enc);
    const nameLen = 1 + 4 + 8 + 4 + 8 + 6; // 31 bytes uncompressed
    const uncompressed = 12 + nameLen + 4 + 20 * (nameLen + 10 + 4);
    assert.equal(uncompressed, 947);
    assert.equal(enc.buf.length, 12 + nameLen + 4 + 20 * (2 + 10 + 4));
    assert.ok(enc.buf.length < uncompressed);
    for (let i = 0; i < 20; i++) {
      const at: number = enc.answerOffsets[i];
      assert.equal(enc.buf.readUInt16BE(at), 0xc00c, `answer ${i} owner is a pointer to the question`);
    }
    assert.deepEqual(decodeMessage(enc.buf), msg);
  });

  await t.test('suffix reuse is case-insensitive; the first spelling is what decodes', () => {
    const enc = encodeMessage(
      message({
        question: [{ name: 'WWW.Example.COM.', type: TYPE.A, class: CLASS.IN }],
        answer: [{ name: 'www.example.com.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(1, 1, 1, 1) } }],
      }),
    );
    assert.ok(enc);
    assert.equal(enc.buf.readUInt16BE(enc.answerOffsets[0]), 0xc00c);
    assert.equal(decodeMessage(enc.buf).answer[0].name, 'WWW.Example.COM.');
  });

  await t.test('an escaped dot is not a label separator for compression', () => {
    const msg = message({
      question: [{ name: 'a.b.c.', type: TYPE.CNAME, class: CLASS.IN }],
      answer: [{ name: 'a.b.c.', type: TYPE.CNAME, class: CLASS.IN, ttl: 1, data: { t: 'name', name: 'a\\.b.c.' } }],
    });
    const enc = encodeMessage(msg);
    assert.ok(enc);
    assert.deepEqual(decodeMessage(enc.buf).answer[0].data, { t: 'name', name: 'a\\.b.c.' });
    // the target is "a.b" (3 bytes) + pointer to "c." at offset 16
    const rdata = enc.buf.subarray(enc.answerOffsets[0] + 12, enc.answerOffsets[1]);
    assert.equal(rdata.toString('hex'), '03612e62' + 'c010');
  });

  await t.test('plain names and names with escapes share their plain suffixes, both ways', () => {
    // Escaped name first: "\192" (1 byte) then "example." at offset 14, reused by the plain owner.
    const first = encodeMessage(
      message({
        question: [{ name: '\\192.Example.', type: TYPE.A, class: CLASS.IN }],
        answer: [{ name: 'www.EXAMPLE.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(1, 2, 3, 4) } }],
      }),
    );
    assert.ok(first);
    assert.equal(first.buf.subarray(first.answerOffsets[0], first.answerOffsets[0] + 6).toString('hex'), '03777777' + 'c00e');
    // Plain name first: the escaped name's tail "example." points at offset 16.
    const second = encodeMessage(
      message({
        question: [{ name: 'www.example.', type: TYPE.A, class: CLASS.IN }],
        answer: [{ name: 'a\\.b.example.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(1, 2, 3, 4) } }],
      }),
    );
    assert.ok(second);
    assert.equal(second.buf.subarray(second.answerOffsets[0], second.answerOffsets[0] + 6).toString('hex'), '03612e62' + 'c010');
    assert.equal(decodeMessage(second.buf).answer[0].name, 'a\\.b.example.');
  });

  await t.test('a name without its final dot, or with empty labels, is the same wire name', () => {
    const enc = encodeMessage(
      message({
        question: [{ name: 'svc.cluster.local', type: TYPE.A, class: CLASS.IN }],
        answer: [
          { name: 'svc.cluster.local.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(1, 1, 1, 1) } },
          { name: 'x..cluster.local.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(2, 2, 2, 2) } },
        ],
      }),
    );
    assert.ok(enc);
    assert.equal(enc.buf.subarray(12, 12 + 19).toString('hex'), Buffer.from(wname('svc', 'cluster', 'local')).toString('hex'));
    assert.equal(enc.buf.readUInt16BE(enc.answerOffsets[0]), 0xc00c);
    // "x" then a pointer to "cluster.local." (offset 16)
    assert.equal(enc.buf.subarray(enc.answerOffsets[1], enc.answerOffsets[1] + 4).toString('hex'), '0178' + 'c010');
    assert.deepEqual(decodeMessage(enc.buf).answer.map((r) => r.name), ['svc.cluster.local.', 'x.cluster.local.']);
  });

  await t.test('only ASCII letters fold: \\192 and \\224 are different labels', () => {
    const msg = message({
      question: [{ name: '\\192.example.', type: TYPE.A, class: CLASS.IN }],
      answer: [{ name: '\\224.example.', type: TYPE.A, class: CLASS.IN, ttl: 1, data: { t: 'ip', octets: String.fromCharCode(1, 2, 3, 4) } }],
    });
    const enc = encodeMessage(msg);
    assert.ok(enc);
    assert.deepEqual(decodeMessage(enc.buf), msg);
  });

  await t.test('SRV targets are never compressed (RFC 2782)', () => {
    const enc = encodeMessage(
      message({
        question: [{ name: 'a.example.', type: TYPE.SRV, class: CLASS.IN }],
        answer: [{ name: 'a.example.', type: TYPE.SRV, class: CLASS.IN, ttl: 1, data: { t: 'srv', priority: 10, weight: 100, port: 443, target: 'a.example.' } }],
      }),
    );
    assert.ok(enc);
    const rdata = enc.buf.subarray(enc.answerOffsets[0] + 12, enc.answerOffsets[1]);
    assert.equal(rdata.toString('hex'), '000a' + '0064' + '01bb' + Buffer.from(wname('a', 'example')).toString('hex'));
    assert.equal(enc.buf.readUInt16BE(enc.answerOffsets[0] + 10), rdata.length);
  });

  await t.test('the root name is a single zero byte', () => {
    const enc = encodeMessage(message({ question: [{ name: '.', type: TYPE.NS, class: CLASS.IN }] }));
    assert.ok(enc);
    assert.equal(enc.buf.subarray(12).toString('hex'), '00' + '0002' + '0001');
  });
});

test('encodeMessage: names and strings that cannot be encoded → WireError', () => {
  const long = 'x'.repeat(64);
  assert.throws(() => encodeMessage(message({ question: [{ name: `${long}.example.`, type: TYPE.A, class: CLASS.IN }] })), wireError(`label longer than 63 bytes in ${long}.example.`, null));
  const l63 = 'y'.repeat(63);
  const tooLong = `${l63}.${l63}.${l63}.${'z'.repeat(62)}.`; // 256 bytes on the wire
  assert.throws(() => encodeMessage(message({ question: [{ name: tooLong, type: TYPE.A, class: CLASS.IN }] })), wireError(`name longer than 255 bytes: ${tooLong}`, null));
  const max = `${l63}.${l63}.${l63}.${'z'.repeat(61)}.`; // exactly 255
  const ok = encodeMessage(message({ question: [{ name: max, type: TYPE.A, class: CLASS.IN }] }));
  assert.ok(ok);
  assert.equal(decodeMessage(ok.buf).question[0].name, max);
  const txt: RR = { name: 't.', type: TYPE.TXT, class: CLASS.IN, ttl: 1, data: { t: 'txt', strings: [Buffer.alloc(256, 0x61)] } };
  assert.throws(() => encodeMessage(message({ answer: [txt] })), wireError('TXT string of 256 bytes (at most 255) in t.', null));
});

// ---------------------------------------------------------------- fitting

/**
 * Question `a.example.com. A` (header 12 + name 15 + 4 = 31 bytes), N answers of
 * 16 bytes each (compressed owner), additional records: the first 19 bytes
 * ("ns" + pointer), the rest 16 bytes each.
 */
function sized(answers: number, additional: number, opts: { authority?: boolean; edns?: Edns | null } = {}): Message {
  const answer: RR[] = [];
  for (let i = 0; i < answers; i++) answer.push({ name: 'a.example.com.', type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, i) } });
  const extra: RR[] = [];
  for (let i = 0; i < additional; i++) extra.push({ name: 'ns.example.com.', type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 9, 9, i) } });
  const authority: RR[] = opts.authority
    ? [{ name: 'example.com.', type: TYPE.NS, class: CLASS.IN, ttl: 30, data: { t: 'name', name: 'ns.example.com.' } }] // 2 + 10 + (3 + 2) = 17, and the first additional owner then points into it (16)
    : [];
  return message({
    question: [{ name: 'a.example.com.', type: TYPE.A, class: CLASS.IN }],
    answer,
    authority,
    additional: extra,
    edns: opts.edns ?? null,
  });
}

function counts(b: Buffer): number[] {
  return [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)];
}

test('encodeMessage: fitting to the size limit', async (t) => {
  const msg = sized(10, 2); // 31 + 160 + 19 + 16 = 226 bytes
  const full = encodeMessage(msg);
  assert.ok(full);
  assert.equal(full.buf.length, 226);
  assert.deepEqual(full.answerOffsets, [31, 47, 63, 79, 95, 111, 127, 143, 159, 175, 191]);

  // [limit, size, truncated, droppedAdditional, [QD, AN, NS, AR]]
  const cases: Array<[number, number, boolean, boolean, number[]]> = [
    [65535, 226, false, false, [1, 10, 0, 2]],
    [226, 226, false, false, [1, 10, 0, 2]], // exactly the limit fits (no "strictly less" quirk)
    [225, 191, false, true, [1, 10, 0, 0]], // additional dropped first, no TC
    [191, 191, false, true, [1, 10, 0, 0]], // exactly the limit after dropping
    [190, 175, true, true, [1, 9, 0, 0]], // TC, the 9 answers that fit
    [175, 175, true, true, [1, 9, 0, 0]],
    [174, 159, true, true, [1, 8, 0, 0]],
    [512, 226, false, false, [1, 10, 0, 2]],
    [47, 47, true, true, [1, 1, 0, 0]],
    [46, 31, true, true, [1, 0, 0, 0]],
    [31, 31, true, true, [1, 0, 0, 0]], // header and question only
  ];
  for (const [limit, size, truncated, dropped, wantCounts] of cases) {
    await t.test(`limit ${limit}`, () => {
      const enc = encodeMessage(msg, limit);
      assert.ok(enc);
      assert.equal(enc.buf.length, size);
      assert.ok(enc.buf.length <= limit);
      assert.equal(enc.truncated, truncated);
      assert.equal(enc.droppedAdditional, dropped);
      assert.deepEqual(counts(enc.buf), wantCounts);
      const d = decodeMessage(enc.buf);
      assert.deepEqual(d.header, { ...msg.header, tc: truncated });
      assert.deepEqual(d.question, msg.question);
      assert.deepEqual(d.answer, msg.answer.slice(0, wantCounts[1]));
      assert.deepEqual(d.additional, msg.additional.slice(0, wantCounts[3]));
      assert.deepEqual(enc.answerOffsets, full.answerOffsets.slice(0, wantCounts[1] + 1));
      // the kept bytes are a prefix of the full encoding (pointers only point backwards)
      assert.equal(enc.buf.subarray(12).toString('hex'), full.buf.subarray(12, enc.buf.length).toString('hex'));
    });
  }
  await t.test('null when not even the header and question fit', () => {
    assert.equal(encodeMessage(msg, 30), null);
    assert.equal(encodeMessage(msg, 0), null);
  });
});

test('encodeMessage: fitting keeps the OPT record and counts it', async (t) => {
  const edns: Edns = { udpSize: 1232, extRcode: 0, version: 0, do: true, options: [] };
  const msg = sized(10, 2, { edns }); // 226 + 11 (OPT) = 237
  const cases: Array<[number, number, boolean, boolean, number[]]> = [
    [237, 237, false, false, [1, 10, 0, 3]],
    [236, 202, false, true, [1, 10, 0, 1]],
    [202, 202, false, true, [1, 10, 0, 1]],
    [201, 186, true, true, [1, 9, 0, 1]],
    [42, 42, true, true, [1, 0, 0, 1]],
  ];
  for (const [limit, size, truncated, dropped, wantCounts] of cases) {
    await t.test(`limit ${limit}`, () => {
      const enc = encodeMessage(msg, limit);
      assert.ok(enc);
      assert.equal(enc.buf.length, size);
      assert.equal(enc.truncated, truncated);
      assert.equal(enc.droppedAdditional, dropped);
      assert.deepEqual(counts(enc.buf), wantCounts);
      const d = decodeMessage(enc.buf);
      assert.deepEqual(d.edns, edns);
      assert.equal(d.answer.length, wantCounts[1]);
      assert.deepEqual(d.additional, msg.additional.slice(0, wantCounts[3] - 1));
    });
  }
  await t.test('null when the OPT does not fit after the question', () => assert.equal(encodeMessage(msg, 41), null));
});

test('encodeMessage: a signed answer is cut only after an RRSIG (no set leaves without its signature)', () => {
  // Two sets of 3 A records, each followed by a 40-byte "RRSIG": 31 + 3×16 + 52 + 3×16 + 52 = 231 bytes.
  const sig = (): RR => ({ name: 'a.example.com.', type: TYPE.RRSIG, class: CLASS.IN, ttl: 30, data: { t: 'raw', bytes: Buffer.alloc(40, 7) } });
  const a = (i: number): RR => ({ name: 'a.example.com.', type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, i) } });
  const msg = message({ question: [{ name: 'a.example.com.', type: TYPE.A, class: CLASS.IN }], answer: [a(1), a(2), a(3), sig(), a(4), a(5), a(6), sig()], authority: [], additional: [], edns: null });
  assert.equal(encodeMessage(msg)!.buf.length, 231);
  // [limit, answers kept]: an unsigned answer would keep every record that fits.
  for (const [limit, kept] of [[231, 8], [230, 4], [131, 4], [130, 0], [80, 0]] as const) {
    const enc = encodeMessage(msg, limit)!;
    assert.equal(counts(enc.buf)[1], kept, `limit ${limit}`);
    assert.equal(enc.truncated, kept < 8);
    assert.deepEqual(decodeMessage(enc.buf).answer.map((r) => r.type), msg.answer.slice(0, kept).map((r) => r.type));
  }
  const unsigned = message({ ...msg, answer: msg.answer.filter((r) => r.type !== TYPE.RRSIG) });
  assert.equal(counts(encodeMessage(unsigned, 100)!.buf)[1], 4, 'unsigned: any prefix');
});

test('encodeMessage: authority kept when only additional is dropped, dropped with TC', () => {
  const msg = sized(3, 2, { authority: true }); // 31 + 48 + 17 + 16 + 16 = 128
  const full = encodeMessage(msg);
  assert.ok(full);
  assert.equal(full.buf.length, 128);
  const dropped = encodeMessage(msg, 127);
  assert.ok(dropped);
  assert.equal(dropped.buf.length, 96);
  assert.deepEqual(counts(dropped.buf), [1, 3, 1, 0]);
  assert.equal(dropped.truncated, false);
  assert.deepEqual(decodeMessage(dropped.buf).authority, msg.authority);
  const trunc = encodeMessage(msg, 95);
  assert.ok(trunc);
  assert.equal(trunc.truncated, true);
  assert.equal(trunc.buf.length, 79); // all three answers, authority gone
  assert.deepEqual(counts(trunc.buf), [1, 3, 0, 0]);
  assert.equal(trunc.buf[2] & 0x02, 0x02);
});

test('encodeMessage: TC set on top of the other header flags', () => {
  const msg = sized(40, 0);
  msg.header = { id: 0x0101, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: true, rcode: RCODE.NOERROR };
  const enc = encodeMessage(msg, 512);
  assert.ok(enc);
  assert.equal(enc.buf.readUInt16BE(2), 0x8000 | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0010);
  assert.equal(enc.buf.length, 31 + 30 * 16); // 511 ≤ 512; 31 answers would be 527
  assert.deepEqual(counts(enc.buf), [1, 30, 0, 0]);
});

// ---------------------------------------------------------------- errorReply and helpers

test('errorReply: echoes ID, opcode, RD, CD and the question; sets QR and the rcode', async (t) => {
  // opcode 2, AA, TC, RD, RA, AD, CD all set in the query
  const flags = (2 << 11) | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010;
  const raw = pkt(header(0xbeef, flags, 1, 0, 0, 1), QNAME, u16(TYPE.AAAA), u16(CLASS.IN), opt(4096, 0x8000));
  const questionEnd = 12 + QNAME.length + 4;
  const cases: Array<[string, number, number | null, number, Buffer]> = [
    ['SERVFAIL with the question', RCODE.SERVFAIL, questionEnd, 0x8000 | (2 << 11) | 0x0100 | 0x0010 | 2, pkt(QNAME, u16(TYPE.AAAA), u16(CLASS.IN))],
    ['FORMERR without the question', RCODE.FORMERR, null, 0x8000 | (2 << 11) | 0x0100 | 0x0010 | 1, Buffer.alloc(0)],
    ['NOTIMP', RCODE.NOTIMP, questionEnd, 0x8000 | (2 << 11) | 0x0100 | 0x0010 | 4, pkt(QNAME, u16(TYPE.AAAA), u16(CLASS.IN))],
  ];
  for (const [name, rcode, end, wantFlags, body] of cases) {
    await t.test(name, () => {
      const out = errorReply(raw, rcode, end);
      assert.equal(out.readUInt16BE(0), 0xbeef);
      assert.equal(out.readUInt16BE(2), wantFlags);
      assert.deepEqual(counts(out), [end === null ? 0 : 1, 0, 0, 0]); // OPT not echoed
      assert.equal(out.length, 12 + body.length);
      assert.equal(out.subarray(12).toString('hex'), body.toString('hex'));
      assert.equal(raw.readUInt16BE(2), flags, 'the query buffer is not modified');
    });
  }
  await t.test('RD and CD clear stay clear', () => {
    const plain = Buffer.from(A_QUERY);
    plain.writeUInt16BE(0, 2);
    const out = errorReply(plain, RCODE.REFUSED, null);
    assert.equal(out.readUInt16BE(2), 0x8000 | 5);
  });
  await t.test('decodes as a response', () => {
    const m = decodeMessage(errorReply(raw, RCODE.SERVFAIL, questionEnd));
    assert.deepEqual(m.header, { id: 0xbeef, qr: true, opcode: 2, aa: false, tc: false, rd: true, ra: false, ad: false, cd: true, rcode: RCODE.SERVFAIL });
    assert.deepEqual(m.question, [{ name: 'www.Example.com.', type: TYPE.AAAA, class: CLASS.IN }]);
    assert.equal(m.edns, null);
  });
});

test('headerFlags', () => {
  assert.equal(headerFlags(baseHeader()), 0);
  assert.equal(headerFlags(baseHeader({ qr: true, rd: true, ra: true })), 0x8180);
  assert.equal(headerFlags({ id: 1, qr: true, opcode: 15, aa: true, tc: true, rd: true, ra: true, ad: true, cd: true, rcode: 15 }), 0xffbf);
  assert.equal(headerFlags(baseHeader({ rcode: 0x13 })), 3); // only 4 bits of rcode in the header
});

test('nameToLabels and lowerName', () => {
  const hex = (name: string): string[] => nameToLabels(name).map((b) => b.toString('hex'));
  assert.deepEqual(hex('www.example.com.'), ['777777', '6578616d706c65', '636f6d']);
  assert.deepEqual(hex('.'), []);
  assert.deepEqual(hex('a\\.b.c'), ['612e62', '63']);
  assert.deepEqual(hex('\\065bc.'), ['416263']);
  assert.deepEqual(hex('\\032\\\\\\255.'), ['205cff']);
  assert.deepEqual(hex('é.'), ['c3a9']);
  assert.deepEqual(hex('😀.'), ['f09f9880']); // the whole code point, not two U+FFFD
  assert.equal(lowerName('WwW.Example.COM.'), 'www.example.com.');
  assert.equal(lowerName('ÀÉ.X.'), 'ÀÉ.x.'); // ASCII letters only
});

test('rdataKey: equal data ⇔ equal key (TTL and owner excluded)', () => {
  const rr = (data: RR['data'], type: number = TYPE.A): RR => ({ name: 'x.', type, class: CLASS.IN, ttl: 1, data });
  const cases: Array<[RR, string]> = [
    [rr({ t: 'ip', octets: String.fromCharCode(10, 0, 0, 1) }), '0a000001'],
    [rr({ t: 'name', name: 'Target.Example.' }, TYPE.CNAME), 'target.example.'],
    [rr({ t: 'srv', priority: 10, weight: 33, port: 80, target: 'A.b.' }, TYPE.SRV), '10 33 80 a.b.'],
    [rr({ t: 'mx', preference: 5, exchange: 'Mail.b.' }, TYPE.MX), '5 mail.b.'],
    [rr({ t: 'txt', strings: [Buffer.from('ab'), Buffer.alloc(0)] }, TYPE.TXT), '2:6162 0:'],
    [rr({ t: 'soa', mname: 'NS.b.', rname: 'h.b.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 }, TYPE.SOA), 'ns.b. h.b. 1 2 3 4 5'],
    [rr({ t: 'raw', bytes: Buffer.from([1, 2]) }, TYPE.HINFO), '0102'],
  ];
  for (const [r, want] of cases) assert.equal(rdataKey(r), want, r.data.t);
  // distinct data never collide
  const txt = (...s: string[]): string => rdataKey(rr({ t: 'txt', strings: s.map((x) => Buffer.from(x)) }, TYPE.TXT));
  assert.notEqual(txt(), txt(''));
  assert.notEqual(txt('ab'), txt('a', 'b'));
  const soa = (minimum: number): string => rdataKey(rr({ t: 'soa', mname: 'a.', rname: 'b.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum }, TYPE.SOA));
  assert.notEqual(soa(60), soa(30));
});

test('typeName and rcodeName', () => {
  const types: Array<[number, string]> = [
    [1, 'A'],
    [28, 'AAAA'],
    [33, 'SRV'],
    [255, 'ANY'],
    [99, 'TYPE99'],
  ];
  for (const [n, want] of types) assert.equal(typeName(n), want);
  assert.equal(rcodeName(3), 'NXDOMAIN');
  assert.equal(rcodeName(0), 'NOERROR');
  assert.equal(rcodeName(16), 'RCODE16');
});

// ---------------------------------------------------------------- the fast path for common answers

test('encodeMessage: the common shapes take the fast path and decode exactly as the general path', () => {
  const zone = 'cluster.local.';
  const soaRR = (ttl: number, rname = `hostmaster.${zone}`): RR => ({
    name: zone, type: TYPE.SOA, class: CLASS.IN, ttl,
    data: { t: 'soa', mname: `ns.dns.${zone}`, rname, serial: 1764720000, refresh: 28800, retry: 7200, expire: 604800, minimum: 60 },
  });
  const ip4 = (owner: string, last: number, ttl = 30): RR => ({ name: owner, type: TYPE.A, class: CLASS.IN, ttl, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, last) } });
  const ip6 = (owner: string): RR => ({ name: owner, type: TYPE.AAAA, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9) } });
  const cases: { qname: string; rcode: number; answer: RR[]; authority: RR[]; edns: boolean; fast: boolean }[] = [
    { qname: 'Svc1.Ns1.svc.cluster.local.', rcode: RCODE.NOERROR, answer: [ip4('Svc1.Ns1.svc.cluster.local.', 1)], authority: [], edns: true, fast: true },
    { qname: 'db.ns1.svc.cluster.local.', rcode: RCODE.NOERROR, answer: [1, 2, 3].map((i) => ip4('db.ns1.svc.cluster.local.', i)), authority: [], edns: false, fast: true },
    { qname: 'v6.ns1.svc.cluster.local.', rcode: RCODE.NOERROR, answer: [ip6('v6.ns1.svc.cluster.local.')], authority: [], edns: true, fast: true },
    { qname: 'x.ns1.other.svc.cluster.local.', rcode: RCODE.NXDOMAIN, answer: [], authority: [soaRR(60)], edns: true, fast: true },
    { qname: 'svc1.ns1.svc.cluster.local.', rcode: RCODE.NOERROR, answer: [], authority: [soaRR(60)], edns: false, fast: true },
    { qname: 'CLUSTER.local.', rcode: RCODE.NOERROR, answer: [], authority: [soaRR(60)], edns: true, fast: true },
    // Not the common shapes: the general path.
    { qname: 'a.cluster.local.', rcode: RCODE.NOERROR, answer: [{ ...ip4('other.cluster.local.', 1) }], authority: [], edns: true, fast: false },
    { qname: 'a.cluster.local.', rcode: RCODE.NOERROR, answer: [{ name: 'a.cluster.local.', type: TYPE.CNAME, class: CLASS.IN, ttl: 5, data: { t: 'name', name: 'b.cluster.local.' } }], authority: [], edns: true, fast: false },
    { qname: 'a.example.org.', rcode: RCODE.NXDOMAIN, answer: [], authority: [soaRR(60)], edns: true, fast: false },
  ];
  for (const c of cases) {
    const query = pkt(header(0x4321, 0x0110, 1, 0, 0, c.edns ? 1 : 0), wname(...c.qname.split('.').filter((l) => l !== '')), u16(TYPE.A), u16(CLASS.IN), c.edns ? opt(4096, 0x8000) : []);
    const q = parseQuery(query);
    const msg: Message = {
      header: { id: 0x4321, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: true, rcode: c.rcode },
      question: [{ name: q.qname, type: q.qtype, class: q.qclass }],
      answer: c.answer,
      authority: c.authority,
      additional: [],
      edns: c.edns ? { udpSize: 1232, extRcode: 0, version: 0, do: true, options: [] } : null,
    };
    const soa = new ZoneSoa(zone, `ns.dns.${zone}`, `hostmaster.${zone}`);
    const general = encodeMessage(msg, 512)!;
    const fast = encodeMessage(msg, 512, { raw: q.raw, questionEnd: q.questionEnd, qname: q.qname, soa })!;
    assert.deepEqual(decodeMessage(fast.buf), decodeMessage(general.buf), c.qname);
    assert.equal(fast.truncated, false);
    assert.deepEqual(fast.answerOffsets.length, c.answer.length + 1);
    // The fast path writes what the general one writes, compressing at least as well.
    assert.ok(fast.buf.length <= general.buf.length, `${c.qname}: ${fast.buf.length} > ${general.buf.length}`);
    if (c.fast) assert.equal(fast.buf.length, general.buf.length, `${c.qname}: same size`);
    // The question is the request's own bytes.
    assert.deepEqual(fast.buf.subarray(12, q.questionEnd), query.subarray(12, q.questionEnd));
  }
});

test('encodeMessage: a common answer too large for the limit is fitted by the general path', () => {
  const qname = 'big.cluster.local.';
  const query = pkt(header(1, 0x0100, 1, 0, 0, 0), wname('big', 'cluster', 'local'), u16(TYPE.A), u16(CLASS.IN));
  const q = parseQuery(query);
  const answer: RR[] = Array.from({ length: 40 }, (_, i) => ({ name: qname, type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip' as const, octets: String.fromCharCode(10, 0, 1, i) } }));
  const msg: Message = {
    header: { id: 1, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: false, rcode: 0 },
    question: [{ name: qname, type: TYPE.A, class: CLASS.IN }],
    answer, authority: [], additional: [], edns: null,
  };
  const fast = encodeMessage(msg, 512, { raw: q.raw, questionEnd: q.questionEnd, qname: q.qname, soa: null })!;
  assert.equal(fast.truncated, true);
  assert.ok(fast.buf.length <= 512);
  assert.deepEqual(fast.buf, encodeMessage(msg, 512)!.buf);
});

test('ZoneSoa: refuses names it cannot pre-encode', () => {
  assert.throws(() => new ZoneSoa('.', 'ns.', 'h.'), WireError);
  assert.throws(() => new ZoneSoa('Cluster.local.', 'ns.dns.cluster.local.', 'h.cluster.local.'), WireError);
  assert.throws(() => new ZoneSoa('cluster.local.', 'ns.example.org.', 'h.cluster.local.'), WireError);
  // An RNAME outside the zone would compress against whatever the question holds: the general path does that.
  assert.throws(() => new ZoneSoa('cluster.local.', 'ns.dns.cluster.local.', 'hostmaster.skydns.local.'), WireError);
  assert.throws(() => new ZoneSoa('cluster.local.', `${'x'.repeat(64)}.cluster.local.`, 'h.cluster.local.'), WireError);
});

test('header helpers: each changes only its own bits, read back by decodeMessage', () => {
  const reply = errorReply(encodeQuery('a.example.', TYPE.A, 7), RCODE.NXDOMAIN, null);
  assert.equal(isResponse(reply), true);
  assert.equal(isResponse(encodeQuery('a.example.', TYPE.A, 7)), false);
  assert.equal(rcodeOf(reply), RCODE.NXDOMAIN);
  setId(reply, 0xbeef);
  setTC(reply);
  setRA(reply);
  let h = decodeMessage(reply).header;
  // RD stays as the query had it (encodeQuery sets it).
  assert.deepEqual([h.id, h.tc, h.ra, h.rcode, h.qr, h.rd, h.cd], [0xbeef, true, true, RCODE.NXDOMAIN, true, true, false]);
  assert.equal(isTruncated(reply), true);
  // A cached reply takes the request's ID, RD and CD, nothing else (its TC and RA stay); at an offset too.
  const req = encodeQuery('a.example.', TYPE.A, 0x1234);
  req[2] &= ~0x01; // no RD
  req[3] |= 0x10; // CD
  const out = Buffer.concat([Buffer.alloc(5), reply]);
  takeRequestBits(out, req, 5);
  h = decodeMessage(out.subarray(5)).header;
  assert.deepEqual([h.id, h.rd, h.cd, h.ra, h.tc, h.rcode, h.qr], [0x1234, false, true, true, true, RCODE.NXDOMAIN, true]);
  const full = Buffer.from(encodeMessage({ header: { id: 1, qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0 }, question: [{ name: 'a.example.', type: TYPE.A, class: CLASS.IN }], answer: [{ name: 'a.example.', type: TYPE.A, class: CLASS.IN, ttl: 5, data: { t: 'a', address: '192.0.2.1' } as never }], authority: [], additional: [], edns: null })!.buf);
  clearRecordCounts(full);
  assert.deepEqual([full.readUInt16BE(4), full.readUInt16BE(6), full.readUInt16BE(8), full.readUInt16BE(10)], [1, 0, 0, 0]);
});
