/**
 * lib/dnssec against real validators: a small zone whose every RRset is
 * signed by Signer.signSet (A, TXT with its own TTL, SRV, CNAME and MX with
 * mixed-case targets, a wildcard, SOA, NS, DNSKEY, NSEC3PARAM and a complete
 * NSEC3 chain) is written as a zone file and checked with ldns-verify-zone
 * (ldns) and dnssec-verify (BIND). The NSEC3 white lies cannot take part: a
 * zone file needs the whole chain. Skipped when the tools are not installed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLASS, TYPE, type RR, type RData } from '../../lib/skydns/wire.js';
import { loadKey } from '../../lib/dnssec/key.js';
import { Signer } from '../../lib/dnssec/sign.js';
import { base32hex, nsec3Hash, typeBitmap } from '../../lib/dnssec/nsec3.js';
import { KEYS, type KeyFixture } from './fixtures/dnssec-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dnssec-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ZONE = 'cluster.local.';
const rr = (name: string, type: number, ttl: number, data: RData): RR => ({ name, type, class: CLASS.IN, ttl, data });
const ip = (s: string): RData => ({ t: 'ip', bytes: Uint8Array.from(s.split('.').map(Number)) });

/** The zone's data, owners one label below the apex (no empty non-terminals to cover). */
function records(): RR[] {
  return [
    rr(ZONE, TYPE.SOA, 3600, { t: 'soa', mname: 'ns.cluster.local.', rname: 'hostmaster.cluster.local.', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 60 }),
    rr(ZONE, TYPE.NS, 3600, { t: 'name', name: 'NS.Cluster.Local.' }),
    rr('ns.cluster.local.', TYPE.A, 3600, ip('10.0.0.53')),
    rr('Web.cluster.local.', TYPE.A, 30, ip('10.0.0.2')),
    rr('web.cluster.local.', TYPE.A, 30, ip('10.0.0.1')),
    rr('web.cluster.local.', TYPE.SRV, 30, { t: 'srv', priority: 10, weight: 50, port: 8080, target: 'Web.Cluster.local.' }),
    rr('t.cluster.local.', TYPE.TXT, 123, { t: 'txt', strings: [Buffer.from('hello world'), Buffer.from('2')] }),
    rr('alias.cluster.local.', TYPE.CNAME, 30, { t: 'name', name: 'WEB.cluster.local.' }),
    rr('m.cluster.local.', TYPE.MX, 30, { t: 'mx', preference: 10, exchange: 'Web.Cluster.Local.' }),
    rr('*.cluster.local.', TYPE.A, 30, ip('10.0.0.9')),
  ];
}

/** RFC 3597 generic form, so that the validator reads the exact bytes. */
const generic = (b: Buffer): string => `\\# ${b.length} ${b.toString('hex') || ''}`.trimEnd();

/** Presentation form of the records this test writes. */
function text(r: RR): string {
  const d = r.data;
  const head = `${r.name} ${r.ttl} IN`;
  switch (d.t) {
    case 'ip':
      return `${head} A ${[...d.bytes].join('.')}`;
    case 'name':
      return `${head} ${r.type === TYPE.NS ? 'NS' : 'CNAME'} ${d.name}`;
    case 'srv':
      return `${head} SRV ${d.priority} ${d.weight} ${d.port} ${d.target}`;
    case 'mx':
      return `${head} MX ${d.preference} ${d.exchange}`;
    case 'txt':
      return `${head} TXT ${d.strings.map((s) => `"${s.toString('latin1')}"`).join(' ')}`;
    case 'soa':
      return `${head} SOA ${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'raw':
      return `${head} TYPE${r.type} ${generic(d.bytes)}`;
  }
}

/**
 * The signed zone: data, DNSKEY, NSEC3PARAM and a full NSEC3 chain, every set
 * with its RRSIG. `ttl` replaces every TTL but TXT's (BIND's verifier wants
 * them equal to the original TTL, which is the config ttl; ldns caps instead).
 */
function signedZone(k: KeyFixture, ttl?: number): string {
  const sub = mkdtempSync(join(dir, 'k'));
  writeFileSync(join(sub, k.base + '.key'), k.key);
  writeFileSync(join(sub, k.base + '.private'), k.private);
  const signer = new Signer(loadKey(join(sub, k.base), ZONE), { domain: ZONE, ttl: 3600, minTtl: 60, scache: 100 });
  const data = records().map((r) => (ttl !== undefined && r.type !== TYPE.TXT ? { ...r, ttl } : r));
  data.push(signer.dnskey(ZONE));
  data.push(rr(ZONE, TYPE.NSEC3 + 1, ttl ?? 0, { t: 'raw', bytes: Buffer.from([1, 0, 0, 0, 0]) })); // NSEC3PARAM 1 0 0 -
  // The NSEC3 chain: one per name, in hash order, each pointing at the next.
  const types = new Map<string, Set<number>>();
  for (const r of data) {
    const n = r.name.toLowerCase();
    if (!types.has(n)) types.set(n, new Set([TYPE.RRSIG]));
    types.get(n)!.add(r.type);
  }
  const chain = [...types.keys()].map((n) => ({ n, h: nsec3Hash(n) })).sort((x, y) => Buffer.compare(x.h, y.h));
  chain.forEach(({ n, h }, i) => {
    const next = chain[(i + 1) % chain.length].h;
    const bytes = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 20]), next, typeBitmap([...types.get(n)!])]);
    data.push(rr(`${base32hex(h)}.${ZONE}`, TYPE.NSEC3, ttl ?? 60, { t: 'raw', bytes }));
  });
  // Sign each set (grouped by owner and type) and write it all.
  const lines: string[] = [];
  const sets = new Map<string, RR[]>();
  for (const r of data) {
    const key = `${r.name.toLowerCase()} ${r.type}`;
    if (!sets.has(key)) sets.set(key, []);
    sets.get(key)!.push(r);
  }
  for (const set of sets.values()) {
    for (const r of set) lines.push(text(r));
    lines.push(text(signer.signSet(set)));
  }
  return lines.join('\n') + '\n';
}

const LDNS = '/usr/bin/ldns-verify-zone';
const BIND = '/usr/bin/dnssec-verify';

/** Runs a verifier; its verdict is on stderr (ldns) or stdout (BIND). */
function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Writes the zone and, as the trust anchor, the key's .key file; runs ldns-verify-zone. */
function ldnsVerify(name: string, zone: string, k: KeyFixture): { status: number | null; out: string } {
  const file = join(dir, `${name}.zone`);
  writeFileSync(file, zone);
  writeFileSync(join(dir, `${name}.anchor`), k.key);
  return run(LDNS, ['-V', '3', '-k', join(dir, `${name}.anchor`), file]);
}

const ALGORITHMS = [
  ['ecdsap256', KEYS.ecdsap256Ksk],
  ['rsasha256', KEYS.rsasha256],
  ['rsasha512', KEYS.rsasha512],
  ['ecdsap384', KEYS.ecdsap384],
  ['ed25519', KEYS.ed25519],
  ['nsec3rsasha1', KEYS.nsec3rsasha1],
] as const;

for (const [name, k] of ALGORITHMS) {
  test(`ldns-verify-zone accepts a zone signed with ${name}`, { skip: !existsSync(LDNS) && 'ldns-verify-zone not installed' }, () => {
    const r = ldnsVerify(name, signedZone(k), k);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /Zone is verified and complete/);
  });
}

test('ldns-verify-zone rejects a record changed after signing (the check can fail)', { skip: !existsSync(LDNS) && 'ldns-verify-zone not installed' }, () => {
  const zone = signedZone(KEYS.ecdsap256).replace('IN A 10.0.0.53', 'IN A 10.0.0.54');
  const r = ldnsVerify('bad', zone, KEYS.ecdsap256);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /Bogus DNSSEC signature for ns\.cluster\.local\./);
});

test('dnssec-verify (BIND) accepts the zone signed with the KSK', { skip: !existsSync(BIND) && 'dnssec-verify not installed' }, () => {
  const file = join(dir, 'bind.zone');
  writeFileSync(file, signedZone(KEYS.ecdsap256Ksk, 3600));
  const r = run(BIND, ['-z', '-o', ZONE, file]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Zone fully signed/);
});
