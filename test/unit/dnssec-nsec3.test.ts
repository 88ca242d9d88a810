/**
 * lib/dnssec/nsec3 and lib/dnssec/canonical: base32hex against RFC 4648 §10,
 * NSEC3 hashes against ldns-nsec3-hash (`-t 0 -s ''`: SHA-1, 0 extra
 * iterations, empty salt) output captured as constants, hash ± 1 with carry
 * and wrap, type bitmaps against RFC 4034 §4.3, and the NXDOMAIN and NODATA
 * proofs of docs/dnssec.md §5 record by record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLASS, TYPE, type RR } from '../../lib/skydns/wire.js';
import { base32hex, hashAdd, nameErrorProof, noDataProof, nsec3Hash, typeBitmap } from '../../lib/dnssec/nsec3.js';
import { canonicalName, canonicalRdata, inZone, rrsigLabels } from '../../lib/dnssec/canonical.js';

/** RFC 4648 §10, BASE32-HEX, lower-cased and unpadded. */
const B32HEX_VECTORS: Array<[string, string]> = [
  ['', ''],
  ['f', 'co'],
  ['fo', 'cpng'],
  ['foo', 'cpnmu'],
  ['foob', 'cpnmuog'],
  ['fooba', 'cpnmuoj1'],
  ['foobar', 'cpnmuoj1e8'],
];

test('base32hex: RFC 4648 §10 vectors', () => {
  for (const [plain, enc] of B32HEX_VECTORS) assert.equal(base32hex(Buffer.from(plain)), enc, plain);
  assert.equal(base32hex(Buffer.alloc(20, 0xff)), 'v'.repeat(32));
  assert.equal(base32hex(Buffer.alloc(20)), '0'.repeat(32));
});

/** `ldns-nsec3-hash -t 0 -s '' <name>` (ldns 1.8). */
const LDNS_HASHES: Array<[string, string]> = [
  ['cluster.local.', 'sttsgfkic44d6smn8dme227qb45jps76'],
  ['svc.cluster.local.', '6greci1h73iqs78q5embvkoje3ob81it'],
  ['web.default.svc.cluster.local.', '1uahdalokp2ravdbdnvva78e98ac5v72'],
  ['WEB.Default.SVC.cluster.local.', '1uahdalokp2ravdbdnvva78e98ac5v72'],
  ['*.svc.cluster.local.', 'c1btukfd0202v2ldqekep1459cdfharn'],
  ['nothere.cluster.local.', 'tajoarmho7kqinui9ria7gbeibupp26s'],
  ['a.b.nothere.cluster.local.', 'q8ke6qbpbneiklcnsvh9ucof0c41cmrh'],
  ['b.nothere.cluster.local.', 'uv490ogk5cbbghanebfho8getrmti2sf'],
  ['*.b.nothere.cluster.local.', 's5klhiejlfafvp4noas0q76vga199378'],
  ['a\\.b.cluster.local.', 'b2tbh6l6u8kku7qnr0q8qighh7oio4nm'],
  ['a\\032b.cluster.local.', '3v7upl7rku8kv97tt0n0aobh8idc2kd1'],
  ['example.', '3msev9usmd4br9s97v51r2tdvmr9iqo1'],
  ['.', 'bekjp7dgpvsjukll47bk43i3urmq4u2f'],
];

test('nsec3Hash: matches ldns-nsec3-hash (SHA-1, 0 iterations, no salt), case-insensitive, escapes', () => {
  for (const [name, want] of LDNS_HASHES) {
    const h = nsec3Hash(name);
    assert.equal(h.length, 20);
    assert.equal(base32hex(h), want, name);
  }
});

test('hashAdd: carry, borrow and wrap-around modulo 2^160', () => {
  const hex = (s: string) => Buffer.from(s, 'hex');
  const h = (s: string) => hex(s.padStart(40, '0'));
  assert.deepEqual(hashAdd(h('01'), 1), h('02'));
  assert.deepEqual(hashAdd(h('02'), -1), h('01'));
  assert.deepEqual(hashAdd(h('00ff'), 1), h('0100'));
  assert.deepEqual(hashAdd(h('01ffff'), 1), h('020000'));
  assert.deepEqual(hashAdd(h('0100'), -1), h('00ff'));
  assert.deepEqual(hashAdd(h('010000'), -1), h('00ffff'));
  assert.deepEqual(hashAdd(Buffer.alloc(20, 0xff), 1), Buffer.alloc(20));
  assert.deepEqual(hashAdd(Buffer.alloc(20), -1), Buffer.alloc(20, 0xff));
  const x = h('1234');
  hashAdd(x, 1);
  assert.deepEqual(x, h('1234'), 'input untouched');
});

test('typeBitmap: RFC 4034 §4.3 example (A MX RRSIG NSEC TYPE1234) and empty', () => {
  const want = Buffer.from([0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, ...Array(26).fill(0), 0x20]);
  assert.deepEqual(typeBitmap([1234, 47, 46, 15, 1]), want);
  assert.deepEqual(typeBitmap([]), Buffer.alloc(0));
});

const DOMAIN = 'cluster.local.';
const raw = (rr: RR): Buffer => (rr.data as { t: 'raw'; bytes: Buffer }).bytes;
/** Splits NSEC3 rdata into its fields. */
function fields(rr: RR): { alg: number; flags: number; iterations: number; salt: number; hashLen: number; next: Buffer; bitmap: Buffer } {
  const b = raw(rr);
  return { alg: b[0], flags: b[1], iterations: b.readUInt16BE(2), salt: b[4], hashLen: b[5], next: b.subarray(6, 26), bitmap: b.subarray(26) };
}
const b32 = (name: string): string => base32hex(nsec3Hash(name));

function checkCommon(rr: RR, ttl: number): void {
  assert.equal(rr.type, TYPE.NSEC3);
  assert.equal(rr.class, CLASS.IN);
  assert.equal(rr.ttl, ttl);
  assert.match(rr.name, /^[0-9a-v]{32}\.cluster\.local\.$/);
  const f = fields(rr);
  assert.deepEqual([f.alg, f.flags, f.iterations, f.salt, f.hashLen], [1, 0, 0, 0, 20]);
  assert.equal(raw(rr).length, 26 + f.bitmap.length);
}

/** Whether the NSEC3 covers hash h (strictly between owner and next, RFC 5155 §8.3, wrap included). */
function covers(rr: RR, h: Buffer): boolean {
  const o = fromB32(rr.name.split('.')[0]);
  const n = fields(rr).next;
  if (Buffer.compare(o, n) < 0) return Buffer.compare(o, h) < 0 && Buffer.compare(h, n) < 0;
  return Buffer.compare(o, h) < 0 || Buffer.compare(h, n) < 0;
}

/** base32hex decoding, for the test only. */
function fromB32(s: string): Buffer {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  for (const c of s) {
    acc = (acc << 5) | '0123456789abcdefghijklmnopqrstuv'.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

test('nameErrorProof: encloser match, wildcard cover, next-closer cover (docs/dnssec.md §5.1)', () => {
  const proof = nameErrorProof('A.B.NoThere.cluster.local.', 'Cluster.Local.', 60);
  assert.equal(proof.length, 3);
  for (const rr of proof) checkCommon(rr, 60);
  const [ce, wild, nc] = proof;
  // 1. closest encloser b.nothere.cluster.local. matched, types A AAAA SRV RRSIG.
  assert.equal(ce.name, 'uv490ogk5cbbghanebfho8getrmti2sf.cluster.local.');
  assert.deepEqual(fields(ce).next, hashAdd(nsec3Hash('b.nothere.cluster.local.'), 1));
  assert.deepEqual(fields(ce).bitmap, typeBitmap([TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.RRSIG]));
  // 2. *.b.nothere.cluster.local. covered, no types.
  const hw = nsec3Hash('*.b.nothere.cluster.local.');
  assert.equal(base32hex(hw), 's5klhiejlfafvp4noas0q76vga199378');
  assert.equal(wild.name, base32hex(hashAdd(hw, -1)) + '.cluster.local.');
  assert.deepEqual(fields(wild).next, hashAdd(hw, 1));
  assert.equal(fields(wild).bitmap.length, 0);
  assert.ok(covers(wild, hw));
  // 3. qname covered, no types.
  const hq = nsec3Hash('a.b.nothere.cluster.local.');
  assert.equal(nc.name, base32hex(hashAdd(hq, -1)) + '.cluster.local.');
  assert.deepEqual(fields(nc).next, hashAdd(hq, 1));
  assert.equal(fields(nc).bitmap.length, 0);
  assert.ok(covers(nc, hq));
  assert.ok(!covers(nc, nsec3Hash('b.nothere.cluster.local.')));
});

test('nameErrorProof: escaped dot in the first label is part of that label', () => {
  const [ce] = nameErrorProof('x\\.y.svc.cluster.local.', DOMAIN, 30);
  assert.equal(ce.name, b32('svc.cluster.local.') + '.cluster.local.');
});

/** NODATA bitmaps by qtype: A AAAA SRV RRSIG minus the type asked (bug 9.1). */
const NODATA_BITMAPS: Array<[string, number, number[]]> = [
  ['A', TYPE.A, [0x00, 0x06, 0x00, 0x00, 0x00, 0x08, 0x40, 0x02]],
  ['AAAA', TYPE.AAAA, [0x00, 0x06, 0x40, 0x00, 0x00, 0x00, 0x40, 0x02]],
  ['SRV', TYPE.SRV, [0x00, 0x06, 0x40, 0x00, 0x00, 0x08, 0x00, 0x02]],
  ['TXT', TYPE.TXT, [0x00, 0x06, 0x40, 0x00, 0x00, 0x08, 0x40, 0x02]],
  ['DS', TYPE.DS, [0x00, 0x06, 0x40, 0x00, 0x00, 0x08, 0x40, 0x02]],
  ['RRSIG', TYPE.RRSIG, [0x00, 0x06, 0x40, 0x00, 0x00, 0x08, 0x40, 0x02]],
];

for (const [name, qtype, bitmap] of NODATA_BITMAPS) {
  test(`noDataProof: ${name} bitmap`, () => {
    const proof = noDataProof('Web.Default.svc.cluster.local.', qtype, DOMAIN, 45);
    assert.equal(proof.length, 1);
    checkCommon(proof[0], 45);
    assert.equal(proof[0].name, '1uahdalokp2ravdbdnvva78e98ac5v72.cluster.local.');
    assert.deepEqual(fields(proof[0]).next, hashAdd(nsec3Hash('web.default.svc.cluster.local.'), 1));
    assert.deepEqual([...fields(proof[0]).bitmap], bitmap);
  });
}

test('canonicalName: lower case, escapes, root', () => {
  assert.deepEqual(canonicalName('Web.Cluster.LOCAL.'), Buffer.from('\x03web\x07cluster\x05local\x00', 'latin1'));
  assert.deepEqual(canonicalName('A\\.B.c.'), Buffer.from('\x03a.b\x01c\x00', 'latin1'));
  assert.deepEqual(canonicalName('a\\032B.'), Buffer.from('\x03a b\x00', 'latin1'));
  assert.deepEqual(canonicalName('.'), Buffer.from([0]));
});

test('canonicalRdata: names lower-cased inside CNAME, NS, PTR, MX, SRV, SOA; others as is', () => {
  const rr = (type: number, data: RR['data']): RR => ({ name: 'x.', type, class: 1, ttl: 1, data });
  assert.deepEqual(canonicalRdata(rr(TYPE.A, { t: 'ip', octets: String.fromCharCode(10, 0, 0, 1) })), Buffer.from([10, 0, 0, 1]));
  assert.deepEqual(canonicalRdata(rr(TYPE.CNAME, { t: 'name', name: 'Foo.Bar.' })), canonicalName('foo.bar.'));
  assert.deepEqual(canonicalRdata(rr(TYPE.MX, { t: 'mx', preference: 10, exchange: 'MX.Bar.' })), Buffer.concat([Buffer.from([0, 10]), canonicalName('mx.bar.')]));
  assert.deepEqual(
    canonicalRdata(rr(TYPE.SRV, { t: 'srv', priority: 1, weight: 2, port: 0x1f90, target: 'T.Bar.' })),
    Buffer.concat([Buffer.from([0, 1, 0, 2, 0x1f, 0x90]), canonicalName('t.bar.')]),
  );
  assert.deepEqual(canonicalRdata(rr(TYPE.TXT, { t: 'txt', strings: [Buffer.from('Hi'), Buffer.from('')] })), Buffer.from('\x02Hi\x00', 'latin1'));
  const soa = canonicalRdata(rr(TYPE.SOA, { t: 'soa', mname: 'NS.dns.X.', rname: 'Host.X.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 }));
  assert.deepEqual(soa, Buffer.concat([canonicalName('ns.dns.x.'), canonicalName('host.x.'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5])]));
  assert.deepEqual(canonicalRdata(rr(99, { t: 'raw', bytes: Buffer.from('AbC') })), Buffer.from('AbC'));
});

test('rrsigLabels: labels, leading * not counted', () => {
  assert.equal(rrsigLabels('cluster.local.'), 2);
  assert.equal(rrsigLabels('web.default.svc.cluster.local.'), 5);
  assert.equal(rrsigLabels('*.default.svc.cluster.local.'), 4);
  assert.equal(rrsigLabels('a.*.svc.cluster.local.'), 5);
  assert.equal(rrsigLabels('a\\.b.cluster.local.'), 3);
  assert.equal(rrsigLabels('.'), 0);
});

test('inZone: label boundaries, case, escapes', () => {
  assert.ok(inZone('cluster.local.', DOMAIN));
  assert.ok(inZone('Web.CLUSTER.local.', DOMAIN));
  assert.ok(!inZone('mycluster.local.', DOMAIN));
  assert.ok(!inZone('local.', DOMAIN));
  assert.ok(!inZone('a\\.cluster.local.', DOMAIN));
  assert.ok(!inZone('x.a\\.cluster.local.', DOMAIN));
  assert.ok(inZone('a\\.b.cluster.local.', DOMAIN));
  assert.ok(inZone('anything.', '.'));
});
