// dns-packet (the design card's DNS codec) as a second opinion on our wire format: thousands of
// seeded random messages encoded by our encoder are decoded by dns-packet and must say the same
// thing, and messages encoded by dns-packet are decoded by ours (decodeMessage, parseQuery) and
// must say the same thing. Our encoder compresses names; dns-packet does not, so both directions
// also cross compressed and uncompressed names. (Why the query path keeps its own codec: README,
// Dependencies.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { CLASS, Message, RR, RData, TYPE, decodeMessage, encodeMessage, parseQuery } from '../../lib/skydns/wire.js';
import { ipOctets } from '../../lib/msg/path.js';
import { rng } from '../harness/random.js';

const ROUNDS = Number(process.env.WIRE_ROUNDS ?? 3000);
const TYPES = ['A', 'AAAA', 'CNAME', 'NS', 'PTR', 'MX', 'SRV', 'TXT', 'SOA'] as const;
type TypeName = (typeof TYPES)[number];

function gen(seed: number) {
  const next = rng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  const label = () => Array.from({ length: 1 + (int(4) === 0 ? int(63) : int(10)) }, () => ALPHA[int(ALPHA.length)]).join('');
  // A few shared suffixes, so that our encoder has names to compress against.
  const suffixes = ['svc.cluster.local', 'example.org', 'x.y.z', `${label()}.test`];
  const name = (): string => {
    if (int(20) === 0) return '.';
    const parts = Array.from({ length: int(4) }, label);
    let n = [...parts, pick(suffixes)].join('.');
    while (n.length > 240) n = n.slice(n.indexOf('.') + 1);
    return n;
  };
  const ip4 = () => Array.from({ length: 4 }, () => int(256)).join('.');
  const ip6 = () => Array.from({ length: 8 }, () => (int(3) === 0 ? 0 : int(65536)).toString(16)).join(':');
  const u16 = () => int(65536);
  const u32 = () => int(2 ** 32);
  return { int, pick, name, ip4, ip6, u16, u32, next };
}

type G = ReturnType<typeof gen>;

/** A random record in dns-packet's shape. */
function dpRecord(g: G): dnsPacket.Answer {
  const type = g.pick(TYPES) as TypeName;
  const base = { name: g.name(), ttl: g.int(10) === 0 ? 2 ** 31 - 1 : g.int(100_000), class: 'IN' as const };
  switch (type) {
    case 'A':
      return { ...base, type, data: g.ip4() };
    case 'AAAA':
      return { ...base, type, data: g.ip6() };
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return { ...base, type, data: g.name() };
    case 'MX':
      return { ...base, type, data: { preference: g.u16(), exchange: g.name() } };
    case 'SRV':
      return { ...base, type, data: { priority: g.u16(), weight: g.u16(), port: g.u16(), target: g.name() } };
    case 'TXT':
      return { ...base, type, data: Array.from({ length: 1 + g.int(4) }, () => Buffer.from(Array.from({ length: g.int(256) }, () => g.int(256)))) };
    case 'SOA':
      return { ...base, type, data: { mname: g.name(), rname: g.name(), serial: g.u32(), refresh: g.u32(), retry: g.u32(), expire: g.u32(), minimum: g.u32() } };
  }
}

const fq = (n: string) => (n === '.' ? '.' : `${n}.`);

/** The same record in our shape. */
function ours(r: dnsPacket.Answer): RR {
  const a = r as unknown as { name: string; type: TypeName; ttl: number; data: unknown };
  const d = a.data as Record<string, unknown>;
  let data: RData;
  switch (a.type) {
    case 'A':
    case 'AAAA':
      data = { t: 'ip', octets: ipOctets(a.data as string)! };
      break;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      data = { t: 'name', name: fq(a.data as string) };
      break;
    case 'MX':
      data = { t: 'mx', preference: d.preference as number, exchange: fq(d.exchange as string) };
      break;
    case 'SRV':
      data = { t: 'srv', priority: d.priority as number, weight: d.weight as number, port: d.port as number, target: fq(d.target as string) };
      break;
    case 'TXT':
      data = { t: 'txt', strings: a.data as Buffer[] };
      break;
    case 'SOA':
      data = { t: 'soa', mname: fq(d.mname as string), rname: fq(d.rname as string), serial: d.serial as number, refresh: d.refresh as number, retry: d.retry as number, expire: d.expire as number, minimum: d.minimum as number };
      break;
  }
  return { name: fq(a.name), type: TYPE[a.type], class: CLASS.IN, ttl: a.ttl, data };
}

/** A record as text both codecs must agree on (names compared without case, as DNS does). */
function show(rr: RR): string {
  const d = rr.data;
  const n = (s: string) => s.toLowerCase();
  let text: string;
  switch (d.t) {
    case 'ip':
      text = Buffer.from(d.octets, 'latin1').toString('hex');
      break;
    case 'name':
      text = n(d.name);
      break;
    case 'mx':
      text = `${d.preference} ${n(d.exchange)}`;
      break;
    case 'srv':
      text = `${d.priority} ${d.weight} ${d.port} ${n(d.target)}`;
      break;
    case 'txt':
      text = d.strings.map((s) => Buffer.from(s).toString('hex')).join(' ');
      break;
    case 'soa':
      text = `${n(d.mname)} ${n(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
      break;
    case 'raw':
      text = d.bytes.toString('hex');
      break;
  }
  return `${rr.name} ${rr.ttl} ${rr.class} ${rr.type} ${text}`;
}

/** A random message: dns-packet's form and ours. */
function message(g: G): { dp: dnsPacket.Packet; msg: Message } {
  const rcode = g.int(6);
  const h = { id: g.u16(), qr: g.int(2) === 1, opcode: g.int(3) === 0 ? 0 : g.pick([0, 1, 2, 4, 5]), aa: g.int(2) === 1, tc: g.int(4) === 0, rd: g.int(2) === 1, ra: g.int(2) === 1, ad: g.int(4) === 0, cd: g.int(4) === 0, rcode };
  const qname = g.name();
  const qtype = g.pick(TYPES) as TypeName;
  const answers = Array.from({ length: g.int(5) }, () => dpRecord(g));
  const authorities = Array.from({ length: g.int(3) }, () => dpRecord(g));
  const additionals = Array.from({ length: g.int(3) }, () => dpRecord(g));
  const edns = g.int(2) === 1 ? { udpSize: 512 + g.int(65000), do: g.int(2) === 1, options: g.int(3) === 0 ? [{ code: g.pick([3, 10, 12, 65001]), data: Buffer.from(Array.from({ length: g.int(20) }, () => g.int(256))) }] : [] } : null;
  const flags =
    (h.opcode << 11) | (h.aa ? 0x400 : 0) | (h.tc ? 0x200 : 0) | (h.rd ? 0x100 : 0) | (h.ra ? 0x80 : 0) | (h.ad ? 0x20 : 0) | (h.cd ? 0x10 : 0) | h.rcode;
  const dp: dnsPacket.Packet = {
    id: h.id,
    type: h.qr ? 'response' : 'query',
    flags,
    questions: [{ name: qname, type: qtype, class: 'IN' }],
    answers,
    authorities,
    additionals: [
      ...additionals,
      ...(edns ? [{ type: 'OPT' as const, name: '.', udpPayloadSize: edns.udpSize, flags: edns.do ? dnsPacket.DNSSEC_OK : 0, options: edns.options }] : []),
    ] as dnsPacket.Answer[],
  };
  const msg: Message = {
    header: h,
    question: [{ name: fq(qname), type: TYPE[qtype], class: CLASS.IN }],
    answer: answers.map(ours),
    authority: authorities.map(ours),
    additional: additionals.map(ours),
    edns: edns ? { udpSize: edns.udpSize, extRcode: 0, version: 0, do: edns.do, options: edns.options } : null,
  };
  return { dp, msg };
}

/** dns-packet's decoding as our Message, for comparison. */
function fromDp(p: dnsPacket.DecodedPacket): { header: Message['header']; question: string[]; sections: string[][]; edns: string | null } {
  const f = p.flags ?? 0;
  const records = (xs: dnsPacket.Answer[] | undefined) => (xs ?? []).filter((r) => r.type !== 'OPT').map((r) => show(ours(r)));
  const opt = (p.additionals ?? []).find((r) => r.type === 'OPT') as dnsPacket.OptAnswer | undefined;
  return {
    header: { id: p.id!, qr: p.type === 'response', opcode: (f >> 11) & 0xf, aa: (f & 0x400) !== 0, tc: (f & 0x200) !== 0, rd: (f & 0x100) !== 0, ra: (f & 0x80) !== 0, ad: (f & 0x20) !== 0, cd: (f & 0x10) !== 0, rcode: f & 0xf },
    question: (p.questions ?? []).map((q) => `${fq(q.name).toLowerCase()} ${TYPE[q.type as TypeName]}`),
    sections: [records(p.answers), records(p.authorities), records(p.additionals)],
    edns: opt ? `${opt.udpPayloadSize} ${((opt.flags ?? 0) & dnsPacket.DNSSEC_OK) !== 0} ${(opt.options ?? []).map((o) => `${o.code}:${Buffer.from((o as { data: Buffer }).data ?? []).toString('hex')}`).join(',')}` : null,
  };
}

function fromOurs(m: Message) {
  return {
    header: m.header,
    question: m.question.map((q) => `${q.name.toLowerCase()} ${q.type}`),
    sections: [m.answer, m.authority, m.additional].map((s) => s.map(show).map(lowerOwner)),
    edns: m.edns ? `${m.edns.udpSize} ${m.edns.do} ${m.edns.options.map((o) => `${o.code}:${o.data.toString('hex')}`).join(',')}` : null,
  };
}

/** Owners compared without case too. */
function lowerOwner(s: string): string {
  const i = s.indexOf(' ');
  return s.slice(0, i).toLowerCase() + s.slice(i);
}

test(`our encoder → dns-packet's decoder: ${ROUNDS} seeded random messages say the same`, () => {
  const g = gen(1);
  let compressed = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const { msg } = message(g);
    const enc = encodeMessage(msg, 65535);
    assert.ok(enc && !enc.truncated, `message ${i} encodes`);
    const decoded = dnsPacket.decode(enc.buf);
    const theirs = fromDp(decoded);
    const mine = fromOurs(msg);
    theirs.sections = theirs.sections.map((s) => s.map(lowerOwner));
    assert.deepEqual(theirs, mine, `message ${i}`);
    if (enc.buf.includes(0xc0)) compressed++;
  }
  assert.ok(compressed > ROUNDS / 2, `compression pointers in ${compressed} messages`);
});

test(`dns-packet's encoder → our decoder: ${ROUNDS} seeded random messages say the same`, () => {
  const g = gen(2);
  for (let i = 0; i < ROUNDS; i++) {
    const { dp } = message(g);
    const buf = dnsPacket.encode(dp);
    const mine = fromOurs(decodeMessage(buf));
    const theirs = fromDp(dnsPacket.decode(buf));
    theirs.sections = theirs.sections.map((s) => s.map(lowerOwner));
    assert.deepEqual(mine, theirs, `message ${i}`);
  }
});

test(`dns-packet's queries → our parseQuery: ${ROUNDS} seeded random questions read alike`, () => {
  const g = gen(3);
  for (let i = 0; i < ROUNDS; i++) {
    const qname = g.name();
    const qtype = g.pick(TYPES) as TypeName;
    const udp = g.int(2) === 1 ? 512 + g.int(4000) : 0;
    const doBit = g.int(2) === 1;
    const buf = dnsPacket.encode({
      id: g.u16(),
      type: 'query',
      flags: dnsPacket.RECURSION_DESIRED | (g.int(2) ? dnsPacket.CHECKING_DISABLED : 0),
      questions: [{ name: qname, type: qtype, class: 'IN' }],
      additionals: udp ? [{ type: 'OPT', name: '.', udpPayloadSize: udp, flags: doBit ? dnsPacket.DNSSEC_OK : 0 } as dnsPacket.Answer] : [],
    });
    const q = parseQuery(buf);
    assert.equal(q.qname, fq(qname), `query ${i}`);
    assert.equal(q.qtype, TYPE[qtype]);
    assert.equal(q.qclass, CLASS.IN);
    assert.equal(q.header.rd, true);
    assert.equal(q.edns?.udpSize ?? 0, udp);
    if (udp) assert.equal(q.edns!.do, doBit);
  }
});
