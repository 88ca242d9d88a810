/**
 * lib/dnssec against real validators: a small zone whose every RRset is
 * signed by Signer.signSet (A, TXT with its own TTL, SRV, CNAME and MX with
 * mixed-case targets, a wildcard, SOA, NS, DNSKEY, NSEC3PARAM and a complete
 * NSEC3 chain) is written as a zone file and checked with ldns-verify-zone
 * (ldns) and dnssec-verify (BIND). The NSEC3 white lies cannot take part in
 * a zone file (it needs the whole chain), so a small UDP server here answers
 * through Signer.signAnswer and unbound-host, a validating resolver with the
 * key as trust anchor, judges positive, NODATA and NXDOMAIN answers.
 * Skipped when the tools are not installed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promisify } from 'node:util';
import { CLASS, TYPE, encodeMessage, parseQuery, type RR, type RData } from '../../lib/skydns/wire.js';
import { octetsText } from '../../lib/msg/path.js';
import { loadKey } from '../../lib/dnssec/key.js';
import { Signer } from '../../lib/dnssec/sign.js';
import { base32hex, nsec3Hash, typeBitmap } from '../../lib/dnssec/nsec3.js';
import { KEYS, type KeyFixture } from './fixtures/dnssec-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'dnssec-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ZONE = 'cluster.local.';
const rr = (name: string, type: number, ttl: number, data: RData): RR => ({ name, type, class: CLASS.IN, ttl, data });
const ip = (s: string): RData => ({ t: 'ip', octets: String.fromCharCode(...s.split('.').map(Number)) });

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
      return `${head} A ${octetsText(d.octets)}`;
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

// ---------------------------------------------------------------- a validating resolver

const UNBOUND_HOST = '/usr/bin/unbound-host';

/** Names and their address records the little server knows; every ancestor of them exists (empty non-terminals). */
const NAMES: Record<string, RR['data'][]> = {
  'web.cluster.local.': [ip('10.0.0.1'), ip('10.0.0.2')],
  'six.cluster.local.': [{ t: 'ip', octets: String.fromCharCode(0xfd, ...Array(14).fill(0), 1) }],
  'a.b.cluster.local.': [ip('10.0.0.3')],
  'tampered.cluster.local.': [ip('10.0.0.4')],
};

/**
 * Starts a UDP server answering as skydns's authoritative path would with a
 * DO query: the answer, NODATA or NXDOMAIN with the SOA, then signAnswer.
 * Answers for tampered.cluster.local. are changed after signing.
 */
async function startServer(signer: Signer): Promise<{ port: number; close: () => void }> {
  const sock = createSocket('udp4');
  const soa = (ttl: number): RR => rr(ZONE, TYPE.SOA, ttl, { t: 'soa', mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 60 });
  sock.on('message', (buf, from) => {
    const q = parseQuery(buf);
    const lname = q.qnameLower;
    let rcode = 0;
    let answer: RR[] = [];
    let authority: RR[] = [];
    if (lname === ZONE && q.qtype === TYPE.DNSKEY) answer = [signer.dnskey(q.qname)];
    else if (lname === ZONE && q.qtype === TYPE.SOA) answer = [soa(3600)];
    else {
      const recs = NAMES[lname];
      const exists = recs !== undefined || lname === ZONE || Object.keys(NAMES).some((n) => n.endsWith('.' + lname));
      if (!exists) rcode = 3;
      answer = (recs ?? []).filter((d) => (d.t === 'ip' && d.octets.length === 4 ? TYPE.A : TYPE.AAAA) === q.qtype).map((d) => rr(q.qname, q.qtype, 30, d));
      if (answer.length === 0) authority = [soa(60)];
    }
    const dnssec = q.edns?.do === true;
    let sec = { answer, authority, additional: [] as RR[] };
    if (dnssec) sec = signer.signAnswer({ rcode, ...sec }, q.qname, q.qtype);
    if (lname === 'tampered.cluster.local.') sec.answer[0] = rr(q.qname, TYPE.A, 30, ip('10.6.6.6'));
    const header = { ...q.header, qr: true, aa: true, ra: false, tc: false, ad: dnssec, rcode };
    const edns = q.edns ? { udpSize: 4096, extRcode: 0, version: 0, do: dnssec, options: [] } : null;
    const enc = encodeMessage({ header, question: [{ name: q.qname, type: q.qtype, class: q.qclass }], ...sec, edns }, q.edns ? Math.max(512, q.edns.udpSize) : 512);
    if (enc) sock.send(enc.buf, from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, close: () => sock.close() };
}

/** [name, type, what unbound-host -v prints] — every line must end "(secure)" unless the row says BOGUS. */
const QUERIES: Array<[string, string, RegExp]> = [
  ['web.cluster.local.', 'A', /^(?=[\s\S]*has address 10\.0\.0\.1 \(secure\))(?=[\s\S]*has address 10\.0\.0\.2 \(secure\))/],
  ['Web.CLUSTER.local.', 'A', /has address 10\.0\.0\.1 \(secure\)/],
  ['web.cluster.local.', 'AAAA', /has no IPv6 address \(secure\)/],
  ['six.cluster.local.', 'A', /has no address \(secure\)/],
  ['six.cluster.local.', 'AAAA', /has IPv6 address fd00::1 \(secure\)/],
  ['web.cluster.local.', 'SRV', /has no SRV record \(secure\)/],
  ['web.cluster.local.', 'TXT', /has no TXT record \(secure\)/],
  ['web.cluster.local.', 'DS', /has no DS record \(secure\)/],
  ['b.cluster.local.', 'A', /has no address \(secure\)/],
  ['nope.cluster.local.', 'A', /not found: 3\(NXDOMAIN\)\. \(secure\)/],
  ['x.y.nope.cluster.local.', 'AAAA', /not found: 3\(NXDOMAIN\)\. \(secure\)/],
  ['cluster.local.', 'DNSKEY', /has DNSKEY record 256 3 13 .* \(secure\)/],
  ['cluster.local.', 'SOA', /has SOA record .* \(secure\)/],
  ['cluster.local.', 'TXT', /has no TXT record \(secure\)/],
  ['tampered.cluster.local.', 'A', /BOGUS/],
];

test('unbound validates signed answers, NODATA and NXDOMAIN white lies (qname minimisation off and on)', { skip: !existsSync(UNBOUND_HOST) && 'unbound-host not installed' }, async () => {
  const sub = mkdtempSync(join(dir, 'ub'));
  const k = KEYS.ecdsap256;
  writeFileSync(join(sub, k.base + '.key'), k.key);
  writeFileSync(join(sub, k.base + '.private'), k.private);
  const signer = new Signer(loadKey(join(sub, k.base), ZONE), { domain: ZONE, ttl: 3600, minTtl: 60, scache: 100 });
  const server = await startServer(signer);
  try {
    const anchor = join(sub, 'anchor');
    writeFileSync(anchor, k.key.split('\n').filter((l) => l.startsWith('cluster.local.')).join('\n') + '\n');
    for (const minimise of ['no', 'yes']) {
      const conf = join(sub, `unbound-${minimise}.conf`);
      writeFileSync(
        conf,
        `server:\n  do-not-query-localhost: no\n  qname-minimisation: ${minimise}\n  module-config: "validator iterator"\n` +
          `forward-zone:\n  name: "cluster.local."\n  forward-addr: 127.0.0.1@${server.port}\n`,
      );
      for (const [name, type, want] of QUERIES) {
        const { stdout } = await promisify(execFile)(UNBOUND_HOST, ['-C', conf, '-f', anchor, '-v', '-t', type, name], { timeout: 10_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
        assert.match(stdout, want, `${name} ${type} (minimisation ${minimise}): ${stdout}`);
        if (!String(want).includes('BOGUS')) assert.ok(!/BOGUS|insecure/.test(stdout), `${name} ${type}: ${stdout}`);
      }
    }
  } finally {
    server.close();
  }
});
