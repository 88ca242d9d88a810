#!/usr/bin/env node
/**
 * Our DNS codec (lib/skydns/wire.ts) beside dns-packet, the design card's codec, on the messages
 * skydns handles most: parsing a query, and encoding an answer of one A record, of an NXDOMAIN
 * with the SOA, and of an SRV answer with 10 records and glue. In process, one core, best of
 * 5 rounds of CODEC_ROUNDS messages each; prints ns per message and bytes per reply (dns-packet
 * does not compress names). Run: `npm run bench:codec` (built: `node dist/bench/codec.js`).
 */
import dnsPacket from 'dns-packet';
import { CLASS, FastContext, Message, RR, TYPE, ZoneSoa, encodeMessage, encodeQuery, parseQuery } from '../lib/skydns/wire.js';
import { envInt } from './common.js';

const N = envInt('CODEC_ROUNDS', 200_000, 1000, 10_000_000);
const Q = 'web.default.svc.cluster.local.';

function best(fn: (i: number) => number): number {
  let bestNs = Infinity;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sink += fn(i);
    bestNs = Math.min(bestNs, Number(process.hrtime.bigint() - t0) / N);
  }
  if (sink === 42) process.stdout.write(''); // keeps the work observable
  return bestNs;
}

const soa: RR = { name: 'cluster.local.', type: TYPE.SOA, class: CLASS.IN, ttl: 60, data: { t: 'soa', mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.', serial: 1733270400, refresh: 28800, retry: 7200, expire: 604800, minimum: 60 } };
const header = { id: 1, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: false, rcode: 0 };
const edns = { udpSize: 1232, extRcode: 0, version: 0, do: false, options: [] };
const srvTargets = Array.from({ length: 10 }, (_, i) => `e${i}.web.default.svc.cluster.local.`);

const cases: { label: string; ours: Message; theirs: dnsPacket.Packet }[] = [
  {
    label: 'A answer, 1 record',
    ours: { header, question: [{ name: Q, type: TYPE.A, class: CLASS.IN }], answer: [{ name: Q, type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip', octets: String.fromCharCode(10, 0, 0, 20) } }], authority: [], additional: [], edns },
    theirs: { id: 1, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: [{ name: Q.slice(0, -1), type: 'A', class: 'IN' }], answers: [{ name: Q.slice(0, -1), type: 'A', ttl: 30, class: 'IN', data: '10.0.0.20' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer] },
  },
  {
    label: 'NXDOMAIN with SOA',
    ours: { header: { ...header, rcode: 3 }, question: [{ name: `x.${Q}`, type: TYPE.A, class: CLASS.IN }], answer: [], authority: [soa], additional: [], edns },
    theirs: { id: 1, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | 3, questions: [{ name: `x.${Q.slice(0, -1)}`, type: 'A', class: 'IN' }], authorities: [{ name: 'cluster.local', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1733270400, refresh: 28800, retry: 7200, expire: 604800, minimum: 60 } }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer] },
  },
  {
    label: 'SRV answer, 10 records + glue',
    ours: {
      header,
      question: [{ name: `_http._tcp.${Q}`, type: TYPE.SRV, class: CLASS.IN }],
      answer: srvTargets.map((t) => ({ name: `_http._tcp.${Q}`, type: TYPE.SRV, class: CLASS.IN, ttl: 30, data: { t: 'srv' as const, priority: 10, weight: 10, port: 80, target: t } })),
      authority: [],
      additional: srvTargets.map((t, i) => ({ name: t, type: TYPE.A, class: CLASS.IN, ttl: 30, data: { t: 'ip' as const, octets: String.fromCharCode(10, 1, 0, i) } })),
      edns,
    },
    theirs: {
      id: 1,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ name: `_http._tcp.${Q.slice(0, -1)}`, type: 'SRV', class: 'IN' }],
      answers: srvTargets.map((t) => ({ name: `_http._tcp.${Q.slice(0, -1)}`, type: 'SRV' as const, ttl: 30, class: 'IN' as const, data: { priority: 10, weight: 10, port: 80, target: t.slice(0, -1) } })),
      additionals: [...srvTargets.map((t, i) => ({ name: t.slice(0, -1), type: 'A' as const, ttl: 30, class: 'IN' as const, data: `10.1.0.${i}` })), { type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer],
    },
  },
];

const lines: string[] = [`DNS codec, ${N} messages a round, best of 5, node ${process.version}`, `${'work'.padEnd(34)} ${'ours ns'.padStart(9)} ${'dns-packet ns'.padStart(14)} ${'ratio'.padStart(6)}   bytes (ours / dns-packet)`];
const query = encodeQuery(Q, TYPE.A, 1, 1232);
{
  const o = best(() => parseQuery(query).qtype);
  const t = best(() => (dnsPacket.decode(query).questions?.length ?? 0));
  lines.push(`${'parse a query'.padEnd(34)} ${o.toFixed(0).padStart(9)} ${t.toFixed(0).padStart(14)} ${(t / o).toFixed(1).padStart(6)}`);
}
const zone = new ZoneSoa('cluster.local.', 'ns.dns.cluster.local.', 'hostmaster.cluster.local.');
for (const c of cases) {
  // As skydns encodes an answer: the question copied from the request's bytes, the zone's SOA pre-encoded.
  const q = c.ours.question[0];
  const raw = encodeQuery(q.name, q.type, 1, 1232);
  const fast: FastContext = { raw, questionEnd: parseQuery(raw).questionEnd, qname: q.name, soa: zone };
  const o = best(() => encodeMessage(c.ours, 65535, fast)!.buf.length);
  const g = best(() => encodeMessage(c.ours, 65535)!.buf.length);
  const t = best(() => dnsPacket.encode(c.theirs).length);
  lines.push(`${`encode: ${c.label}`.padEnd(34)} ${o.toFixed(0).padStart(9)} ${t.toFixed(0).padStart(14)} ${(t / o).toFixed(1).padStart(6)}   ${encodeMessage(c.ours, 65535, fast)!.buf.length} / ${dnsPacket.encode(c.theirs).length}   (ours without the request's bytes: ${g.toFixed(0)} ns)`);
}
process.stdout.write(lines.join('\n') + '\n');
