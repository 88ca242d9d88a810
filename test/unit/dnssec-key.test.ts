/**
 * lib/dnssec/key: loading BIND-style key pairs made by the real tools, and
 * every start-up error of docs/dnssec.md §2.3 — each a KeyError whose one-line
 * message starts with the file concerned.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import { KeyError, SIGNING_ALGORITHMS, keyTag, loadKey, signData } from '../../lib/dnssec/key.js';
import { KEYS, type KeyFixture } from './fixtures/dnssec-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dnssec-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** Writes a key pair (texts may be replaced; null leaves the file out) into its own folder; returns the base path. */
function write(k: KeyFixture, over: { key?: string | null; private?: string | null } = {}): string {
  const sub = join(dir, String(seq++));
  mkdirSync(sub);
  const base = join(sub, k.base);
  const key = over.key === undefined ? k.key : over.key;
  const priv = over.private === undefined ? k.private : over.private;
  if (key !== null) writeFileSync(base + '.key', key);
  if (priv !== null) writeFileSync(base + '.private', priv);
  return base;
}

const DOMAIN = 'cluster.local.';

for (const [name, k] of Object.entries(KEYS)) {
  test(`loads ${name} (${k.made.split(' (')[0]})`, () => {
    const key = loadKey(write(k), DOMAIN);
    assert.equal(key.algorithm, k.algorithm);
    assert.equal(key.keyTag, k.keyTag, 'key tag as the tool computed it (file name)');
    assert.equal(key.owner, 'cluster.local.');
    assert.equal(key.flags, k.made.includes('KSK') ? 257 : 256);
    assert.equal(key.rdata[2], 3, 'protocol');
    assert.equal(key.rdata[3], k.algorithm);
    // The rdata is the .key's public key: a signature made with the private key verifies against it.
    const msg = Buffer.from('hello');
    const sig = signData(key.algorithm, key.privateKey, msg);
    const pub = createPublicKey(key.privateKey);
    const digest = { 5: 'sha1', 7: 'sha1', 8: 'sha256', 10: 'sha512', 13: 'sha256', 14: 'sha384', 15: null }[k.algorithm as 5] ?? null;
    const opts = k.algorithm === 13 || k.algorithm === 14 ? { key: pub, dsaEncoding: 'ieee-p1363' as const } : pub;
    assert.ok(verify(digest, msg, opts, sig));
    assert.ok(SIGNING_ALGORITHMS.has(k.algorithm));
  });
}

test('key tag 0 works (bug 9.5)', () => {
  assert.equal(loadKey(write(KEYS.ed25519Tag0), DOMAIN).keyTag, 0);
});

test('key tag follows RFC 4034 appendix B (odd length, carry)', () => {
  assert.equal(keyTag(Buffer.from([0x01, 0x00, 0x03, 0x0d])), 0x0100 + 0x030d);
  assert.equal(keyTag(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])), (0x200fe + 2) & 0xffff);
});

test('domain compared case-insensitively, relative domain taken as absolute', () => {
  assert.equal(loadKey(write(KEYS.ecdsap256), 'CLUSTER.Local.').owner, 'cluster.local.');
  assert.equal(loadKey(write(KEYS.ecdsap256), 'cluster.local').owner, 'cluster.local.');
});

test('spaces in the base are read as "+" (form-encoded etcd config, docs/dnssec.md §1)', () => {
  const base = write(KEYS.ecdsap256);
  assert.ok(base.includes('+'));
  assert.equal(loadKey(base.replace(/\+/g, ' '), DOMAIN).keyTag, 44807);
});

test('.key variants: TTL, class omitted, parentheses over lines, mnemonic algorithm, $ORIGIN', () => {
  const pub = KEYS.ecdsap256.key.split('\n').find((l) => l.startsWith('cluster'))!;
  const b64 = pub.split(' ').slice(6);
  const variants = [
    `cluster.local. 3600 IN DNSKEY 256 3 13 ${b64.join(' ')}\n`,
    `cluster.local. IN 60 DNSKEY 256 3 13 ${b64.join('')}\n`,
    `Cluster.Local. DNSKEY 256 3 13 ${b64.join(' ')}\n`,
    `; comment\n\ncluster.local. IN DNSKEY ( 256 3 13 ; flags proto alg\n  ${b64[0]}\n  ${b64[1]} ) ; end\n`,
    `cluster.local. IN DNSKEY 256 3 ECDSAP256SHA256 ${b64.join(' ')}\n`,
    `$TTL 300\n$ORIGIN local.\ncluster IN DNSKEY 256 3 13 ${b64.join(' ')}\n`,
  ];
  for (const v of variants) assert.equal(loadKey(write(KEYS.ecdsap256, { key: v }), DOMAIN).keyTag, 44807, v);
});

/** A DSA (algorithm 3) key pair as dnssec-keygen used to write it; the numbers are made up. */
const DSA_KEY = `; This is a zone-signing key, keyid 1234, for cluster.local.
cluster.local. IN DNSKEY 256 3 3 CJ3b1pQ1e5Yp0vj8zJ5n0p1ng0Q3n0D4rYqXbM9o8rFQ8Ly0J2a1cVw4 NiV0Gx0=
`;
const DSA_PRIVATE = `Private-key-format: v1.3
Algorithm: 3 (DSA)
Prime(p): AAAA
Subprime(q): AAAA
Base(g): AAAA
Private_value(x): AAAA
Public_value(y): AAAA
`;

const ecdsaKeyLine = KEYS.ecdsap256.key.split('\n').find((l) => l.startsWith('cluster'))!;
const keyWith = (f: (line: string) => string): string => KEYS.ecdsap256.key.replace(ecdsaKeyLine, f(ecdsaKeyLine));

interface ErrCase {
  name: string;
  key?: KeyFixture;
  over?: { key?: string | null; private?: string | null };
  /** Makes the case in the base's folder instead (files that are directories). */
  setup?: (base: string) => void;
  domain?: string;
  file: '.key' | '.private';
  message: RegExp;
}

const ERRORS: ErrCase[] = [
  { name: 'missing .key', over: { key: null }, file: '.key', message: /no such file/ },
  { name: 'missing .private', over: { private: null }, file: '.private', message: /no such file/ },
  { name: 'unreadable .key (a directory)', over: { key: null }, setup: (b) => mkdirSync(b + '.key'), file: '.key', message: /directory/ },
  { name: 'unreadable .private (a directory)', over: { private: null }, setup: (b) => mkdirSync(b + '.private'), file: '.private', message: /directory/ },
  { name: 'empty .key', over: { key: '; only a comment\n\n' }, file: '.key', message: /no DNSKEY/ },
  { name: '.key holding another type', over: { key: 'cluster.local. IN A 10.0.0.1\n' }, file: '.key', message: /type A, not DNSKEY/ },
  { name: 'DNSKEY without key', over: { key: 'cluster.local. IN DNSKEY 256 3 13\n' }, file: '.key', message: /too few fields/ },
  { name: 'garbage base64 in .key', over: { key: keyWith((l) => l.replace(/[A-Za-z0-9+/=]+$/, '!!notbase64**')) }, file: '.key', message: /base64/ },
  { name: 'truncated public key', over: { key: keyWith((l) => l.replace(/ [A-Za-z0-9+/=]+$/, '')) }, file: '.key', message: /ECDSA public key is \d+ bytes, want 64/ },
  { name: 'protocol not 3', over: { key: keyWith((l) => l.replace('256 3 13', '256 2 13')) }, file: '.key', message: /protocol 2, want 3/ },
  { name: 'owner mismatch', domain: 'example.org.', file: '.key', message: /owner cluster\.local\. does not match the domain example\.org\./ },
  { name: 'owner mismatch (subdomain)', domain: 'svc.cluster.local.', file: '.key', message: /does not match/ },
  { name: 'not a zone key', over: { key: keyWith((l) => l.replace('256 3 13', '512 3 13')) }, file: '.key', message: /Zone Key bit/ },
  { name: 'algorithm line mismatch', over: { private: KEYS.ecdsap256.private.replace('Algorithm: 13 (ECDSAP256SHA256)', 'Algorithm: 14 (ECDSAP384SHA384)') }, file: '.private', message: /Algorithm 14 does not match the DNSKEY's algorithm 13/ },
  { name: 'unsupported algorithm 3 (DSA)', over: { key: DSA_KEY, private: DSA_PRIVATE }, file: '.key', message: /algorithm 3 \(DSA\) is not supported; supported: 5 \(RSASHA1\), 7 .*13 \(ECDSAP256SHA256\).*15 \(ED25519\)/ },
  { name: 'unsupported algorithm 6', over: { key: keyWith((l) => l.replace('256 3 13', '256 3 6')) }, file: '.key', message: /algorithm 6 .*not supported/ },
  { name: 'unsupported algorithm 16 (ED448)', over: { key: keyWith((l) => l.replace('256 3 13', '256 3 16')) }, file: '.key', message: /algorithm 16 \(ED448\) is not supported/ },
  { name: 'unsupported algorithm 253', over: { key: keyWith((l) => l.replace('256 3 13', '256 3 253')) }, file: '.key', message: /algorithm 253 .*not supported/ },
  { name: 'unsupported algorithm 200 (unknown)', over: { key: keyWith((l) => l.replace('256 3 13', '256 3 200')) }, file: '.key', message: /algorithm 200 is not supported/ },
  { name: 'missing PrivateKey field', over: { private: KEYS.ecdsap256.private.replace(/^PrivateKey:.*\n/m, '') }, file: '.private', message: /missing field PrivateKey/ },
  { name: 'missing RSA Coefficient', key: KEYS.rsasha256, over: { private: KEYS.rsasha256.private.replace(/^Coefficient:.*\n/m, '') }, file: '.private', message: /missing field Coefficient/ },
  { name: 'missing Algorithm line', over: { private: KEYS.ecdsap256.private.replace(/^Algorithm:.*\n/m, '') }, file: '.private', message: /missing field Algorithm/ },
  { name: 'not a private key file', over: { private: 'hello world\n' }, file: '.private', message: /Field: value/ },
  { name: 'bad base64 in .private', over: { private: KEYS.ecdsap256.private.replace(/^PrivateKey: .*$/m, 'PrivateKey: %%%') }, file: '.private', message: /PrivateKey is not valid base64/ },
  { name: 'bad RSA values', key: KEYS.rsasha256, over: { private: KEYS.rsasha256.private.replace(/^Prime1: .*$/m, 'Prime1: AAAA') }, file: '.private', message: /(not a valid|not a usable) RSASHA256 private key/ },
  { name: 'mismatched ECDSA P-256 private key', over: { private: KEYS.ecdsap256Other.private }, file: '.private', message: /private key does not belong to the public key in .*\.key/ },
  { name: 'mismatched ECDSA P-384 private key', key: KEYS.ecdsap384, over: { private: KEYS.ecdsap384Other.private }, file: '.private', message: /does not belong/ },
  { name: 'mismatched Ed25519 private key', key: KEYS.ed25519, over: { private: KEYS.ed25519Other.private }, file: '.private', message: /does not belong/ },
  { name: 'mismatched RSA private key', key: KEYS.rsasha256, over: { private: KEYS.rsasha256Small.private }, file: '.private', message: /does not belong/ },
];

for (const c of ERRORS) {
  test(`key error: ${c.name}`, () => {
    const base = write(c.key ?? KEYS.ecdsap256, c.over);
    c.setup?.(base);
    let err: unknown;
    try {
      loadKey(base, c.domain ?? DOMAIN);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof KeyError, `want a KeyError, got ${String(err)}`);
    const path = base + c.file;
    assert.equal(err.path, path);
    assert.ok(err.message.startsWith(path + ': '), `message names ${path}: ${err.message}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message.slice(path.length + 2), c.message);
  });
}
