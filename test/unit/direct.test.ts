// Direct answers (lib/skydns/direct.ts) against the general path, differentially:
// random record trees (addresses of both families, CNAMEs in and out of the zone,
// text-only and bad values, leases, groups, wildcard and underscore labels, keys in
// capitals, a node with many children) change step by step, and after each step
// every question of a random sample (A and AAAA mostly, in any case, with and
// without EDNS0, DO, options, odd header bits and trailing bytes) is answered both
// ways. Wherever the direct path answers, its reply must be the general path's byte
// for byte, and the metrics both handlers keep must agree.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configFor, SkyConfig } from '../../lib/skydns/config.js';
import { DirectAnswers } from '../../lib/skydns/direct.js';
import { DnsHandler, isPromise } from '../../lib/skydns/handler.js';
import { Metrics } from '../../lib/skydns/metrics.js';
import { Resolver, SILENT } from '../../lib/skydns/resolver.js';
import { PROBE_EMPTY, PROBE_MANY, PROBE_NONE, PROBE_ONE, RecordTree } from '../../lib/skydns/tree.js';
import { RCODE, TYPE, ZoneSoa, encodeQuery } from '../../lib/skydns/wire.js';
import { encodeRecord, SkyRecordFields } from '../../lib/msg/record.js';
import { rng } from '../harness/random.js';

const DOMAIN = 'cluster.local.';
const UDP = { tcp: false, remote: '127.0.0.1:5353' };
const TCP = { tcp: true, remote: '127.0.0.1:5353' };

interface Setup {
  tree: RecordTree;
  /** The handler as skydns runs it. */
  direct: DnsHandler;
  /** The same, every question on the general path. */
  general: DnsHandler;
  answers: DirectAnswers;
  metrics: [Metrics, Metrics];
}

function setup(args: string[] = [], opts: { synced?: () => boolean; signing?: boolean; stubs?: boolean } = {}): Setup {
  // Round robin off: the general path shuffles a set of addresses (the direct path answers one).
  const cfg: SkyConfig = configFor([`-domain=${DOMAIN}`, '-nameservers=127.0.0.1:53', '-round-robin=false', ...args]);
  const tree = new RecordTree('skydns');
  const resolver = new Resolver(tree, cfg, null, SILENT);
  const synced = opts.synced ?? (() => true);
  const metrics: [Metrics, Metrics] = [new Metrics(), new Metrics()];
  const make = (direct: boolean, m: Metrics) =>
    new DnsHandler({ cfg, tree, resolver, forwarder: null, stubs: null, metrics: m, log: SILENT, synced, answerCacheSize: 0, direct });
  const soa = new ZoneSoa(DOMAIN, `ns.dns.${DOMAIN}`, cfg.hostmaster);
  const answers = new DirectAnswers(cfg, tree, resolver, soa, opts.signing ?? false, synced, opts.stubs ?? false);
  return { tree, direct: make(true, metrics[0]), general: make(false, metrics[1]), answers, metrics };
}

/** The reply of a handler (a question outside the zone waits for the forwarder, which has no servers here). */
async function reply(h: DnsHandler, p: Buffer, t = UDP): Promise<Buffer | null> {
  const r = h.answer(p, t);
  return isPromise(r) ? await r : r;
}

/** The direct path's reply to p, or null when it declines. */
function directReply(a: DirectAnswers, p: Buffer, tcp = false): Buffer | null {
  const out = Buffer.alloc(2048, 0xee);
  const len = a.answerInto(p, tcp, out, 100, 1900, Date.now());
  return len < 0 ? null : Buffer.from(out.subarray(100, 100 + len));
}

const hour = () => Math.floor(Date.now() / 3_600_000);

/** Labels per depth below the zone: few choices, so that records and questions meet often. */
const LEVELS = [
  ['svc', 'pod', 'dns', 'x'],
  ['ns1', 'ns2', 'Ns3', 'many'],
  ['a', 'b', '*', 'any', 'c-1', 'e'],
  ['h1', '_tcp', 'h2', 'D'],
  ['_http', 'h3'],
];

class Workload {
  readonly keys = new Set<string>();
  constructor(readonly r: () => number) {}

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }

  /** Labels of a random place below the zone, left to right. */
  place(): string[] {
    const depth = 1 + Math.floor(this.r() * LEVELS.length);
    const labels: string[] = [];
    for (let i = 0; i < depth; i++) labels.push(this.pick(LEVELS[i]));
    if (labels[1] === 'many' && this.r() < 0.8) labels[2] = `s${Math.floor(this.r() * 24)}`;
    return labels.reverse();
  }

  value(): string {
    if (this.r() < 0.05) return '{"host": "bad';
    const f: SkyRecordFields = {};
    const h = this.r();
    if (h < 0.45) f.host = `10.0.${Math.floor(this.r() * 3)}.${1 + Math.floor(this.r() * 250)}`;
    else if (h < 0.6) f.host = `2001:db8::${1 + Math.floor(this.r() * 3)}`;
    else if (h < 0.75) f.host = `${this.place().join('.')}.${DOMAIN}`;
    else if (h < 0.85) f.host = this.pick(['www.example.org.', 'nowhere.example.org']);
    else f.host = '';
    if (this.r() < 0.3) f.text = 'some text';
    if (this.r() < 0.5) f.ttl = this.pick([30, 120, 2 ** 31 - 1]);
    if (this.r() < 0.1) f.group = this.pick(['g1', 'g2']);
    if (this.r() < 0.3) f.port = 80;
    return encodeRecord(f);
  }

  step(tree: RecordTree): void {
    const existing = [...this.keys];
    if (this.r() < 0.3 && existing.length > 0) {
      const k = this.pick(existing);
      this.keys.delete(k);
      tree.delete(k);
      return;
    }
    const k = `/skydns/local/cluster/${this.place().reverse().join('/')}`;
    this.keys.add(k);
    tree.put(k, this.value(), this.r() < 0.08 ? '7587869623437213700' : '0');
  }

  /** A question name: a place in the zone (or outside it, or at its apex), in random case. */
  name(): string {
    const r = this.r();
    let name: string;
    if (r < 0.4 && this.keys.size > 0) {
      // A record's own name, or the name above it.
      const segs = this.pick([...this.keys]).split('/').slice(4);
      if (this.r() < 0.3 && segs.length > 1) segs.pop();
      name = `${segs.reverse().join('.')}.${DOMAIN}`;
    } else name = r < 0.45 ? 'www.example.org.' : r < 0.48 ? DOMAIN : `${this.place().join('.')}.${DOMAIN}`;
    if (this.r() < 0.3) name = [...name].map((c) => (this.r() < 0.5 ? c.toUpperCase() : c)).join('');
    return name;
  }

  /** A query for a random question, sometimes with bits and bytes the direct path must refuse or honour. */
  packet(): { p: Buffer; tcp: boolean } {
    const qtype = this.pick([TYPE.A, TYPE.A, TYPE.AAAA, TYPE.AAAA, TYPE.TXT, TYPE.SRV, TYPE.CNAME, TYPE.PTR]);
    const edns = this.r() < 0.6;
    let p = encodeQuery(this.name(), qtype, Math.floor(this.r() * 65536), edns ? this.pick([512, 1023, 1024, 1232, 4096]) : 0);
    const qEnd = p.length - (edns ? 11 : 0);
    const r = this.r();
    if (r < 0.05) p[2] &= ~0x01; // RD off
    else if (r < 0.1) p[3] |= 0x10; // CD
    else if (r < 0.13) p[3] |= 0x20; // AD asked
    else if (r < 0.16) p[2] |= 0x08; // opcode 1
    else if (r < 0.19) p = Buffer.concat([p, Buffer.from([0])]); // a trailing byte
    else if (r < 0.22 && edns) p[qEnd + 7] |= 0x80; // DO
    else if (r < 0.24 && edns) p[qEnd + 6] = 1; // EDNS version 1
    else if (r < 0.26 && edns) p = Buffer.concat([p.subarray(0, p.length - 2), Buffer.from([0, 4, 0, 10, 0, 0])]); // an option
    else if (r < 0.28 && edns) p[p.length - 1] = 4; // rdata past the end
    else if (r < 0.3) p[5] = 2; // QDCOUNT 2
    else if (r < 0.32) p[4 + 2 * Math.floor(1 + this.r() * 3) + 1] = 1; // a record count
    return { p, tcp: this.r() < 0.1 };
  }
}

describe('direct answers', () => {
  test('answer exactly as the general path, over random trees and questions', async () => {
    const s = setup();
    const w = new Workload(rng(20261205));
    let asked = 0;
    let direct = 0;
    const kinds = new Map<number, number>();
    for (let step = 0; step < 600; step++) {
      w.step(s.tree);
      if (step < 40) continue;
      for (let i = 0; i < 30; i++) {
        const { p, tcp } = w.packet();
        const t = tcp ? TCP : UDP;
        const h0 = hour();
        const d = directReply(s.answers, p, tcp);
        const viaHandler = await reply(s.direct, p, t);
        const general = await reply(s.general, p, t);
        if (hour() !== h0) continue; // the SOA serial turned over in between
        asked++;
        assert.deepEqual(viaHandler, general, `handler, step ${step}: ${p.toString('hex')} gave ${viaHandler?.toString('hex')}, want ${general?.toString('hex')}`);
        if (d === null) continue;
        direct++;
        assert.deepEqual(d, general, `direct path, step ${step}: ${p.toString('hex')}`);
        kinds.set(d[3] & 0xf, (kinds.get(d[3] & 0xf) ?? 0) + 1);
      }
    }
    // The comparison means something only if the direct path answered many questions of each kind.
    assert.ok(direct > asked / 8, `direct answers: ${direct} of ${asked}`);
    assert.ok((kinds.get(RCODE.NXDOMAIN) ?? 0) > 300 && (kinds.get(RCODE.NOERROR) ?? 0) > 300, JSON.stringify([...kinds]));
    // The same requests counted, answers of the same sizes, the same causes.
    const [a, b] = s.metrics.map((m) => m.snapshot());
    assert.deepEqual(a.counters, b.counters);
    const sizes = (x: typeof a) => x.histograms[`${s.metrics[0].prefix}dns_response_size_bytes`];
    assert.deepEqual(sizes(a), sizes(b));
  });

  test('the answers a cluster asks most, and where each comes from', async () => {
    const s = setup();
    s.tree.put('/skydns/local/cluster/svc/default/web/3a4b', encodeRecord({ host: '10.0.0.7', priority: 10, weight: 10, ttl: 30 }));
    s.tree.put('/skydns/local/cluster/svc/default/web/_tcp/_http/9f1c', encodeRecord({ host: 'web.default.svc.cluster.local.', port: 80 }));
    s.tree.put('/skydns/local/cluster/svc/default/v6/1', encodeRecord({ host: '2001:db8::5' }));
    const cases: [string, number, number, number][] = [
      // name, type, rcode, answer records
      ['web.default.svc.cluster.local.', TYPE.A, RCODE.NOERROR, 1],
      ['WEB.Default.svc.cluster.local.', TYPE.A, RCODE.NOERROR, 1],
      ['web.default.svc.cluster.local.', TYPE.AAAA, RCODE.NOERROR, 0],
      ['v6.default.svc.cluster.local.', TYPE.AAAA, RCODE.NOERROR, 1],
      ['web.default.other.svc.cluster.local.', TYPE.A, RCODE.NXDOMAIN, 0],
      ['example.com.default.svc.cluster.local.', TYPE.AAAA, RCODE.NXDOMAIN, 0],
      ['_tcp.web.default.svc.cluster.local.', TYPE.A, RCODE.NOERROR, 0],
      ['default.svc.cluster.local.', TYPE.A, RCODE.NOERROR, 1], // two services below (one A, one AAAA): the general path
    ];
    for (const [name, qtype, rcode, count] of cases) {
      for (const size of [0, 1232]) {
        const p = encodeQuery(name, qtype, 4242, size);
        const general = (await reply(s.general, p))!;
        assert.equal(general[3] & 0xf, rcode, name);
        assert.equal(general.readUInt16BE(6), count, name);
        const d = directReply(s.answers, p);
        if (name === 'default.svc.cluster.local.') {
          assert.equal(d, null, 'more than one record: declined');
          continue;
        }
        assert.deepEqual(d, general, `${name} ${qtype} ${size}`);
        if (count === 1) assert.equal(d!.readUInt32BE(p.length - (size ? 11 : 0) + 6), name.startsWith('v6') ? 3600 : 30, 'TTL: the record\'s, else the configured one');
      }
    }
  });

  test('the questions it leaves to the general path', () => {
    const s = setup();
    const put = (path: string, f: SkyRecordFields, lease = '0') => s.tree.put(`/skydns/local/cluster/${path}`, encodeRecord(f), lease);
    put('svc/ns/leased/1', { host: '10.0.0.1' }, '7587869623437213700');
    put('svc/ns/alias/1', { host: 'web.ns.svc.cluster.local.' });
    put('svc/ns/two/1', { host: '10.0.0.2' });
    put('svc/ns/two/2', { host: '10.0.0.3' });
    put('svc/ns/*/1', { host: '10.0.0.4' });
    put('dns/ns/1', { host: '10.0.0.5' });
    put('svc/ns/web/1', { host: '10.0.0.6' });
    const declined = (name: string, qtype: number = TYPE.A, size = 0) => directReply(s.answers, encodeQuery(name, qtype, 1, size)) === null;
    assert.ok(declined('leased.ns.svc.cluster.local.'), 'a lease');
    assert.ok(declined('alias.ns.svc.cluster.local.'), 'a CNAME');
    assert.ok(declined('two.ns.svc.cluster.local.'), 'two records');
    assert.ok(declined('x.*.svc.cluster.local.'), 'a wildcard');
    assert.ok(declined('x.ANY.svc.cluster.local.'), 'a wildcard in capitals');
    assert.ok(declined('ns.dns.cluster.local.'), 'under dns.<zone>');
    assert.ok(declined('cluster.local.'), 'the apex');
    assert.ok(declined('www.example.org.'), 'outside the zone');
    assert.ok(declined('web.ns.svc.cluster.local.', TYPE.SRV), 'another type');
    assert.ok(!declined('web.ns.svc.cluster.local.'), 'a plain address');
    const p = encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1, 1232);
    p[p.length - 4] |= 0x80; // DO
    assert.notEqual(directReply(s.answers, p), null, 'DO without signing: answered (DO echoed)');
    const withDo = directReply(s.answers, p)!;
    assert.equal(withDo[withDo.length - 4] & 0x80, 0x80);
    const signing = setup([], { signing: true });
    signing.tree.put('/skydns/local/cluster/svc/ns/web/1', encodeRecord({ host: '10.0.0.6' }));
    assert.equal(directReply(signing.answers, p), null, 'DO with signing: the signer answers');
    assert.notEqual(directReply(signing.answers, encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1, 1232)), null, 'no DO: unsigned, as before');
    let ready = false;
    const waiting = setup([], { synced: () => ready });
    waiting.tree.put('/skydns/local/cluster/svc/ns/web/1', encodeRecord({ host: '10.0.0.6' }));
    const q = encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1);
    assert.equal(directReply(waiting.answers, q), null, 'before the first read: SERVFAIL from the general path');
    ready = true;
    assert.notEqual(directReply(waiting.answers, q), null);
    const stubs = setup([], { stubs: true });
    assert.equal(directReply(stubs.answers, encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1)), null, 'stub zones configured');
    const verbose = setup(['-verbose']);
    assert.equal(directReply(verbose.answers, encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1)), null, '-verbose logs every query');
  });

  test('the reply\'s header: QR, AA, RA; RD and CD as asked; AD, TC and Z never copied from the query', () => {
    const s = setup();
    s.tree.put('/skydns/local/cluster/svc/ns/web/1', encodeRecord({ host: '10.0.0.6' }));
    for (const [name, rcode] of [['web.ns.svc.cluster.local.', RCODE.NOERROR], ['none.ns.svc.cluster.local.', RCODE.NXDOMAIN]] as const) {
      const p = encodeQuery(name, TYPE.A, 7);
      p.writeUInt16BE(0x0100 | 0x0200 | 0x0040 | 0x0020 | 0x0010, 2); // RD, TC, Z, AD, CD
      assert.equal(directReply(s.answers, p)!.readUInt16BE(2), 0x8000 | 0x0400 | 0x0100 | 0x0080 | 0x0010 | rcode, name);
      p.writeUInt16BE(0, 2);
      assert.equal(directReply(s.answers, p)!.readUInt16BE(2), 0x8000 | 0x0400 | 0x0080 | rcode, name);
    }
  });

  test('a reply that does not fit the room given is left to the general path', () => {
    const s = setup();
    s.tree.put('/skydns/local/cluster/svc/ns/web/1', encodeRecord({ host: '10.0.0.6' }));
    const p = encodeQuery('web.ns.svc.cluster.local.', TYPE.A, 1);
    const out = Buffer.alloc(512);
    assert.equal(s.answers.answerInto(p, false, out, 0, p.length + 15, Date.now()), -1);
    assert.equal(s.answers.answerInto(p, false, out, 0, p.length + 16, Date.now()), p.length + 16);
  });
});

describe('RecordTree.probe', () => {
  /** probe() over a name, as the direct path gives it. */
  function probe(tree: RecordTree, name: string): number {
    const wire = encodeQuery(name, TYPE.A, 1).subarray(12);
    const offs = new Int32Array(128);
    let n = 0;
    for (let p = 0; wire[p] !== 0; p += wire[p] + 1) offs[n++] = p;
    return tree.probe(wire, offs, n);
  }

  test('says what collect(segments, false, true) finds, without the list', () => {
    const tree = new RecordTree('skydns');
    const v = encodeRecord({ host: '10.0.0.1' });
    tree.put('/skydns/local/cluster/svc/ns/web/1', v);
    tree.put('/skydns/local/cluster/svc/ns/web/_tcp/_http/1', v);
    tree.put('/skydns/local/cluster/svc/ns/api/1', v);
    tree.put('/skydns/local/cluster/svc/ns/api/2', v);
    tree.put('/skydns/local/cluster/svc/ns/only/_udp/1', v);
    tree.put('/skydns/local/cluster/svc/ns/Caps/1', v);
    for (let i = 0; i < 20; i++) tree.put(`/skydns/local/cluster/svc/big/s${i}/1`, v);
    assert.equal(probe(tree, 'web.ns.svc.cluster.local.'), PROBE_ONE);
    assert.equal(tree.probed?.key, '/skydns/local/cluster/svc/ns/web/1');
    assert.equal(probe(tree, 'WEB.NS.svc.cluster.local.'), PROBE_ONE);
    assert.equal(probe(tree, 'api.ns.svc.cluster.local.'), PROBE_MANY);
    assert.equal(probe(tree, 'only.ns.svc.cluster.local.'), PROBE_EMPTY);
    assert.equal(probe(tree, 'none.ns.svc.cluster.local.'), PROBE_NONE);
    assert.equal(probe(tree, 'caps.ns.svc.cluster.local.'), PROBE_NONE, 'a key in capitals is never found (questions are folded to lower case)');
    assert.equal(probe(tree, 's7.big.svc.cluster.local.'), PROBE_ONE, 'a child among many');
    assert.equal(probe(tree, 'S19.big.svc.cluster.local.'), PROBE_ONE);
    assert.equal(probe(tree, 's20.big.svc.cluster.local.'), PROBE_NONE);
    assert.equal(probe(tree, 'big.svc.cluster.local.'), PROBE_MANY);
    assert.equal(probe(tree, 'x.*.svc.cluster.local.'), PROBE_MANY);
    assert.equal(probe(tree, 'x.Any.svc.cluster.local.'), PROBE_MANY);
    tree.delete('/skydns/local/cluster/svc/ns/web/1');
    assert.equal(probe(tree, 'web.ns.svc.cluster.local.'), PROBE_EMPTY, 'only its _tcp leaf is left');
  });

  test('finds a child among many by the hash of its label, two labels of one hash included', () => {
    const tree = new RecordTree('skydns');
    const v = encodeRecord({ host: '10.0.0.1' });
    // Two labels with the same 30-bit FNV-1a hash (found by search), among more than eight children.
    const [a, b] = ['s1zyf5a25', 's8kndm4vi'];
    for (let i = 0; i < 10; i++) tree.put(`/skydns/local/cluster/svc/ns/f${i}/1`, v);
    tree.put(`/skydns/local/cluster/svc/ns/${a}/1`, v);
    tree.put(`/skydns/local/cluster/svc/ns/${b}/1`, v);
    assert.equal(probe(tree, `${a}.ns.svc.cluster.local.`), PROBE_ONE);
    assert.equal(tree.probed?.key, `/skydns/local/cluster/svc/ns/${a}/1`);
    assert.equal(probe(tree, `${b.toUpperCase()}.ns.svc.cluster.local.`), PROBE_ONE);
    assert.equal(tree.probed?.key, `/skydns/local/cluster/svc/ns/${b}/1`);
    tree.delete(`/skydns/local/cluster/svc/ns/${a}/1`);
    assert.equal(probe(tree, `${a}.ns.svc.cluster.local.`), PROBE_NONE);
    assert.equal(probe(tree, `${b}.ns.svc.cluster.local.`), PROBE_ONE);
    tree.delete(`/skydns/local/cluster/svc/ns/${b}/1`);
    assert.equal(probe(tree, `${b}.ns.svc.cluster.local.`), PROBE_NONE);
    tree.put(`/skydns/local/cluster/svc/ns/${b}/2`, v);
    assert.equal(probe(tree, `${b}.ns.svc.cluster.local.`), PROBE_ONE, 'put back');
    assert.equal(probe(tree, 'f3.ns.svc.cluster.local.'), PROBE_ONE);
    assert.equal(probe(tree, 'f10.ns.svc.cluster.local.'), PROBE_NONE);
  });
});
