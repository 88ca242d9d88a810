// The authoritative resolver (docs/skydns.md §2–3, docs/design.md §6) as a table:
// each case loads records into a RecordTree, asks one question and asserts the exact
// rcode, AA/RA flags and every record of the answer, authority and additional sections,
// plus the exact list of upstream lookups made through the test double.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { Answer, Logger, MAX_LOOKUPS, Request, Resolver, Upstream, srvWeights, txtChunks } from '../../lib/skydns/resolver.js';
import { Entry, RecordTree } from '../../lib/skydns/tree.js';
import { CLASS, RCODE, RR, TYPE, rcodeName, typeName } from '../../lib/skydns/wire.js';
import { SkyConfig, applyDefaults, configFor } from '../../lib/skydns/config.js';
import { emptyRecord } from '../../lib/msg/record.js';
import { ipOctets, octetsText, reverseName } from '../../lib/msg/path.js';
import {
  DOMAIN,
  FixtureRecord,
  HASH_1,
  HASH_2,
  LEASE,
  LEASE_REMAINING,
  SKYDNS_RECORDS,
  TXT_255,
  TXT_256,
  TXT_510,
  fillTree,
  rec,
} from './fixtures/skydns-records.js';

// ---------------------------------------------------------------- doubles and setup

function baseConfig(): SkyConfig {
  // The defaults of the flags themselves (one table describes them: lib/skydns/config.ts).
  return configFor([`-domain=${DOMAIN}`, '-nameservers=127.0.0.1:53', '-round-robin=false']);
}

const ip4 = (s: string): string => ipOctets(s)!;
const WWW_V6 = ipOctets('2001:db8::7')!;
const up = (name: string, type: number, ttl: number, data: RR['data']): RR => ({ name, type, class: CLASS.IN, ttl, data });

/** Canned upstream answers; names not listed fail (null), as a SERVFAIL or timeout would. */
const UPSTREAM: Readonly<Record<string, RR[]>> = {
  'www.example.org. A': [up('www.example.org.', TYPE.A, 300, { t: 'ip', octets: ip4('192.0.2.7') })],
  'www.example.org. AAAA': [up('www.example.org.', TYPE.AAAA, 300, { t: 'ip', octets: WWW_V6 })],
  'alias.example.org. A': [
    up('alias.example.org.', TYPE.CNAME, 300, { t: 'name', name: 'www.example.org.' }),
    up('www.example.org.', TYPE.A, 300, { t: 'ip', octets: ip4('192.0.2.7') }),
  ],
  'alias.example.org. AAAA': [
    up('alias.example.org.', TYPE.CNAME, 300, { t: 'name', name: 'www.example.org.' }),
    up('www.example.org.', TYPE.AAAA, 300, { t: 'ip', octets: WWW_V6 }),
  ],
  'empty.example.org. A': [],
  'empty.example.org. AAAA': [],
  'mail.example.org. A': [up('mail.example.org.', TYPE.A, 300, { t: 'ip', octets: ip4('192.0.2.25') })],
  'mail.example.org. AAAA': [],
  'v6alias.example.org. A': [up('v6alias.example.org.', TYPE.A, 300, { t: 'ip', octets: ip4('192.0.2.66') })],
  'v6alias.example.org. AAAA': [
    up('v6alias.example.org.', TYPE.CNAME, 300, { t: 'name', name: 'v6.example.org.' }),
    up('v6.example.org.', TYPE.AAAA, 300, { t: 'ip', octets: WWW_V6 }),
  ],
};

class FakeUpstream implements Upstream {
  readonly calls: string[] = [];
  readonly opts: { do: boolean; bufsize: number }[] = [];
  async lookup(name: string, qtype: number, opts: { do: boolean; bufsize: number }): Promise<RR[] | null> {
    const k = `${name} ${typeName(qtype)}`;
    this.calls.push(k);
    this.opts.push(opts);
    const rrs = UPSTREAM[k.toLowerCase().replace(/ (\w+)$/, (m) => m.toUpperCase())];
    // A fresh copy each time: the resolver must not be able to corrupt the canned data.
    return rrs ? rrs.map((rr) => ({ ...rr })) : null;
  }
}

class MemLog implements Logger {
  readonly lines: string[] = [];
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
  error(m: string): void {
    this.lines.push(`error ${m}`);
  }
  debug(m: string): void {
    this.lines.push(`debug ${m}`);
  }
}

interface Env {
  tree: RecordTree;
  resolver: Resolver;
  upstream: FakeUpstream;
  log: MemLog;
  leaseQueries: string[];
}

function setup(records: readonly FixtureRecord[], cfgOver: Partial<SkyConfig> = {}, leases: Readonly<Record<string, number | null>> = LEASE_REMAINING): Env {
  const tree = fillTree(new RecordTree('skydns'), records);
  const upstream = new FakeUpstream();
  const log = new MemLog();
  const leaseQueries: string[] = [];
  const oracle = (lease: string): number | null => {
    leaseQueries.push(lease);
    return leases[lease] ?? null;
  };
  const resolver = new Resolver(tree, { ...baseConfig(), ...cfgOver }, upstream, log, oracle);
  return { tree, resolver, upstream, log, leaseQueries };
}

// ---------------------------------------------------------------- presentation

const hourSerial = (): number => {
  const now = Math.floor(Date.now() / 1000);
  return now - (now % 3600);
};

/** One RR in zone-file form; a SOA serial equal to one of `serials` prints as SERIAL. */
function show(rr: RR, serials: readonly number[]): string {
  const cls = rr.class === CLASS.IN ? 'IN' : rr.class === CLASS.CH ? 'CH' : `CLASS${rr.class}`;
  const d = rr.data;
  let data: string;
  switch (d.t) {
    case 'ip':
      data = octetsText(d.octets);
      break;
    case 'name':
      data = d.name;
      break;
    case 'srv':
      data = `${d.priority} ${d.weight} ${d.port} ${d.target}`;
      break;
    case 'mx':
      data = `${d.preference} ${d.exchange}`;
      break;
    case 'txt':
      data = d.strings.map((s) => JSON.stringify(s.toString('latin1'))).join(' ');
      break;
    case 'soa':
      data = `${d.mname} ${d.rname} ${serials.includes(d.serial) ? 'SERIAL' : d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
      break;
    case 'raw':
      data = `\\# ${d.bytes.length} ${d.bytes.toString('hex')}`;
      break;
  }
  return `${rr.name} ${rr.ttl} ${cls} ${typeName(rr.type)} ${data}`;
}

interface Shown {
  rcode: string;
  aa: boolean;
  ra: boolean;
  answer: string[];
  authority: string[];
  additional: string[];
}

function shown(a: Answer, serials: readonly number[]): Shown {
  return {
    rcode: rcodeName(a.rcode),
    aa: a.aa,
    ra: a.ra,
    answer: a.answer.map((rr) => show(rr, serials)),
    authority: a.authority.map((rr) => show(rr, serials)),
    additional: a.additional.map((rr) => show(rr, serials)),
  };
}

// ---------------------------------------------------------------- the table

type TypeName = keyof typeof TYPE;

interface Case {
  name: string;
  /** Records loaded (default: the shared SKYDNS_RECORDS set). */
  records?: readonly FixtureRecord[];
  q: string;
  type: TypeName;
  qclass?: 'IN' | 'CH';
  /** The `-local` substitution: looked-up name (owners keep `q`). */
  lookupName?: string;
  cfg?: Partial<SkyConfig>;
  rcode: keyof typeof RCODE;
  aa?: boolean;
  ra?: boolean;
  answer?: readonly string[];
  authority?: readonly string[];
  additional?: readonly string[];
  /** Upstream lookups made, in order (default: none). */
  upstream?: readonly string[];
}

const SOA_NEG = `skydns.test. 60 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. SERIAL 28800 7200 604800 60`;
/** NOERROR with no answer: the SOA (TTL min_ttl) alone in the authority section. */
const NODATA = { rcode: 'NOERROR', authority: [SOA_NEG] } as const;
const NXDOMAIN = { rcode: 'NXDOMAIN', authority: [SOA_NEG] } as const;

const R1 = '104.server1.development.region1.skydns.test.';
const WEB = 'web.ns.svc.skydns.test.';

const CASES: Case[] = [
  // ---------------------------------------------------------- A / AAAA from addresses
  { name: 'A: leaf with an IPv4 host', q: 'a.ipaddr.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['a.ipaddr.skydns.test. 3600 IN A 172.16.1.1'] },
  {
    name: 'A: directory returns every leaf below it, never the sibling ipaddr2 (/a never matches /ab)',
    q: 'ipaddr.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['ipaddr.skydns.test. 3600 IN A 172.16.1.1', 'ipaddr.skydns.test. 3600 IN A 172.16.1.2'],
  },
  { name: 'A: ipaddr2 answers only its own leaf', q: 'ipaddr2.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['ipaddr2.skydns.test. 3600 IN A 172.16.2.1'] },
  { name: 'A: a bare string prefix of a key does not exist', q: 'ipadd.skydns.test.', type: 'A', ...NXDOMAIN },
  {
    name: 'A: subtree query returns leaves at every depth',
    q: 'deep.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['deep.skydns.test. 3600 IN A 10.10.0.1', 'deep.skydns.test. 3600 IN A 10.10.0.2', 'deep.skydns.test. 3600 IN A 10.10.0.3'],
  },
  { name: 'A: family filtering keeps only IPv4', q: 'mixed.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['mixed.skydns.test. 3600 IN A 10.2.0.1'] },
  { name: 'AAAA: family filtering keeps only IPv6', q: 'mixed.skydns.test.', type: 'AAAA', rcode: 'NOERROR', answer: ['mixed.skydns.test. 3600 IN AAAA 2001:db8::21'] },
  {
    name: 'AAAA: IPv6 hosts',
    q: 'ipv6.skydns.test.',
    type: 'AAAA',
    rcode: 'NOERROR',
    answer: ['ipv6.skydns.test. 3600 IN AAAA 2001:db8::1', 'ipv6.skydns.test. 3600 IN AAAA 2001:db8::2'],
  },
  { name: 'A: only IPv6 hosts → NODATA', q: 'ipv6.skydns.test.', type: 'A', ...NODATA },
  { name: 'A: IPv4-mapped IPv6 counts as IPv4', q: 'a.ipmapped.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['a.ipmapped.skydns.test. 3600 IN A 10.1.1.1'] },
  { name: 'AAAA: IPv4-mapped IPv6 is not an AAAA', q: 'a.ipmapped.skydns.test.', type: 'AAAA', ...NODATA },
  { name: 'A: name that does not exist → NXDOMAIN with AA=1, RA=1', q: 'doesnotexist.skydns.test.', type: 'A', ...NXDOMAIN },
  { name: 'AAAA: name that does not exist → NXDOMAIN', q: 'doesnotexist.skydns.test.', type: 'AAAA', ...NXDOMAIN },
  { name: 'A: qname case is preserved in owners', q: 'uppeR.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['uppeR.skydns.test. 3600 IN A 127.0.0.1'] },
  {
    name: 'A: the apex answers every address in the zone',
    records: [rec('a', { host: '10.9.0.1' }), rec('b.sub', { host: '10.9.0.2' })],
    q: 'skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['skydns.test. 3600 IN A 10.9.0.1', 'skydns.test. 3600 IN A 10.9.0.2'],
  },
  { name: 'A: an empty zone apex is NODATA, never NXDOMAIN', records: [], q: 'skydns.test.', type: 'A', ...NODATA },
  {
    name: 'A: ns.dns.<domain> is an ordinary name (all NS addresses)',
    q: 'ns.dns.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['ns.dns.skydns.test. 3600 IN A 10.0.0.2'],
  },
  {
    name: 'A: a key holding both a value and children answers both',
    records: [rec('both', { host: '10.7.0.2' }), rec('child.both', { host: '10.7.0.1' })],
    q: 'both.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['both.skydns.test. 3600 IN A 10.7.0.2', 'both.skydns.test. 3600 IN A 10.7.0.1'],
  },

  // ---------------------------------------------------------- wildcards
  {
    name: 'wildcard: * in the first label, owner echoes the literal *',
    q: '*.ipaddr.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['*.ipaddr.skydns.test. 3600 IN A 172.16.1.1', '*.ipaddr.skydns.test. 3600 IN A 172.16.1.2'],
  },
  {
    name: 'wildcard: any is a wildcard too',
    q: 'any.ipaddr.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['any.ipaddr.skydns.test. 3600 IN A 172.16.1.1', 'any.ipaddr.skydns.test. 3600 IN A 172.16.1.2'],
  },
  {
    name: 'wildcard: SRV below *.region1',
    q: '*.region1.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      '*.region1.skydns.test. 3600 IN SRV 10 33 8080 server1.',
      `*.region1.skydns.test. 3600 IN SRV 10 33 0 ${R1}`,
      '*.region1.skydns.test. 3600 IN SRV 10 33 80 server2.',
    ],
    additional: [`${R1} 3600 IN A 10.0.0.1`],
  },
  {
    name: 'wildcard: in a middle position (production.*)',
    q: 'production.*.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['production.*.skydns.test. 3600 IN SRV 10 50 80 server2.', 'production.*.skydns.test. 3600 IN SRV 10 50 0 105.server3.production.region2.skydns.test.'],
    additional: ['105.server3.production.region2.skydns.test. 3600 IN AAAA 2001::8:8:8:8'],
  },
  {
    name: 'wildcard: production.any',
    q: 'production.any.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['production.any.skydns.test. 3600 IN SRV 10 50 80 server2.', 'production.any.skydns.test. 3600 IN SRV 10 50 0 105.server3.production.region2.skydns.test.'],
    additional: ['105.server3.production.region2.skydns.test. 3600 IN AAAA 2001::8:8:8:8'],
  },
  {
    name: 'wildcard: several wildcards in one name',
    q: '*.*.production.*.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['*.*.production.*.skydns.test. 3600 IN SRV 10 50 80 server2.', '*.*.production.*.skydns.test. 3600 IN SRV 10 50 0 105.server3.production.region2.skydns.test.'],
    additional: ['105.server3.production.region2.skydns.test. 3600 IN AAAA 2001::8:8:8:8'],
  },
  {
    name: 'wildcard: keys with fewer segments than the query are dropped, more are kept',
    q: '*.*.deep.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['*.*.deep.skydns.test. 3600 IN A 10.10.0.2', '*.*.deep.skydns.test. 3600 IN A 10.10.0.3'],
  },
  {
    name: 'wildcard: when the name left of the wildcard is a leaf, that leaf answers',
    q: '*.a.ipaddr.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['*.a.ipaddr.skydns.test. 3600 IN A 172.16.1.1'],
  },
  { name: 'wildcard: below a name that does not exist → NXDOMAIN', q: '*.nothere.skydns.test.', type: 'A', ...NXDOMAIN },
  { name: 'wildcard: no match below an existing name → NODATA', q: 'nomatch.*.ipaddr.skydns.test.', type: 'A', ...NODATA },
  { name: 'wildcard: other types honour wildcards when deciding existence', q: '*.ipaddr.skydns.test.', type: 'HINFO', ...NODATA },

  // ---------------------------------------------------------- groups (§2.6)
  {
    name: 'groups: README example, domain returns its own group plus ungrouped',
    q: 'grp.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['grp.skydns.test. 3600 IN A 127.0.0.1', 'grp.skydns.test. 3600 IN A 127.0.0.2', 'grp.skydns.test. 3600 IN A 127.0.0.5'],
  },
  {
    name: 'groups: README example, subdomain returns the other group',
    q: 'sub.grp.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['sub.grp.skydns.test. 3600 IN A 127.0.0.3', 'sub.grp.skydns.test. 3600 IN A 127.0.0.4', 'sub.grp.skydns.test. 3600 IN A 127.0.0.5'],
  },
  {
    name: 'groups: disagreement at the top level returns everything',
    q: 'grp2.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['grp2.skydns.test. 3600 IN A 127.0.1.1', 'grp2.skydns.test. 3600 IN A 127.0.1.2', 'grp2.skydns.test. 3600 IN A 127.0.1.3'],
  },
  {
    name: 'groups: a shallower ungrouped service stops the walk',
    q: 'grp3.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['grp3.skydns.test. 3600 IN A 127.0.2.1', 'grp3.skydns.test. 3600 IN A 127.0.2.2'],
  },
  { name: 'groups: a shallower grouped service wins', q: 'grp4.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['grp4.skydns.test. 3600 IN A 127.0.3.2'] },
  {
    name: 'groups: SRV applies groups',
    q: 'grp4.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['grp4.skydns.test. 3600 IN SRV 10 100 0 b.grp4.skydns.test.'],
    additional: ['b.grp4.skydns.test. 3600 IN A 127.0.3.2'],
  },
  { name: 'groups: A applies groups to mail records too', q: 'mailgrp.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['mailgrp.skydns.test. 3600 IN A 10.3.1.1'] },
  {
    name: 'groups: MX does not apply groups',
    q: 'mailgrp.skydns.test.',
    type: 'MX',
    rcode: 'NOERROR',
    answer: ['mailgrp.skydns.test. 3600 IN MX 10 a.mailgrp.skydns.test.', 'mailgrp.skydns.test. 3600 IN MX 10 x.b.mailgrp.skydns.test.'],
    additional: ['a.mailgrp.skydns.test. 3600 IN A 10.3.1.1', 'x.b.mailgrp.skydns.test. 3600 IN A 10.3.1.2'],
  },

  // ---------------------------------------------------------- duplicates
  {
    name: 'dedup: identical services in one lookup give one SRV (weight 100)',
    q: 'cname2.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['cname2.skydns.test. 3600 IN SRV 10 100 0 www.example.org.'],
    additional: ['www.example.org. 60 IN A 192.0.2.7', 'www.example.org. 60 IN AAAA 2001:db8::7'],
    upstream: ['www.example.org. A', 'www.example.org. AAAA'],
  },
  {
    name: 'dedup: identical services in one lookup are chased once',
    q: 'cname2.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['cname2.skydns.test. 60 IN CNAME www.example.org.', 'www.example.org. 60 IN A 192.0.2.7'],
    upstream: ['www.example.org. A'],
  },
  { name: 'dedup: one address on two ports gives one A', q: 'multiport.http.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['multiport.http.skydns.test. 3600 IN A 10.11.11.10'] },
  {
    name: 'dedup: TestDedup 3.3.3.3 2.2.2.2 3.3.3.3 2.2.2.2 1.1.1.1 1.1.1.1 → three',
    q: 'dedup.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['dedup.skydns.test. 3600 IN A 3.3.3.3', 'dedup.skydns.test. 3600 IN A 2.2.2.2', 'dedup.skydns.test. 3600 IN A 1.1.1.1'],
  },

  // ---------------------------------------------------------- TTLs (§2.5)
  { name: 'TTL: record ttl', q: 'ttl.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['ttl.skydns.test. 360 IN A 10.0.0.2'] },
  { name: 'TTL: a single answer keeps a TTL above the default', q: 'ttlbig.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['ttlbig.skydns.test. 7200 IN A 10.0.0.3'] },
  {
    name: 'TTL: several answers are unified and capped at the default ttl',
    q: 'ttlmix.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['ttlmix.skydns.test. 3600 IN A 10.50.0.1', 'ttlmix.skydns.test. 3600 IN A 10.50.0.2'],
  },
  {
    name: 'TTL: several answers are unified to the smallest',
    q: 'ttlmin.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['ttlmin.skydns.test. 100 IN A 10.51.0.1', 'ttlmin.skydns.test. 100 IN A 10.51.0.2'],
  },
  { name: 'TTL: lease remaining time, not the lease ID', q: 'a.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['a.lease.skydns.test. 30 IN A 10.5.0.1'] },
  { name: 'TTL: min(lease, ttl) when the ttl is smaller', q: 'b.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['b.lease.skydns.test. 10 IN A 10.5.0.2'] },
  { name: 'TTL: min(lease, ttl) when the lease is smaller', q: 'c.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['c.lease.skydns.test. 20 IN A 10.5.0.3'] },
  { name: 'TTL: a lease with 0.4 s left gives 1, not the default', q: 'd.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['d.lease.skydns.test. 1 IN A 10.5.0.4'] },
  { name: 'TTL: an expired lease (0 s left) gives 1, not the default', q: 'g.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['g.lease.skydns.test. 1 IN A 10.5.0.7'] },
  { name: 'TTL: unknown lease time falls back to the ttl', q: 'e.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['e.lease.skydns.test. 500 IN A 10.5.0.5'] },
  { name: 'TTL: unknown lease time and no ttl → default', q: 'f.lease.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['f.lease.skydns.test. 3600 IN A 10.5.0.6'] },
  {
    name: 'TTL: leases mixed in a directory are unified to the smallest',
    q: 'lease.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: [1, 2, 3, 4, 5, 6, 7].map((i) => `lease.skydns.test. 1 IN A 10.5.0.${i}`),
  },

  // ---------------------------------------------------------- CNAME chasing (A/AAAA)
  {
    // The directory's second leaf points at 100.server1…, whose own record is a CNAME to a
    // target below ndots (not looked up): that name keeps its lone CNAME; the directory's
    // answer keeps one CNAME per owner, the first.
    name: 'CNAME: in-zone target; a target ending out of zone below ndots keeps its lone CNAME',
    q: 'cname.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: [`cname.skydns.test. 3600 IN CNAME ${R1}`, '100.server1.development.region1.skydns.test. 3600 IN CNAME server1.', `${R1} 3600 IN A 10.0.0.1`],
  },
  {
    name: 'CNAME: a chain is followed, CNAMEs first',
    q: 'c1.chain.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: [
      'c1.chain.skydns.test. 3600 IN CNAME c2.chain.skydns.test.',
      'c2.chain.skydns.test. 3600 IN CNAME c3.chain.skydns.test.',
      'c3.chain.skydns.test. 3600 IN CNAME a.ipaddr.skydns.test.',
      'a.ipaddr.skydns.test. 3600 IN A 172.16.1.1',
    ],
  },
  {
    name: 'CNAME: a chain ending without the family → the CNAMEs, no address (SkyDNS: NODATA)',
    q: 'c1.chain.skydns.test.',
    type: 'AAAA',
    rcode: 'NOERROR',
    answer: ['c1.chain.skydns.test. 3600 IN CNAME c2.chain.skydns.test.', 'c2.chain.skydns.test. 3600 IN CNAME c3.chain.skydns.test.', 'c3.chain.skydns.test. 3600 IN CNAME a.ipaddr.skydns.test.'],
  },
  {
    name: 'CNAME: a loop → its CNAMEs up to the repeated name, as authoritative servers answer (SkyDNS: NODATA)',
    q: 'x.loop.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['x.loop.skydns.test. 3600 IN CNAME y.loop.skydns.test.', 'y.loop.skydns.test. 3600 IN CNAME x.loop.skydns.test.'],
  },
  { name: 'CNAME: a self loop is skipped', q: 'x.self.skydns.test.', type: 'A', ...NODATA },
  {
    name: 'CNAME: eight hops are followed',
    q: 'h0.hop8.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: [
      ...Array.from({ length: 8 }, (_, i) => `h${i}.hop8.skydns.test. 3600 IN CNAME h${i + 1}.hop8.skydns.test.`),
      'h8.hop8.skydns.test. 3600 IN A 10.30.0.8',
    ],
  },
  {
    name: 'CNAME: a ninth hop is over the limit → the first eight CNAMEs (SkyDNS: NODATA)',
    q: 'h0.hop9.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: Array.from({ length: 8 }, (_, i) => `h${i}.hop9.skydns.test. 3600 IN CNAME h${i + 1}.hop9.skydns.test.`),
  },
  {
    name: 'CNAME: several chains from one directory keep one CNAME per owner',
    q: 'twochains.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['twochains.skydns.test. 3600 IN CNAME a.ipaddr.skydns.test.', 'a.ipaddr.skydns.test. 3600 IN A 172.16.1.1', 'b.ipaddr.skydns.test. 3600 IN A 172.16.1.2'],
  },
  {
    name: 'CNAME: a leaf pointing at its own name is skipped, the rest answers',
    q: 'selfdir.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['selfdir.skydns.test. 3600 IN A 10.31.0.1'],
  },
  {
    name: 'CNAME: a loop through a directory stops at the repeated target',
    q: 'p.loop2.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['p.loop2.skydns.test. 3600 IN CNAME q.loop2.skydns.test.', 'q.loop2.skydns.test. 3600 IN A 10.31.0.2'],
  },
  {
    name: 'CNAME: a CNAME is placed before the address records of a directory',
    q: 'mixcname.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['mixcname.skydns.test. 3600 IN CNAME b.ipaddr.skydns.test.', 'mixcname.skydns.test. 3600 IN A 10.31.0.3', 'b.ipaddr.skydns.test. 3600 IN A 172.16.1.2'],
  },
  { name: 'CNAME: in-zone target that does not exist → the lone CNAME, no upstream', q: '1.missing.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['1.missing.skydns.test. 3600 IN CNAME nothere.skydns.test.'] },
  {
    name: 'CNAME: out-of-zone target resolved upstream, TTLs forced to rcache-ttl and unified',
    q: 'www.ext.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['www.ext.skydns.test. 60 IN CNAME www.example.org.', 'www.example.org. 60 IN A 192.0.2.7'],
    upstream: ['www.example.org. A'],
  },
  {
    name: 'CNAME: out-of-zone AAAA',
    q: 'www.ext.skydns.test.',
    type: 'AAAA',
    rcode: 'NOERROR',
    answer: ['www.ext.skydns.test. 60 IN CNAME www.example.org.', 'www.example.org. 60 IN AAAA 2001:db8::7'],
    upstream: ['www.example.org. AAAA'],
  },
  {
    name: 'CNAME: the upstream answer is taken whole (its CNAMEs too), CNAMEs first',
    q: 'alias.ext.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['alias.ext.skydns.test. 60 IN CNAME alias.example.org.', 'alias.example.org. 60 IN CNAME www.example.org.', 'www.example.org. 60 IN A 192.0.2.7'],
    upstream: ['alias.example.org. A'],
  },
  {
    name: 'CNAME: an empty upstream NOERROR still gives the lone CNAME',
    q: 'empty.ext.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['empty.ext.skydns.test. 3600 IN CNAME empty.example.org.'],
    upstream: ['empty.example.org. A'],
  },
  {
    name: 'CNAME: a failing upstream lookup → the lone CNAME (SkyDNS: NODATA)',
    q: 'fail.ext.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['fail.ext.skydns.test. 3600 IN CNAME fail.example.org.'],
    upstream: ['fail.example.org. A'],
  },
  { name: 'CNAME: targets with fewer labels than ndots are not looked up: the lone CNAME', q: 'short.ext.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['short.ext.skydns.test. 3600 IN CNAME localhost.'] },
  { name: 'CNAME: no upstream lookups with no-rec: the lone CNAME', cfg: { noRec: true }, q: 'www.ext.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['www.ext.skydns.test. 3600 IN CNAME www.example.org.'] },
  { name: 'CNAME: no upstream lookups without nameservers: the lone CNAME', cfg: { nameservers: [] }, q: 'www.ext.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['www.ext.skydns.test. 3600 IN CNAME www.example.org.'] },

  // ---------------------------------------------------------- CNAME queries
  { name: 'CNAME query: exact key', q: '1.cname.skydns.test.', type: 'CNAME', rcode: 'NOERROR', answer: [`1.cname.skydns.test. 3600 IN CNAME ${R1}`] },
  { name: 'CNAME query: out-of-zone host, no chasing', q: 'www.ext.skydns.test.', type: 'CNAME', rcode: 'NOERROR', answer: ['www.ext.skydns.test. 3600 IN CNAME www.example.org.'] },
  { name: 'CNAME query: a directory → NODATA', q: 'cname.skydns.test.', type: 'CNAME', ...NODATA },
  { name: 'CNAME query: an IP host → NODATA', q: 'a.ipaddr.skydns.test.', type: 'CNAME', ...NODATA },
  { name: 'CNAME query: an empty host → NODATA', q: 'a.emptyhost.skydns.test.', type: 'CNAME', ...NODATA },
  { name: 'CNAME query: missing → NXDOMAIN', q: 'nothere.skydns.test.', type: 'CNAME', ...NXDOMAIN },
  {
    name: 'CNAME query: a key with a value and children answers its own value',
    records: [rec('cboth', { host: 'target.example.org' }), rec('child.cboth', { host: '10.7.0.1' })],
    q: 'cboth.skydns.test.',
    type: 'CNAME',
    rcode: 'NOERROR',
    answer: ['cboth.skydns.test. 3600 IN CNAME target.example.org.'],
  },

  // ---------------------------------------------------------- SRV
  {
    name: 'SRV: weights 130/80/150 → 36/22/41; one-label targets get no glue',
    q: 'region5.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['region5.skydns.test. 3600 IN SRV 10 36 0 server1.', 'region5.skydns.test. 3600 IN SRV 10 22 0 server2.', 'region5.skydns.test. 3600 IN SRV 10 41 0 server3.'],
  },
  {
    name: 'SRV: README weights 120/100/130 → 34/28/37, synthesised targets with glue',
    q: 'readme.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      'readme.skydns.test. 3600 IN SRV 10 34 80 a.readme.skydns.test.',
      'readme.skydns.test. 3600 IN SRV 10 28 80 b.readme.skydns.test.',
      'readme.skydns.test. 3600 IN SRV 10 37 80 c.readme.skydns.test.',
    ],
    additional: ['a.readme.skydns.test. 3600 IN A 10.20.0.1', 'b.readme.skydns.test. 3600 IN A 10.20.0.2', 'c.readme.skydns.test. 3600 IN A 10.20.0.3'],
  },
  {
    name: 'SRV: three equal weights → 33 each',
    q: 'equal.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['equal.skydns.test. 3600 IN SRV 10 33 0 a.equal.skydns.test.', 'equal.skydns.test. 3600 IN SRV 10 33 0 b.equal.skydns.test.', 'equal.skydns.test. 3600 IN SRV 10 33 0 c.equal.skydns.test.'],
    additional: ['a.equal.skydns.test. 3600 IN A 10.21.0.1', 'b.equal.skydns.test. 3600 IN A 10.21.0.2', 'c.equal.skydns.test. 3600 IN A 10.21.0.3'],
  },
  {
    name: 'SRV: weights are per priority; priority 0 defaults to 10',
    q: 'prio.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      'prio.skydns.test. 3600 IN SRV 10 50 0 a.prio.skydns.test.',
      'prio.skydns.test. 3600 IN SRV 20 25 0 b.prio.skydns.test.',
      'prio.skydns.test. 3600 IN SRV 20 75 0 c.prio.skydns.test.',
      'prio.skydns.test. 3600 IN SRV 10 50 0 d.prio.skydns.test.',
    ],
    additional: ['a.prio.skydns.test. 3600 IN A 10.22.0.1', 'b.prio.skydns.test. 3600 IN A 10.22.0.2', 'c.prio.skydns.test. 3600 IN A 10.22.0.3', 'd.prio.skydns.test. 3600 IN A 10.22.0.4'],
  },
  {
    name: 'SRV: a lone service → weight 100; owner keeps the qname case',
    q: 'A.IPADDR.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['A.IPADDR.skydns.test. 3600 IN SRV 10 100 0 a.ipaddr.skydns.test.'],
    additional: ['a.ipaddr.skydns.test. 3600 IN A 172.16.1.1'],
  },
  {
    name: 'SRV: an IPv4-mapped host gets A glue',
    q: 'a.ipmapped.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['a.ipmapped.skydns.test. 3600 IN SRV 10 100 0 a.ipmapped.skydns.test.'],
    additional: ['a.ipmapped.skydns.test. 3600 IN A 10.1.1.1'],
  },
  {
    name: 'SRV: targetstrip on a synthesised target (x.bar → bar)',
    q: 'x.bar.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['x.bar.skydns.test. 3600 IN SRV 10 100 80 bar.skydns.test.'],
    additional: ['bar.skydns.test. 3600 IN A 192.168.0.1'],
  },
  {
    name: 'SRV: targetstrip ≥ the label count leaves the target alone',
    q: 'big.strip.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['big.strip.skydns.test. 3600 IN SRV 10 100 0 big.strip.skydns.test.'],
    additional: ['big.strip.skydns.test. 3600 IN A 10.40.0.1'],
  },
  {
    name: 'SRV: targetstrip on a name target',
    q: 'name.strip.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['name.strip.skydns.test. 3600 IN SRV 10 100 25 a.ipaddr.skydns.test.'],
    additional: ['a.ipaddr.skydns.test. 3600 IN A 172.16.1.1'],
  },
  {
    name: 'SRV: in-zone name targets get glue of both families, CNAME chains included, each target once',
    q: 'srvin.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      'srvin.skydns.test. 3600 IN SRV 10 25 443 mixed.skydns.test.',
      'srvin.skydns.test. 3600 IN SRV 10 25 80 c1.chain.skydns.test.',
      'srvin.skydns.test. 3600 IN SRV 10 25 8080 www.ext.skydns.test.',
      'srvin.skydns.test. 3600 IN SRV 10 25 444 mixed.skydns.test.',
    ],
    additional: [
      'mixed.skydns.test. 3600 IN A 10.2.0.1',
      'mixed.skydns.test. 3600 IN AAAA 2001:db8::21',
      'c1.chain.skydns.test. 3600 IN CNAME c2.chain.skydns.test.',
      'c2.chain.skydns.test. 3600 IN CNAME c3.chain.skydns.test.',
      'c3.chain.skydns.test. 3600 IN CNAME a.ipaddr.skydns.test.',
      'a.ipaddr.skydns.test. 3600 IN A 172.16.1.1',
      'www.ext.skydns.test. 3600 IN CNAME www.example.org.',
      'www.example.org. 60 IN A 192.0.2.7',
    ],
    upstream: ['www.example.org. A'],
  },
  {
    name: 'SRV: out-of-zone targets get upstream A (all) and AAAA (no CNAMEs), each target once',
    q: 'srvext.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      'srvext.skydns.test. 3600 IN SRV 10 33 80 www.example.org.',
      'srvext.skydns.test. 3600 IN SRV 10 33 81 www.example.org.',
      'srvext.skydns.test. 3600 IN SRV 10 33 82 alias.example.org.',
    ],
    additional: ['www.example.org. 60 IN A 192.0.2.7', 'www.example.org. 60 IN AAAA 2001:db8::7', 'alias.example.org. 60 IN CNAME www.example.org.'],
    upstream: ['www.example.org. A', 'www.example.org. AAAA', 'alias.example.org. A', 'alias.example.org. AAAA'],
  },
  {
    name: 'SRV: CNAMEs of the upstream AAAA answer are left out of the glue',
    q: 'srvext6.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['srvext6.skydns.test. 3600 IN SRV 10 100 80 v6alias.example.org.'],
    additional: ['v6alias.example.org. 60 IN A 192.0.2.66', 'v6.example.org. 60 IN AAAA 2001:db8::7'],
    upstream: ['v6alias.example.org. A', 'v6alias.example.org. AAAA'],
  },
  {
    name: 'SRV: an empty-host record is skipped and does not take a share of the weight',
    q: 'emptyhost.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['emptyhost.skydns.test. 3600 IN SRV 10 100 80 b.emptyhost.skydns.test.'],
    additional: ['b.emptyhost.skydns.test. 3600 IN A 10.6.0.1'],
  },
  { name: 'SRV: missing name → NXDOMAIN', q: 'nothere.skydns.test.', type: 'SRV', ...NXDOMAIN },
  { name: 'SRV: text-only records give no SRV → NODATA', q: 'a1.txt.skydns.test.', type: 'SRV', ...NODATA },

  // ---------------------------------------------------------- MX
  {
    name: 'MX: mail:true services only; preference = priority defaulted; in-zone glue with CNAMEs',
    q: 'mail.skydns.test.',
    type: 'MX',
    rcode: 'NOERROR',
    answer: ['mail.skydns.test. 3600 IN MX 10 mx.skydns.test.', 'mail.skydns.test. 3600 IN MX 20 mx2.skydns.test.'],
    additional: ['mx.skydns.test. 3600 IN CNAME a.ipaddr.skydns.test.', 'a.ipaddr.skydns.test. 3600 IN A 172.16.1.1', 'mx2.skydns.test. 3600 IN AAAA 2001:db8::25'],
  },
  {
    name: 'MX: IP host → synthesised exchange with targetstrip, glue owned by the stripped name',
    q: 'x.mailip.skydns.test.',
    type: 'MX',
    rcode: 'NOERROR',
    answer: ['x.mailip.skydns.test. 3600 IN MX 10 mailip.skydns.test.'],
    additional: ['mailip.skydns.test. 3600 IN A 10.3.0.2'],
  },
  {
    name: 'MX: out-of-zone exchange gets upstream glue',
    q: 'a.mailext.skydns.test.',
    type: 'MX',
    rcode: 'NOERROR',
    answer: ['a.mailext.skydns.test. 3600 IN MX 5 mail.example.org.'],
    additional: ['mail.example.org. 60 IN A 192.0.2.25'],
    upstream: ['mail.example.org. A', 'mail.example.org. AAAA'],
  },
  { name: 'MX: services without mail → NODATA', q: 'c.mail.skydns.test.', type: 'MX', ...NODATA },
  { name: 'MX: missing → NXDOMAIN', q: 'nothere.skydns.test.', type: 'MX', ...NXDOMAIN },

  // ---------------------------------------------------------- TXT
  {
    name: 'TXT: every service with text',
    q: 'txt.skydns.test.',
    type: 'TXT',
    rcode: 'NOERROR',
    answer: ['txt.skydns.test. 3600 IN TXT "abc"', 'txt.skydns.test. 3600 IN TXT "abc abc"'],
  },
  {
    name: 'TXT: 256 bytes → 255 + 1',
    q: '256.txtlong.skydns.test.',
    type: 'TXT',
    rcode: 'NOERROR',
    answer: [`256.txtlong.skydns.test. 3600 IN TXT ${JSON.stringify(TXT_256.slice(0, 255))} "b"`],
  },
  { name: 'TXT: exactly 255 bytes → one string', q: '255.txtlong.skydns.test.', type: 'TXT', rcode: 'NOERROR', answer: [`255.txtlong.skydns.test. 3600 IN TXT ${JSON.stringify(TXT_255)}`] },
  {
    name: 'TXT: exactly 510 bytes → two strings',
    q: '510.txtlong.skydns.test.',
    type: 'TXT',
    rcode: 'NOERROR',
    answer: [`510.txtlong.skydns.test. 3600 IN TXT ${JSON.stringify(TXT_510.slice(0, 255))} ${JSON.stringify(TXT_510.slice(255))}`],
  },
  { name: 'TXT: no text → NODATA', q: 'a.ipaddr.skydns.test.', type: 'TXT', ...NODATA },
  { name: 'TXT: missing → NXDOMAIN', q: 'nothere.skydns.test.', type: 'TXT', ...NXDOMAIN },
  { name: 'TXT: attribute leaves take part in TXT', q: 'attr.skydns.test.', type: 'TXT', rcode: 'NOERROR', answer: ['attr.skydns.test. 3600 IN TXT "hello"'] },
  { name: 'A: text-only records (no host) are skipped', q: 'txt.skydns.test.', type: 'A', ...NODATA },

  // ---------------------------------------------------------- NS / SOA / other types
  {
    name: 'NS: apex from ns.dns.<domain> with glue',
    q: 'skydns.test.',
    type: 'NS',
    rcode: 'NOERROR',
    answer: ['skydns.test. 3600 IN NS a.ns.dns.skydns.test.', 'skydns.test. 3600 IN NS b.ns.dns.skydns.test.'],
    additional: ['a.ns.dns.skydns.test. 3600 IN A 10.0.0.2', 'b.ns.dns.skydns.test. 3600 IN AAAA 2001:db8::53'],
  },
  {
    name: 'NS: the apex owner keeps the qname case',
    q: 'SkyDNS.test.',
    type: 'NS',
    rcode: 'NOERROR',
    answer: ['SkyDNS.test. 3600 IN NS a.ns.dns.skydns.test.', 'SkyDNS.test. 3600 IN NS b.ns.dns.skydns.test.'],
    additional: ['a.ns.dns.skydns.test. 3600 IN A 10.0.0.2', 'b.ns.dns.skydns.test. 3600 IN AAAA 2001:db8::53'],
  },
  {
    name: 'NS: a single leaf at ns.dns works (target ns.dns.<domain>); NS TTL from the record',
    records: [rec('ns.dns', { host: '10.0.0.53', ttl: 300 })],
    q: 'skydns.test.',
    type: 'NS',
    rcode: 'NOERROR',
    answer: ['skydns.test. 300 IN NS ns.dns.skydns.test.'],
    additional: ['ns.dns.skydns.test. 300 IN A 10.0.0.53'],
  },
  { name: 'NS: apex without ns.dns records → NODATA', records: [rec('a', { host: '10.9.0.1' })], q: 'skydns.test.', type: 'NS', ...NODATA },
  {
    name: 'NS: a name-valued NS record empties the answer → NODATA',
    records: [rec('a.ns.dns', { host: '10.0.0.2' }), rec('b.ns.dns', { host: 'ns.example.org' })],
    q: 'skydns.test.',
    type: 'NS',
    ...NODATA,
  },
  { name: 'NS: below the apex → NODATA', q: 'ipaddr.skydns.test.', type: 'NS', ...NODATA },
  { name: 'NS: a name that does not exist → NXDOMAIN', q: 'nothere.skydns.test.', type: 'NS', ...NXDOMAIN },
  {
    name: 'SOA: at the apex (serial = now truncated to the hour)',
    q: 'skydns.test.',
    type: 'SOA',
    rcode: 'NOERROR',
    answer: ['skydns.test. 3600 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. SERIAL 28800 7200 604800 60'],
  },
  {
    name: 'SOA: min_ttl and ttl come from the configuration',
    cfg: { ttl: 1800, minTtl: 30 },
    q: 'skydns.test.',
    type: 'SOA',
    rcode: 'NOERROR',
    answer: ['skydns.test. 1800 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. SERIAL 28800 7200 604800 30'],
  },
  {
    name: 'SOA: negative answers carry the SOA with TTL min_ttl',
    cfg: { minTtl: 30 },
    q: 'nothere.skydns.test.',
    type: 'A',
    rcode: 'NXDOMAIN',
    authority: ['skydns.test. 30 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. SERIAL 28800 7200 604800 30'],
  },
  { name: 'SOA: below the apex → NODATA', q: 'ipaddr.skydns.test.', type: 'SOA', ...NODATA },
  { name: 'SOA: below the apex, missing → NXDOMAIN', q: 'nothere.skydns.test.', type: 'SOA', ...NXDOMAIN },
  { name: 'DNSKEY: at the apex without a key → NODATA', q: 'skydns.test.', type: 'DNSKEY', ...NODATA },
  { name: 'HINFO: existing name → NODATA', q: 'a.ipaddr.skydns.test.', type: 'HINFO', ...NODATA },
  { name: 'HINFO: missing name → NXDOMAIN', q: 'nothere.skydns.test.', type: 'HINFO', ...NXDOMAIN },
  { name: 'PTR inside the domain: existing name → NODATA', q: 'a.ipaddr.skydns.test.', type: 'PTR', ...NODATA },

  // ---------------------------------------------------------- CHAOS
  {
    name: 'CHAOS: authors.bind',
    q: 'authors.bind.',
    type: 'TXT',
    qclass: 'CH',
    rcode: 'NOERROR',
    answer: ['Erik St. Martin', 'Brian Ketelsen', 'Miek Gieben', 'Michael Crosby'].map((a) => `authors.bind. 0 CH TXT "${a}"`),
  },
  {
    name: 'CHAOS: TXT for the domain also lists the authors',
    q: 'skydns.test.',
    type: 'TXT',
    qclass: 'CH',
    rcode: 'NOERROR',
    answer: ['Erik St. Martin', 'Brian Ketelsen', 'Miek Gieben', 'Michael Crosby'].map((a) => `skydns.test. 0 CH TXT "${a}"`),
  },
  { name: 'CHAOS: version.bind', q: 'version.bind.', type: 'TXT', qclass: 'CH', rcode: 'NOERROR', answer: ['version.bind. 0 CH TXT "2.5.3a"'] },
  { name: 'CHAOS: version.server, case preserved', q: 'Version.Server.', type: 'TXT', qclass: 'CH', rcode: 'NOERROR', answer: ['Version.Server. 0 CH TXT "2.5.3a"'] },
  { name: 'CHAOS: hostname.bind is the machine hostname', q: 'hostname.bind.', type: 'TXT', qclass: 'CH', rcode: 'NOERROR', answer: [`hostname.bind. 0 CH TXT ${JSON.stringify(hostname())}`] },
  { name: 'CHAOS: id.server is the machine hostname', q: 'id.server.', type: 'TXT', qclass: 'CH', rcode: 'NOERROR', answer: [`id.server. 0 CH TXT ${JSON.stringify(hostname())}`] },
  { name: 'CHAOS: other TXT names → SERVFAIL', q: 'foo.bind.', type: 'TXT', qclass: 'CH', rcode: 'SERVFAIL' },
  { name: 'CHAOS: other types → SERVFAIL', q: 'version.bind.', type: 'A', qclass: 'CH', rcode: 'SERVFAIL' },
  { name: 'CHAOS: names in the zone are not looked up', q: 'a.ipaddr.skydns.test.', type: 'A', qclass: 'CH', rcode: 'SERVFAIL' },

  // ---------------------------------------------------------- -local substitution
  {
    name: 'local: the looked-up name replaces the question, owner stays',
    q: 'local.dns.skydns.test.',
    lookupName: 'a.ipaddr.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['local.dns.skydns.test. 3600 IN A 172.16.1.1'],
  },
  {
    name: 'local: full rules including CNAME chasing',
    q: 'local.dns.skydns.test.',
    lookupName: '1.cname.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: [`local.dns.skydns.test. 3600 IN CNAME ${R1}`, `${R1} 3600 IN A 10.0.0.1`],
  },
  {
    name: 'local: SRV with the substituted name',
    q: 'local.dns.skydns.test.',
    lookupName: 'x.bar.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['local.dns.skydns.test. 3600 IN SRV 10 100 80 bar.skydns.test.'],
    additional: ['bar.skydns.test. 3600 IN A 192.168.0.1'],
  },
  { name: 'local: a substituted name that does not exist → NXDOMAIN', q: 'local.dns.skydns.test.', lookupName: 'nothere.skydns.test.', type: 'A', ...NXDOMAIN },

  // ---------------------------------------------------------- bad and empty values
  { name: 'bad JSON values in the subtree are skipped, the rest answers', q: 'broken.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['broken.skydns.test. 3600 IN A 10.9.9.8'] },
  { name: 'a bad JSON value alone: the name exists → NODATA', q: '1.broken.skydns.test.', type: 'A', ...NODATA },
  { name: 'an empty-host record is skipped for A', q: 'emptyhost.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['emptyhost.skydns.test. 3600 IN A 10.6.0.1'] },
  { name: 'an empty-host record alone → NODATA', q: 'a.emptyhost.skydns.test.', type: 'A', ...NODATA },

  // ---------------------------------------------------------- attrleaf labels (docs/design.md §6)
  {
    name: 'attrleaf: headless service A returns exactly the endpoint addresses, no CNAME',
    q: WEB,
    type: 'A',
    rcode: 'NOERROR',
    answer: [`${WEB} 30 IN A 10.8.0.1`, `${WEB} 30 IN A 10.8.0.2`],
  },
  { name: 'attrleaf: headless service AAAA → NODATA (no CNAME either)', q: WEB, type: 'AAAA', ...NODATA },
  { name: 'attrleaf: headless service CNAME query → NODATA', q: WEB, type: 'CNAME', ...NODATA },
  {
    name: 'attrleaf: SRV for _http._tcp.<svc> with glue',
    q: `_http._tcp.${WEB}`,
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [`_http._tcp.${WEB} 30 IN SRV 10 50 80 ${HASH_1}.${WEB}`, `_http._tcp.${WEB} 30 IN SRV 10 50 80 ${HASH_2}.${WEB}`],
    additional: [`${HASH_1}.${WEB} 30 IN A 10.8.0.1`, `${HASH_2}.${WEB} 30 IN A 10.8.0.2`],
  },
  {
    name: 'attrleaf: SRV for the service name itself still sees every leaf',
    q: WEB,
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [
      `${WEB} 30 IN SRV 10 25 0 ${HASH_1}.${WEB}`,
      `${WEB} 30 IN SRV 10 25 80 ${HASH_1}.${WEB}`,
      `${WEB} 30 IN SRV 10 25 80 ${HASH_2}.${WEB}`,
      `${WEB} 30 IN SRV 10 25 0 ${HASH_2}.${WEB}`,
    ],
    additional: [`${HASH_1}.${WEB} 30 IN A 10.8.0.1`, `${HASH_2}.${WEB} 30 IN A 10.8.0.2`],
  },
  { name: 'attrleaf: an endpoint name', q: `${HASH_1}.${WEB}`, type: 'A', rcode: 'NOERROR', answer: [`${HASH_1}.${WEB} 30 IN A 10.8.0.1`] },
  {
    name: 'attrleaf: an A query naming the attribute labels chases the SRV hosts (legacy)',
    q: `_http._tcp.${WEB}`,
    type: 'A',
    rcode: 'NOERROR',
    answer: [`_http._tcp.${WEB} 30 IN CNAME ${HASH_1}.${WEB}`, `${HASH_1}.${WEB} 30 IN A 10.8.0.1`, `${HASH_2}.${WEB} 30 IN A 10.8.0.2`],
  },
  {
    name: 'attrleaf: wildcards do not reach attribute leaves for A',
    q: `*.*.${WEB}`,
    type: 'A',
    ...NODATA,
  },
  {
    name: 'attrleaf: wildcards do reach attribute leaves for SRV',
    q: `*.*.${WEB}`,
    type: 'SRV',
    rcode: 'NOERROR',
    answer: [`*.*.${WEB} 30 IN SRV 10 50 80 ${HASH_1}.${WEB}`, `*.*.${WEB} 30 IN SRV 10 50 80 ${HASH_2}.${WEB}`],
    additional: [`${HASH_1}.${WEB} 30 IN A 10.8.0.1`, `${HASH_2}.${WEB} 30 IN A 10.8.0.2`],
  },
  {
    name: 'attrleaf: ClusterIP service A is the cluster IP only',
    q: 'kubernetes.default.svc.skydns.test.',
    type: 'A',
    rcode: 'NOERROR',
    answer: ['kubernetes.default.svc.skydns.test. 30 IN A 10.0.0.1'],
  },
  {
    name: 'attrleaf: ClusterIP service SRV with glue for the service name',
    q: '_https._tcp.kubernetes.default.svc.skydns.test.',
    type: 'SRV',
    rcode: 'NOERROR',
    answer: ['_https._tcp.kubernetes.default.svc.skydns.test. 30 IN SRV 10 100 443 kubernetes.default.svc.skydns.test.'],
    additional: ['kubernetes.default.svc.skydns.test. 30 IN A 10.0.0.1'],
  },
  { name: 'attrleaf: an attribute leaf does not make an A answer', q: 'attr.skydns.test.', type: 'A', rcode: 'NOERROR', answer: ['attr.skydns.test. 3600 IN A 10.4.0.1'] },
];

describe('Resolver.authoritative', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const env = setup(c.records ?? SKYDNS_RECORDS, c.cfg);
      const req: Request = { qname: c.q, qtype: TYPE[c.type], qclass: c.qclass === 'CH' ? CLASS.CH : CLASS.IN, do: false, bufsize: 512 };
      const before = hourSerial();
      const ans = await env.resolver.authoritative(req, c.lookupName);
      const serials = [before, hourSerial()];
      assert.deepEqual(shown(ans, serials), {
        rcode: c.rcode,
        aa: c.aa ?? true,
        ra: c.ra ?? true,
        answer: c.answer ?? [],
        authority: c.authority ?? [],
        additional: c.additional ?? [],
      });
      assert.deepEqual(env.upstream.calls, c.upstream ?? [], 'upstream lookups');
    });
  }
});

// ---------------------------------------------------------------- PTR

interface PtrCase {
  name: string;
  q: string;
  /** null: not answered here, the query is forwarded. */
  answer: string[] | null;
}

const PTR_CASES: PtrCase[] = [
  { name: 'one leaf → PTR', q: '1.0.0.10.in-addr.arpa.', answer: ['1.0.0.10.in-addr.arpa. 3600 IN PTR reverse.example.com.'] },
  { name: 'qname case preserved', q: '1.0.0.10.IN-ADDR.ARPA.', answer: ['1.0.0.10.IN-ADDR.ARPA. 3600 IN PTR reverse.example.com.'] },
  { name: 'record ttl', q: '2.0.0.10.in-addr.arpa.', answer: ['2.0.0.10.in-addr.arpa. 120 IN PTR two.example.com.'] },
  { name: 'lease ttl', q: '7.0.0.10.in-addr.arpa.', answer: ['7.0.0.10.in-addr.arpa. 42 IN PTR seven.example.com.'] },
  { name: 'IPv6 nibble name', q: reverseName('2001:db8::1')!, answer: [`${reverseName('2001:db8::1')!} 3600 IN PTR v6.example.com.`] },
  { name: 'missing → forward', q: '9.0.0.10.in-addr.arpa.', answer: null },
  { name: 'directory → forward', q: '0.0.10.in-addr.arpa.', answer: null },
  { name: 'directory holding one leaf → forward', q: '5.1.0.10.in-addr.arpa.', answer: null },
  { name: 'a value with a child (several records) → forward', q: '3.0.0.10.in-addr.arpa.', answer: null },
  { name: 'IP host → forward', q: '4.0.0.10.in-addr.arpa.', answer: null },
  { name: 'bad JSON → forward', q: '6.0.0.10.in-addr.arpa.', answer: null },
  { name: 'empty host → forward', q: '8.0.0.10.in-addr.arpa.', answer: null },
  { name: 'wildcard → forward', q: '*.0.0.10.in-addr.arpa.', answer: null },
  { name: 'not a reverse name → forward', q: 'a.ipaddr.skydns.test.', answer: null },
];

describe('Resolver.reverse', () => {
  for (const c of PTR_CASES) {
    test(c.name, () => {
      const env = setup(SKYDNS_RECORDS);
      const ans = env.resolver.reverse({ qname: c.q, qtype: TYPE.PTR, qclass: CLASS.IN, do: false, bufsize: 512 });
      if (c.answer === null) {
        assert.equal(ans, null);
        return;
      }
      assert.ok(ans);
      assert.deepEqual(shown(ans, []), { rcode: 'NOERROR', aa: false, ra: true, answer: c.answer, authority: [], additional: [] });
      assert.deepEqual(env.upstream.calls, []);
    });
  }
});

// ---------------------------------------------------------------- everything else

describe('Resolver details', () => {
  const ask = (r: Resolver, qname: string, type: TypeName, extra: Partial<Request> = {}) =>
    r.authoritative({ qname, qtype: TYPE[type], qclass: CLASS.IN, do: false, bufsize: 512, ...extra });

  test('the lease oracle is asked with the lease ID and never for keys without a lease', async () => {
    const env = setup(SKYDNS_RECORDS);
    await ask(env.resolver, 'a.lease.skydns.test.', 'A');
    await ask(env.resolver, 'a.ipaddr.skydns.test.', 'A');
    assert.deepEqual(env.leaseQueries, [LEASE.thirty]);
  });

  test('reuseUntil: short for leased records and upstream data, at most the next hour otherwise', async () => {
    const env = setup(SKYDNS_RECORDS);
    const t0 = Date.now();
    const plain = await ask(env.resolver, 'a.ipaddr.skydns.test.', 'A');
    const nextHour = t0 - (t0 % 3600_000) + 3600_000;
    assert.ok(plain.reuseUntil > t0 && plain.reuseUntil <= nextHour, `plain ${plain.reuseUntil - t0} ms`);
    const leased = await ask(env.resolver, 'a.lease.skydns.test.', 'A');
    assert.ok(leased.reuseUntil <= Date.now() + 1000, `leased ${leased.reuseUntil - t0} ms`);
    const upstream = await ask(env.resolver, 'www.ext.skydns.test.', 'A');
    assert.ok(upstream.reuseUntil <= Date.now() + 60_000, `upstream ${upstream.reuseUntil - t0} ms`);
  });

  test('upstream lookups carry the client DO bit and buffer size', async () => {
    const env = setup(SKYDNS_RECORDS);
    await ask(env.resolver, 'www.ext.skydns.test.', 'A', { do: true, bufsize: 4096 });
    assert.deepEqual(env.upstream.opts, [{ do: true, bufsize: 4096 }]);
  });

  test('a resolver without an upstream answers out-of-zone CNAMEs with the lone CNAME', async () => {
    const tree = fillTree(new RecordTree('skydns'), SKYDNS_RECORDS);
    const r = new Resolver(tree, baseConfig(), null, new MemLog());
    const ans = await ask(r, 'www.ext.skydns.test.', 'A');
    assert.deepEqual(shown(ans, [hourSerial()]), { rcode: 'NOERROR', aa: true, ra: true, answer: ['www.ext.skydns.test. 3600 IN CNAME www.example.org.'], authority: [], additional: [] });
  });

  test('an answer made without a failed upstream lookup is reused for 5 s at most; a good one for rcache-ttl', async () => {
    const env = setup(SKYDNS_RECORDS);
    const t0 = Date.now();
    const failed = await ask(env.resolver, 'fail.ext.skydns.test.', 'A');
    const t1 = Date.now();
    // The pass that met the failure ran between t0 and t1 (bounds of the clock, not a slack this
    // VM's stops of tens of ms could exceed).
    assert.ok(failed.reuseUntil >= t0 + 5000 && failed.reuseUntil <= t1 + 5000, `failed: ${failed.reuseUntil - t0} ms after t0, ${t1 - t0} ms asking`);
    const good = await ask(env.resolver, 'www.ext.skydns.test.', 'A');
    assert.ok(good.reuseUntil > t0 + 5000, `good: ${good.reuseUntil - t0} ms`);
  });

  test('bad values are reported by the tree when they arrive (with their key); answering logs nothing', async () => {
    const env = setup(SKYDNS_RECORDS);
    const bad = ['1.broken', '3.broken'].map((n) => env.tree.get(`/skydns/test/skydns/${n.split('.').reverse().join('/')}`)!.error);
    assert.match(bad[0]!, /^bad record at \/skydns\/test\/skydns\/broken\/1: /);
    assert.match(bad[1]!, /^bad record at \/skydns\/test\/skydns\/broken\/3: invalid JSON/);
    const ans = await ask(env.resolver, 'broken.skydns.test.', 'A');
    assert.deepEqual(ans.answer.map((rr) => show(rr, [])), ['broken.skydns.test. 3600 IN A 10.9.9.8']);
    assert.deepEqual(env.log.lines, []);
  });

  test('empty-host records are skipped for A and SRV without a word (a text-only record is not an error)', async () => {
    const env = setup(SKYDNS_RECORDS);
    await ask(env.resolver, 'emptyhost.skydns.test.', 'A');
    await ask(env.resolver, 'emptyhost.skydns.test.', 'SRV');
    assert.deepEqual(env.log.lines, []);
  });

  test('the default hostmaster is hostmaster.<domain>', async () => {
    const cfg = { ...baseConfig(), domain: 'Example.ORG', hostmaster: '' };
    applyDefaults(cfg);
    const r = new Resolver(new RecordTree('skydns'), cfg, null, new MemLog());
    const ans = await ask(r, 'example.org.', 'SOA');
    assert.deepEqual(
      ans.answer.map((rr) => show(rr, [hourSerial()])),
      ['example.org. 3600 IN SOA ns.dns.example.org. hostmaster.example.org. SERIAL 28800 7200 604800 60'],
    );
  });

  test('answers follow tree changes', async () => {
    const env = setup([rec('a.live', { host: '10.60.0.1' })]);
    assert.equal((await ask(env.resolver, 'live.skydns.test.', 'A')).answer.length, 1);
    env.tree.put(rec('b.live', { host: '10.60.0.2' }).key, JSON.stringify({ host: '10.60.0.2' }));
    assert.equal((await ask(env.resolver, 'live.skydns.test.', 'A')).answer.length, 2);
    env.tree.delete(rec('a.live', {}).key);
    env.tree.delete(rec('b.live', {}).key);
    assert.equal((await ask(env.resolver, 'live.skydns.test.', 'A')).rcode, RCODE.NXDOMAIN);
  });

  test('srvWeights uses IEEE double arithmetic in SkyDNS order', () => {
    const svc = (priority: number, weight: number) => ({ ...emptyRecord(), priority, weight });
    assert.deepEqual(srvWeights([svc(10, 130), svc(10, 80), svc(10, 150)]), [36, 22, 41]);
    assert.deepEqual(srvWeights([svc(10, 120), svc(10, 100), svc(10, 130)]), [34, 28, 37]);
    assert.deepEqual(srvWeights([svc(10, 0), svc(10, 0), svc(10, 0)]), [33, 33, 33]);
    assert.deepEqual(srvWeights([svc(10, 0)]), [100]);
    assert.deepEqual(srvWeights([svc(10, 0), svc(20, 1)]), [100, 100]);
  });

  test('txtChunks splits at 255 bytes without a trailing empty string', () => {
    const lens = (s: string) => txtChunks(s).map((b) => b.length);
    assert.deepEqual(lens(''), [0]);
    assert.deepEqual(lens('x'.repeat(255)), [255]);
    assert.deepEqual(lens('x'.repeat(256)), [255, 1]);
    assert.deepEqual(lens('x'.repeat(511)), [255, 255, 1]);
  });

});

describe('bounded work per question (issue #16)', () => {
  const ask = (r: Resolver, qname: string, type: TypeName, bufsize: number) => r.authoritative({ qname, qtype: TYPE[type], qclass: CLASS.IN, do: false, bufsize });

  /** A real tree that counts the entries its lookups hand out and how many lookups were made. */
  class CountingTree extends RecordTree {
    lookups = 0;
    handed = 0;
    override collect(segs: readonly string[], exact: boolean, skipAttrleaf: boolean, out: Entry[], max?: number): boolean {
      const before = out.length;
      const r = super.collect(segs, exact, skipAttrleaf, out, max);
      this.lookups++;
      this.handed += out.length - before;
      return r;
    }
  }

  function bigTree(n: number): CountingTree {
    const t = new CountingTree('skydns');
    for (let i = 0; i < n; i++) {
      const svc = `s${i}`;
      t.put(`/skydns/test/skydns/svc/ns${i % 50}/${svc}/1`, JSON.stringify({ host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 80 }));
    }
    return t;
  }

  test('a subtree question over 30,000 records gathers what its reply can carry (UDP and TCP), says TC, and keeps tree order', async () => {
    const t = bigTree(30_000);
    const r = new Resolver(t, baseConfig(), null, new MemLog());
    const udp = await ask(r, 'svc.skydns.test.', 'SRV', 1232);
    assert.equal(udp.cut, true);
    assert.ok(t.handed <= Math.floor(1232 / 12) + 1 + 5, `entries handed out: ${t.handed}`);
    assert.ok(udp.answer.length > 0 && udp.answer.length <= 103, String(udp.answer.length));
    // The first records in tree order: ns0 sorts first, s0 before s100 before s1000…
    assert.match(show(udp.answer[0], []), /^svc\.skydns\.test\. \d+ IN SRV 10 \d+ 80 1\.s0\.ns0\.svc\.skydns\.test\.$/);
    t.handed = 0;
    const tcp = await ask(r, 'svc.skydns.test.', 'A', 65535);
    assert.equal(tcp.cut, true);
    assert.ok(t.handed <= Math.floor(65535 / 12) + 1 + 5, `entries handed out: ${t.handed}`);
    // A name whose records fit is not cut.
    const one = await ask(r, 's7.ns7.svc.skydns.test.', 'A', 1232);
    assert.equal(one.cut, false);
    assert.deepEqual(one.answer.map((rr) => show(rr, [])), ['s7.ns7.svc.skydns.test. 3600 IN A 10.0.0.7']);
  });

  test('a CNAME fan-out (4 targets per name, 8 levels deep) makes at most MAX_LOOKUPS lookups', async () => {
    const t = new CountingTree('skydns');
    // Level L names l<L>-<i>.fan.skydns.test, each with 4 leaves pointing at 4 names of the next level.
    for (let level = 0; level < 8; level++) {
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) t.put(`/skydns/test/skydns/fan/l${level}-${i}/${j}`, JSON.stringify({ host: `l${level + 1}-${j}.fan.skydns.test` }));
      }
    }
    for (let i = 0; i < 4; i++) t.put(`/skydns/test/skydns/fan/l8-${i}/a`, JSON.stringify({ host: `10.9.0.${i}` }));
    const r = new Resolver(t, baseConfig(), null, new MemLog());
    const ans = await ask(r, 'l0-0.fan.skydns.test.', 'A', 65535);
    assert.ok(t.lookups <= MAX_LOOKUPS + 2, `lookups: ${t.lookups}`);
    assert.equal(ans.cut, true);
    assert.equal(ans.answer[0].type, TYPE.CNAME);
  });
});
