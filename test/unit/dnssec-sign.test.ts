/**
 * lib/dnssec/sign: RRSIG fields (docs/dnssec.md §4.2), signatures checked with
 * node:crypto over a canonical form built here by hand (not by canonical.ts),
 * record-order independence, the signature cache (docs/dnssec.md §6, bugs 9.2, 9.3,
 * 9.6), which sets get signed (4.1), and denial records added by signAnswer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { CLASS, TYPE, type RR, type RData } from '../../lib/skydns/wire.js';
import { loadKey, type DnssecKey } from '../../lib/dnssec/key.js';
import { Signer, type SignerOptions } from '../../lib/dnssec/sign.js';
import { KEYS, type KeyFixture } from './fixtures/dnssec-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dnssec-sign-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const loaded = new Map<string, DnssecKey>();
function key(k: KeyFixture): DnssecKey {
  let v = loaded.get(k.base);
  if (!v) {
    const sub = join(dir, String(loaded.size));
    mkdirSync(sub);
    writeFileSync(join(sub, k.base + '.key'), k.key);
    writeFileSync(join(sub, k.base + '.private'), k.private);
    v = loadKey(join(sub, k.base), 'cluster.local.');
    loaded.set(k.base, v);
  }
  return v;
}

const NOW = 1_700_000_000;
function signer(k: KeyFixture = KEYS.ecdsap256, over: Partial<SignerOptions> = {}): { s: Signer; misses: () => number; clock: { t: number } } {
  const clock = { t: NOW };
  let n = 0;
  const s = new Signer(key(k), { domain: 'cluster.local.', ttl: 3600, minTtl: 60, scache: 100, now: () => clock.t, onMiss: () => n++, ...over });
  return { s, misses: () => n, clock };
}

// ---------------------------------------------------------------- records and an independent canonical form

const rr = (name: string, type: number, ttl: number, data: RData): RR => ({ name, type, class: CLASS.IN, ttl, data });
const a = (name: string, ip: string, ttl = 30): RR => rr(name, TYPE.A, ttl, { t: 'ip', octets: String.fromCharCode(...ip.split('.').map(Number)) });
const WEB = 'Web.Default.SVC.cluster.local.';

/** Hand-made wire name: lower-cased plain labels. */
function wire(name: string): Buffer {
  const parts: number[] = [];
  for (const l of name.toLowerCase().split('.').filter((x) => x !== '')) parts.push(l.length, ...Buffer.from(l, 'latin1'));
  parts.push(0);
  return Buffer.from(parts);
}
const be16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

interface Rrsig {
  typeCovered: number;
  algorithm: number;
  labels: number;
  origTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string;
  signerWire: Buffer;
  signature: Buffer;
  /** rdata without the signature. */
  head: Buffer;
}

function parseRrsig(sig: RR): Rrsig {
  assert.equal(sig.type, TYPE.RRSIG);
  assert.equal(sig.data.t, 'raw');
  const b = (sig.data as { t: 'raw'; bytes: Buffer }).bytes;
  let p = 18;
  const labels: string[] = [];
  while (b[p] !== 0) {
    labels.push(b.subarray(p + 1, p + 1 + b[p]).toString('latin1'));
    p += b[p] + 1;
  }
  p++;
  return {
    typeCovered: b.readUInt16BE(0),
    algorithm: b[2],
    labels: b[3],
    origTtl: b.readUInt32BE(4),
    expiration: b.readUInt32BE(8),
    inception: b.readUInt32BE(12),
    keyTag: b.readUInt16BE(16),
    signer: labels.join('.') + '.',
    signerWire: b.subarray(18, p),
    signature: b.subarray(p),
    head: b.subarray(0, p),
  };
}

/** The public key straight from the DNSKEY rdata (RFC 3110, 6605, 8080), not from the private key. */
function publicKeyOf(k: DnssecKey): KeyObject {
  const pk = k.rdata.subarray(4);
  if (k.algorithm === 13 || k.algorithm === 14) {
    const w = pk.length / 2;
    return createPublicKey({ key: { kty: 'EC', crv: w === 32 ? 'P-256' : 'P-384', x: pk.subarray(0, w).toString('base64url'), y: pk.subarray(w).toString('base64url') }, format: 'jwk' });
  }
  if (k.algorithm === 15) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, format: 'jwk' });
  const elen = pk[0];
  return createPublicKey({ key: { kty: 'RSA', e: pk.subarray(1, 1 + elen).toString('base64url'), n: pk.subarray(1 + elen).toString('base64url') }, format: 'jwk' });
}

/** Verifies an RRSIG over records given as (owner, type, canonical rdata built by the caller). */
function verifies(k: DnssecKey, sig: RR, owner: string, type: number, rdatas: Buffer[]): boolean {
  const f = parseRrsig(sig);
  const sorted = [...rdatas].sort(Buffer.compare);
  const data = Buffer.concat([f.head, ...sorted.flatMap((r) => [wire(owner), be16(type), be16(CLASS.IN), be32(f.origTtl), be16(r.length), r])]);
  const digest = ({ 5: 'sha1', 7: 'sha1', 8: 'sha256', 10: 'sha512', 13: 'sha256', 14: 'sha384' } as Record<number, string>)[k.algorithm] ?? null;
  const pub = publicKeyOf(k);
  const opts = k.algorithm === 13 || k.algorithm === 14 ? { key: pub, dsaEncoding: 'ieee-p1363' as const } : pub;
  return verify(digest, data, opts, f.signature);
}

// ---------------------------------------------------------------- fields

test('RRSIG fields (docs/dnssec.md §4.2)', () => {
  const { s } = signer();
  const set = [a(WEB, '10.0.0.1'), a(WEB, '10.0.0.2')];
  const sig = s.signSet(set);
  assert.equal(sig.name, WEB, 'owner case as sent');
  assert.equal(sig.class, CLASS.IN);
  assert.equal(sig.ttl, 30, 'TTL of the set');
  const f = parseRrsig(sig);
  assert.equal(f.typeCovered, TYPE.A);
  assert.equal(f.algorithm, 13);
  assert.equal(f.labels, 5);
  assert.equal(f.origTtl, 3600, 'original TTL = config ttl');
  assert.equal(f.inception, NOW - 3 * 3600);
  assert.equal(f.expiration, NOW + 7 * 86400);
  assert.equal(f.keyTag, 44807);
  assert.equal(f.signer, 'cluster.local.');
  assert.deepEqual(f.signerWire, wire('cluster.local.'));
  assert.equal(f.signature.length, 64);
  assert.ok(verifies(s.key, sig, WEB, TYPE.A, [Buffer.from([10, 0, 0, 1]), Buffer.from([10, 0, 0, 2])]));
  assert.ok(!verifies(s.key, sig, WEB, TYPE.A, [Buffer.from([10, 0, 0, 1]), Buffer.from([10, 0, 0, 3])]), 'the check can fail');
});

test('labels: wildcard owner not counting "*"; signer lower case from a mixed-case key owner', () => {
  const { s } = signer();
  const sig = s.signSet([a('*.Default.svc.cluster.local.', '10.0.0.1')]);
  assert.equal(parseRrsig(sig).labels, 4);
  assert.equal(sig.name, '*.Default.svc.cluster.local.');
  assert.ok(verifies(s.key, sig, '*.default.svc.cluster.local.', TYPE.A, [Buffer.from([10, 0, 0, 1])]));
});

test('TXT: original TTL is the set\'s own TTL (quirk of 4.2); others: the config ttl', () => {
  const { s } = signer(KEYS.ecdsap256, { ttl: 7200 });
  const txt = rr('t.cluster.local.', TYPE.TXT, 123, { t: 'txt', strings: [Buffer.from('hello')] });
  const sig = s.signSet([txt]);
  assert.equal(parseRrsig(sig).origTtl, 123);
  assert.equal(sig.ttl, 123);
  assert.ok(verifies(s.key, sig, 't.cluster.local.', TYPE.TXT, [Buffer.from('\x05hello', 'latin1')]));
  const srv = rr('_x._tcp.cluster.local.', TYPE.SRV, 123, { t: 'srv', priority: 10, weight: 20, port: 53, target: 'a.cluster.local.' });
  assert.equal(parseRrsig(s.signSet([srv])).origTtl, 7200);
});

for (const [name, k] of Object.entries(KEYS)) {
  test(`signature verifies with ${name} (algorithm ${k.algorithm}), names in rdata lower-cased`, () => {
    const { s } = signer(k);
    assert.equal(parseRrsig(s.signSet([a(WEB, '10.0.0.1')])).keyTag, k.keyTag);
    const srvs = [
      rr(WEB, TYPE.SRV, 30, { t: 'srv', priority: 10, weight: 50, port: 8080, target: 'Pod-1.Web.cluster.local.' }),
      rr(WEB, TYPE.SRV, 30, { t: 'srv', priority: 10, weight: 50, port: 8080, target: 'pod-0.web.cluster.local.' }),
    ];
    const sig = s.signSet(srvs);
    const rd = (t: string) => Buffer.concat([be16(10), be16(50), be16(8080), wire(t)]);
    assert.equal(parseRrsig(sig).algorithm, k.algorithm);
    assert.ok(verifies(s.key, sig, WEB, TYPE.SRV, [rd('pod-1.web.cluster.local.'), rd('pod-0.web.cluster.local.')]));
    const cname = s.signSet([rr('Alias.cluster.local.', TYPE.CNAME, 30, { t: 'name', name: 'Target.Example.COM.' })]);
    assert.ok(verifies(s.key, cname, 'alias.cluster.local.', TYPE.CNAME, [wire('target.example.com.')]));
  });
}

test('DNSKEY record and its RRSIG (apex, labels = 2)', () => {
  const { s } = signer(KEYS.ecdsap256Ksk);
  const dk = s.dnskey('Cluster.Local.');
  assert.equal(dk.name, 'Cluster.Local.');
  assert.equal(dk.type, TYPE.DNSKEY);
  assert.equal(dk.ttl, 3600);
  assert.deepEqual((dk.data as { bytes: Buffer }).bytes.subarray(0, 4), Buffer.from([1, 1, 3, 13]));
  const sig = s.signSet([dk]);
  assert.equal(parseRrsig(sig).labels, 2);
  assert.equal(parseRrsig(sig).keyTag, 57842);
  assert.ok(verifies(s.key, sig, 'cluster.local.', TYPE.DNSKEY, [s.key.rdata]));
});

// ---------------------------------------------------------------- order and the cache

test('record order does not matter: one cache entry, same bytes (RSA deterministic, also uncached)', () => {
  const ips = ['10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.1'];
  const { s, misses } = signer(KEYS.rsasha256);
  const one = s.signSet(ips.map((ip) => a(WEB, ip)));
  const two = s.signSet([...ips].reverse().map((ip) => a(WEB.toLowerCase(), ip)));
  assert.equal(s.cached, 1);
  assert.equal(misses(), 1);
  assert.deepEqual(one.data, two.data);
  const { s: u, misses: um } = signer(KEYS.rsasha256, { scache: 0 });
  const x = u.signSet(ips.map((ip) => a(WEB, ip)));
  const y = u.signSet([ips[2], ips[0], ips[1]].map((ip) => a(WEB, ip)));
  assert.equal(u.cached, 0);
  assert.equal(um(), 2, 'every signing a miss without a cache');
  assert.deepEqual(x.data, y.data, 'duplicates removed, canonical order');
  assert.deepEqual(x.data, one.data);
});

const srv = (port: number, target = 'a.cluster.local.', weight = 10): RR => rr(WEB, TYPE.SRV, 30, { t: 'srv', priority: 10, weight, port, target });
const aaaa = (last: number): RR => rr(WEB, TYPE.AAAA, 30, { t: 'ip', octets: String.fromCharCode(0xfd, ...Array(14).fill(0), last) });
const txt = (s: string): RR => rr(WEB, TYPE.TXT, 30, { t: 'txt', strings: [Buffer.from(s)] });
const cname = (t: string): RR => rr(WEB, TYPE.CNAME, 30, { t: 'name', name: t });
const mx = (p: number, t: string): RR => rr(WEB, TYPE.MX, 30, { t: 'mx', preference: p, exchange: t });
const soa = (serial: number): RR => rr('cluster.local.', TYPE.SOA, 30, { t: 'soa', mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.', serial, refresh: 1, retry: 2, expire: 3, minimum: 4 });

/** A set and a one-record change of it that must not share a cache entry (bug 9.2). */
const CHANGES: Array<[string, RR[], RR[]]> = [
  ['A address', [a(WEB, '10.0.0.1'), a(WEB, '10.0.0.2')], [a(WEB, '10.0.0.1'), a(WEB, '10.0.0.9')]],
  ['AAAA address', [aaaa(1)], [aaaa(2)]],
  ['SRV port', [srv(80), srv(81, 'b.cluster.local.')], [srv(80), srv(82, 'b.cluster.local.')]],
  ['SRV weight', [srv(80)], [srv(80, 'a.cluster.local.', 11)]],
  ['SRV target', [srv(80)], [srv(80, 'c.cluster.local.')]],
  ['TXT text', [txt('v=1')], [txt('v=2')]],
  ['CNAME target', [cname('x.cluster.local.')], [cname('y.cluster.local.')]],
  ['MX exchange', [mx(10, 'm1.cluster.local.')], [mx(10, 'm2.cluster.local.')]],
  ['MX preference', [mx(10, 'm1.cluster.local.')], [mx(20, 'm1.cluster.local.')]],
  ['SOA serial', [soa(1)], [soa(2)]],
  ['owner', [a(WEB, '10.0.0.1')], [a('other.cluster.local.', '10.0.0.1')]],
];

for (const [name, before, changed] of CHANGES) {
  test(`cache key covers the data: ${name}`, () => {
    const { s, misses } = signer();
    const one = s.signSet(before);
    const two = s.signSet(changed);
    assert.equal(misses(), 2);
    assert.equal(s.cached, 2);
    assert.notDeepEqual(one.data, two.data);
    // And the same set again hits.
    assert.deepEqual(s.signSet(changed).data, two.data);
    assert.equal(misses(), 2);
  });
}

test('same set in other case (owner, names in rdata) shares the entry', () => {
  const { s, misses } = signer();
  const one = s.signSet([cname('X.Cluster.Local.')]);
  const two = s.signSet([{ ...cname('x.cluster.local.'), name: WEB.toUpperCase() }]);
  assert.equal(misses(), 1);
  assert.deepEqual(one.data, two.data);
  assert.equal(two.name, WEB.toUpperCase(), 'owner as sent this time');
});

test('cached signature reused byte for byte (ECDSA is randomised) with the current TTL (bug 9.6), copy not shared', () => {
  const { s, misses } = signer();
  const one = s.signSet([a(WEB, '10.0.0.1', 30)]);
  const two = s.signSet([a(WEB, '10.0.0.1', 5)]);
  assert.equal(misses(), 1);
  assert.deepEqual(one.data, two.data);
  assert.equal(one.ttl, 30);
  assert.equal(two.ttl, 5);
  const saved = Buffer.from((one.data as { bytes: Buffer }).bytes);
  (two.data as { bytes: Buffer }).bytes.fill(0);
  assert.deepEqual((s.signSet([a(WEB, '10.0.0.1')]).data as { bytes: Buffer }).bytes, saved, 'cache untouched by a change to a copy');
  // Uncached ECDSA: a fresh, different signature each time.
  const { s: u } = signer(KEYS.ecdsap256, { scache: 0 });
  assert.notDeepEqual(u.signSet([a(WEB, '10.0.0.1')]).data, u.signSet([a(WEB, '10.0.0.1')]).data);
});

test('TXT TTL change is a new entry (its TTL is the original TTL)', () => {
  const { s, misses } = signer();
  s.signSet([txt('a')]);
  s.signSet([{ ...txt('a'), ttl: 31 }]);
  assert.equal(misses(), 2);
});

test('expiry: reused while more than 48 h are left, then re-signed', () => {
  const { s, misses, clock } = signer();
  const set = [a(WEB, '10.0.0.1')];
  const first = s.signSet(set);
  clock.t = NOW + 5 * 86400 - 1; // 48 h + 1 s left
  assert.deepEqual(s.signSet(set).data, first.data);
  assert.equal(misses(), 1);
  clock.t = NOW + 5 * 86400; // exactly 48 h left: re-sign
  const again = s.signSet(set);
  assert.equal(misses(), 2);
  assert.equal(s.cached, 1);
  const f = parseRrsig(again);
  assert.equal(f.inception, clock.t - 3 * 3600);
  assert.equal(f.expiration, clock.t + 7 * 86400);
  assert.ok(verifies(s.key, again, WEB, TYPE.A, [Buffer.from([10, 0, 0, 1])]));
});

test('expiry across the 32-bit wrap (RFC 1982 serial arithmetic)', () => {
  const t = { now: 2 ** 32 - 3600 };
  let misses = 0;
  const w = new Signer(key(KEYS.ecdsap256), { domain: 'cluster.local.', ttl: 3600, minTtl: 60, scache: 10, now: () => t.now, onMiss: () => misses++ });
  const one = w.signSet([a(WEB, '10.0.0.1')]);
  assert.equal(parseRrsig(one).expiration, (2 ** 32 - 3600 + 7 * 86400) % 2 ** 32);
  t.now += 86400;
  assert.deepEqual(w.signSet([a(WEB, '10.0.0.1')]).data, one.data, 'still 6 days left though the expiration field is smaller than now');
  t.now = 2 ** 32 - 3600 + 5 * 86400;
  assert.equal(misses, 1);
  assert.notDeepEqual(w.signSet([a(WEB, '10.0.0.1')]).data, one.data);
  assert.equal(misses, 2);
});

test('capacity: random eviction keeps the cache at scache entries', () => {
  const { s, misses } = signer(KEYS.ecdsap256, { scache: 3 });
  for (let i = 0; i < 20; i++) s.signSet([a(WEB, `10.0.0.${i}`)]);
  assert.equal(s.cached, 3);
  assert.equal(misses(), 20);
  // Evicted entries miss, kept ones hit: all 20 again cost at least 17 misses and at most 20.
  for (let i = 0; i < 20; i++) s.signSet([a(WEB, `10.0.0.${i}`)]);
  assert.ok(misses() >= 37 && misses() <= 40);
  assert.equal(s.cached, 3);
});

// ---------------------------------------------------------------- sections and answers

const sigOf = (rrs: RR[], i: number): Rrsig => parseRrsig(rrs[i]);

test('signSection: sets grouped at first appearance, each followed by its RRSIG; out-of-zone, RRSIG, CHAOS passed through', () => {
  const { s } = signer();
  const foreignSig: RR = rr('www.example.com.', TYPE.RRSIG, 30, { t: 'raw', bytes: Buffer.from('upstream') });
  const input: RR[] = [
    a(WEB, '10.0.0.1'),
    aaaa(1),
    a(WEB, '10.0.0.2'),
    a('www.example.com.', '192.0.2.1'),
    foreignSig,
    a('mycluster.local.', '192.0.2.2'),
    { ...txt('authors'), name: 'cluster.local.', class: CLASS.CH },
    a('ns1.dns.cluster.local.', '10.0.0.53'),
  ];
  const copy = JSON.stringify(input);
  const out = s.signSection(input);
  assert.equal(JSON.stringify(input), copy, 'input untouched');
  assert.deepEqual(
    out.map((r) => `${r.name} ${r.type}`),
    [
      `${WEB} 1`, `${WEB} 1`, `${WEB} 46`,
      `${WEB} 28`, `${WEB} 46`,
      'www.example.com. 1',
      'www.example.com. 46',
      'mycluster.local. 1',
      'cluster.local. 16',
      'ns1.dns.cluster.local. 1', 'ns1.dns.cluster.local. 46',
    ],
  );
  assert.equal(out[6], foreignSig, 'existing RRSIG passed through as is');
  assert.equal(sigOf(out, 2).typeCovered, TYPE.A);
  assert.equal(sigOf(out, 4).typeCovered, TYPE.AAAA);
  assert.ok(verifies(s.key, out[2], WEB, TYPE.A, [Buffer.from([10, 0, 0, 1]), Buffer.from([10, 0, 0, 2])]));
  assert.deepEqual(s.signSection([]), []);
});

const SOA_NEG = { ...soa(5), ttl: 60 };

test('signAnswer NXDOMAIN: SOA, then 3 NSEC3, each set signed; inputs untouched', () => {
  const { s } = signer();
  const msg = { rcode: 3, answer: [] as RR[], authority: [SOA_NEG], additional: [] as RR[] };
  const out = s.signAnswer(msg, 'Nope.Default.svc.cluster.local.', TYPE.A);
  assert.deepEqual(msg.authority, [SOA_NEG]);
  assert.deepEqual(out.answer, []);
  assert.deepEqual(out.additional, []);
  assert.deepEqual(out.authority.map((r) => r.type), [6, 46, 50, 46, 50, 46, 50, 46]);
  for (let i = 2; i < 8; i += 2) {
    assert.equal(out.authority[i].ttl, 60);
    assert.equal(out.authority[i + 1].name, out.authority[i].name);
    assert.equal(sigOf(out.authority, i + 1).typeCovered, TYPE.NSEC3);
    assert.ok(verifies(s.key, out.authority[i + 1], out.authority[i].name, TYPE.NSEC3, [(out.authority[i].data as { bytes: Buffer }).bytes]));
  }
  assert.equal(sigOf(out.authority, 1).typeCovered, TYPE.SOA);
});

test('signAnswer NODATA: one NSEC3 without the queried type; not for other shapes', () => {
  const { s } = signer();
  const out = s.signAnswer({ rcode: 0, answer: [], authority: [SOA_NEG], additional: [] }, WEB, TYPE.AAAA);
  assert.deepEqual(out.authority.map((r) => r.type), [6, 46, 50, 46]);
  const bitmap = (out.authority[2].data as { bytes: Buffer }).bytes.subarray(26);
  assert.deepEqual([...bitmap], [0x00, 0x06, 0x40, 0x00, 0x00, 0x00, 0x40, 0x02]);
  // Positive answer: only signatures.
  const pos = s.signAnswer({ rcode: 0, answer: [a(WEB, '10.0.0.1')], authority: [], additional: [] }, WEB, TYPE.A);
  assert.deepEqual(pos.answer.map((r) => r.type), [1, 46]);
  assert.deepEqual(pos.authority, []);
  // Authority not a lone SOA: no denial.
  const ns = rr('cluster.local.', TYPE.NS, 30, { t: 'name', name: 'ns1.dns.cluster.local.' });
  assert.deepEqual(s.signAnswer({ rcode: 0, answer: [], authority: [ns], additional: [] }, WEB, TYPE.A).authority.map((r) => r.type), [2, 46]);
  // SERVFAIL / REFUSED: nothing added.
  assert.deepEqual(s.signAnswer({ rcode: 2, answer: [], authority: [SOA_NEG], additional: [] }, WEB, TYPE.A).authority.map((r) => r.type), [6, 46]);
  // Question outside the domain: no denial, nothing signed.
  const out2 = s.signAnswer({ rcode: 3, answer: [], authority: [], additional: [] }, 'x.example.com.', TYPE.A);
  assert.deepEqual(out2.authority, []);
});
