// The encoded-answer cache against the resolver, differentially: thousands of
// random record changes (puts, deletes, lease expiries; wildcards, CNAME chains in
// and out of the zone, groups, targetstrip, PTRs, NS, underscore labels, bad
// values) are applied to a record tree, and after each one every answer the cache
// would serve is compared with the answer the resolver computes afresh. Then each
// invalidation rule is made one step less precise, and the same harness must catch
// it: so the test can fail, and it fails for each rule.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerCache, CachedAnswer } from '../../lib/skydns/caches.js';
import { configFor, SkyConfig } from '../../lib/skydns/config.js';
import { DepIndex, Deps, WildRead } from '../../lib/skydns/deps.js';
import { DnsHandler } from '../../lib/skydns/handler.js';
import { Resolver, SILENT, Upstream } from '../../lib/skydns/resolver.js';
import { RecordTree, TreeChange } from '../../lib/skydns/tree.js';
import { CLASS, RR, TYPE, encodeMessage, encodeQuery } from '../../lib/skydns/wire.js';
import { loadKey } from '../../lib/dnssec/key.js';
import { Signer } from '../../lib/dnssec/sign.js';
import { KEYS } from './fixtures/dnssec-keys.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../harness/random.js';
import { encodeRecord, SkyRecordFields } from '../../lib/msg/record.js';

const DOMAIN = 'cluster.local.';

function config(): SkyConfig {
  return configFor([`-domain=${DOMAIN}`, '-nameservers=127.0.0.1:53', '-round-robin=false']);
}


/** Fixed upstream answers for the out-of-zone targets the records use. */
class FixedUpstream implements Upstream {
  async lookup(name: string, qtype: number): Promise<RR[] | null> {
    const n = name.toLowerCase();
    const a = (owner: string, last: number): RR => ({ name: owner, type: TYPE.A, class: CLASS.IN, ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, last) } });
    if (n === 'www.example.org.') return qtype === TYPE.A ? [a(name, 7)] : [];
    if (n === 'alias.example.org.') return qtype === TYPE.A ? [{ name, type: TYPE.CNAME, class: CLASS.IN, ttl: 300, data: { t: 'name', name: 'www.example.org.' } }, a('www.example.org.', 7)] : [];
    return null;
  }
}

/** Key segments below /skydns/local/cluster, per depth: few choices, so that changes and questions meet often. */
const LEVELS = [
  ['svc', 'dns', 'x'],
  ['ns1', 'ns2', 'ns'],
  ['a', 'b', 'c'],
  ['h1', 'h2', '_tcp', 'd'],
  ['_http', 'h3', 'e'],
  ['h4', 'h5'],
];
const LEASES = ['7587869623437213700', '7587869623437213701'];

class Workload {
  readonly keys = new Map<string, string>(); // key → lease
  constructor(readonly r: () => number) {}

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }

  /** A name (relative labels, left to right) of a random place in the zone. */
  place(maxDepth = LEVELS.length): string[] {
    const depth = 1 + Math.floor(this.r() * maxDepth);
    const segs: string[] = [];
    for (let i = 0; i < depth; i++) segs.push(this.pick(LEVELS[i]));
    return segs.reverse();
  }

  name(): string {
    return `${this.place(4).join('.')}.${DOMAIN}`;
  }

  key(): string {
    if (this.r() < 0.12) {
      const last = this.pick(['1', '2', '3']);
      return this.r() < 0.3 ? `/skydns/arpa/in-addr/10/0/0/${last}/x` : `/skydns/arpa/in-addr/10/0/0/${last}`;
    }
    return `/skydns/local/cluster/${this.place().reverse().join('/')}`;
  }

  value(): string {
    const r = this.r();
    if (r < 0.04) return '{"host": "bad';
    const f: SkyRecordFields = {};
    const h = this.r();
    if (h < 0.4) f.host = `10.0.0.${1 + Math.floor(this.r() * 4)}`;
    else if (h < 0.5) f.host = `2001:db8::${1 + Math.floor(this.r() * 3)}`;
    else if (h < 0.8) f.host = this.name();
    else if (h < 0.9) f.host = this.pick(['www.example.org', 'alias.example.org.', 'nowhere.example.org.']);
    else if (h < 0.95) f.host = '';
    else f.host = this.pick(['A.NS1.svc.cluster.local.', 'reverse.example.com.']);
    if (this.r() < 0.5) f.port = this.pick([80, 443, 53]);
    if (this.r() < 0.3) f.priority = this.pick([10, 20]);
    if (this.r() < 0.3) f.weight = this.pick([0, 10, 30]);
    if (this.r() < 0.3) f.text = this.pick(['t1', 'hello world']);
    if (this.r() < 0.2) f.mail = true;
    if (this.r() < 0.4) f.ttl = this.pick([30, 120]);
    if (this.r() < 0.15) f.targetstrip = this.pick([1, 2]);
    if (this.r() < 0.2) f.group = this.pick(['g1', 'g2']);
    return encodeRecord(f);
  }

  /** Applies one random change to the tree; returns a description of it. */
  step(tree: RecordTree): string {
    const r = this.r();
    const existing = [...this.keys.keys()];
    if (r < 0.3 && existing.length > 0) {
      const k = this.pick(existing);
      const lease = this.keys.get(k)!;
      this.keys.delete(k);
      tree.delete(k);
      return lease === '0' ? `delete ${k}` : `lease ${lease} expired: ${k}`;
    }
    const k = r < 0.45 && existing.length > 0 ? this.pick(existing) : this.key();
    const lease = this.r() < 0.1 ? this.pick(LEASES) : '0';
    const v = this.value();
    this.keys.set(k, lease);
    tree.put(k, v, lease);
    return `put ${k} ${v}${lease === '0' ? '' : ` (lease ${lease})`}`;
  }
}

interface Question {
  name: string;
  qtype: number;
  edns: boolean;
  tcp: boolean;
  packet: Buffer;
}

/** The questions asked after every change: fixed ones that matter plus a random sample of the zone. */
function questions(w: Workload, count: number, dnssec = false): Question[] {
  const T = TYPE;
  const fixed: [string, number][] = [
    [DOMAIN, T.A], [DOMAIN, T.NS], [DOMAIN, T.SOA], [DOMAIN, T.SRV], [DOMAIN, T.TXT],
    [`svc.${DOMAIN}`, T.A], [`svc.${DOMAIN}`, T.SRV], [`ns1.svc.${DOMAIN}`, T.A], [`ns1.svc.${DOMAIN}`, T.SRV],
    [`*.ns1.svc.${DOMAIN}`, T.A], [`any.svc.${DOMAIN}`, T.A], [`a.*.svc.${DOMAIN}`, T.A], [`a.*.svc.${DOMAIN}`, T.SRV],
    [`*.*.svc.${DOMAIN}`, T.AAAA], [`_http._tcp.*.ns1.svc.${DOMAIN}`, T.SRV], [`a.*.svc.${DOMAIN}`, T.CNAME], [`*.ns2.x.${DOMAIN}`, T.NS],
    [`a.ns1.svc.${DOMAIN}`, T.A], [`A.NS1.svc.${DOMAIN}`, T.A], [`a.ns1.svc.${DOMAIN}`, T.CNAME], [`a.ns1.svc.${DOMAIN}`, T.MX],
    [`_http._tcp.a.ns1.svc.${DOMAIN}`, T.SRV], [`ns.dns.${DOMAIN}`, T.A], [`h1.a.ns.dns.${DOMAIN}`, T.A],
    ['1.0.0.10.in-addr.arpa.', T.PTR], ['2.0.0.10.in-addr.arpa.', T.PTR], ['3.0.0.10.in-addr.arpa.', T.PTR],
  ];
  const types = [T.A, T.A, T.A, T.AAAA, T.SRV, T.SRV, T.TXT, T.CNAME, T.MX, T.NS, T.PTR, T.HINFO];
  const all: [string, number][] = [...fixed];
  while (all.length < count) all.push([w.name(), w.pick(types)]);
  return all.map(([name, qtype], i) => {
    const edns = i % 3 !== 0;
    const id = 1 + (i & 0x7fff);
    // With a signer, every other EDNS0 question asks for DNSSEC (the DO bit).
    const packet = dnssec && edns && i % 2 === 0 ? doQuery(name, qtype, id) : encodeQuery(name, qtype, id, edns ? 1232 : 0);
    return { name, qtype, edns, tcp: i % 7 === 3, packet };
  });
}

/** A query with the DO bit. */
function doQuery(name: string, qtype: number, id: number): Buffer {
  return encodeMessage({
    header: { id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    question: [{ name, type: qtype, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
    edns: { udpSize: 1232, extRcode: 0, version: 0, do: true, options: [] },
  })!.buf;
}

/**
 * A signer whose signatures depend only on the data: an Ed25519 key (deterministic signatures),
 * a fixed clock, no signature cache — so a cached signed answer equals a fresh one exactly when
 * the records it was made from are unchanged.
 */
function deterministicSigner(): Signer {
  const dir = mkdtempSync(join(tmpdir(), 'differential-dnssec-'));
  try {
    const k = KEYS.ed25519;
    writeFileSync(join(dir, `${k.base}.key`), k.key);
    writeFileSync(join(dir, `${k.base}.private`), k.private);
    return new Signer(loadKey(join(dir, k.base), DOMAIN), { domain: DOMAIN, ttl: 3600, minTtl: 60, scache: 0, now: () => 1_800_000_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Harness {
  tree: RecordTree;
  cached: DnsHandler;
  fresh: DnsHandler;
}

function harness(index?: DepIndex<CachedAnswer>, signer: Signer | null = null): Harness {
  const cfg = config();
  const tree = new RecordTree('skydns');
  const upstream = new FixedUpstream();
  const leaseTTL = (lease: string) => (lease === LEASES[0] ? 20 : 45);
  const resolver = new Resolver(tree, cfg, upstream, SILENT, leaseTTL);
  if (signer) resolver.dnskey = (owner) => signer.dnskey(owner);
  const common = { cfg, tree, resolver, forwarder: null, stubs: null, metrics: null, log: SILENT, synced: () => true, signer };
  const cached = new DnsHandler({ ...common, answerCache: new AnswerCache(100_000, { index }) });
  const fresh = new DnsHandler({ ...common, answerCacheSize: 0 });
  return { tree, cached, fresh };
}

const show = (b: Buffer | null) => (b === null ? 'null' : b.toString('hex'));

/**
 * Runs `ops` random changes; after each, every answer the cache would serve must
 * equal the fresh one. Returns the first disagreement, or null.
 */
interface Mismatch {
  op: number;
  change: string;
  q: Question;
  cached: string;
  fresh: string;
}

async function differential(seed: number, ops: number, index?: DepIndex<CachedAnswer>, signer: Signer | null = null): Promise<{ bad: Mismatch | null; compared: number; kept: number }> {
  const w = new Workload(rng(seed));
  const h = harness(index, signer);
  const qs = questions(w, 110, signer !== null);
  // A starting population.
  for (let i = 0; i < 60; i++) w.step(h.tree);
  const transport = (q: Question) => ({ tcp: q.tcp, remote: 'test' });
  let compared = 0;
  let kept = 0;
  for (let op = 0; op < ops; op++) {
    // Fill the cache. Answers that wait for the upstream are still on their way when, one time
    // in four, the change lands: they must not be cached as if computed from the new records.
    const inFlight = qs.map((q) => h.cached.handle(q.packet, transport(q)));
    const early = w.r() < 0.25 ? w.step(h.tree) : null;
    await Promise.all(inFlight);
    const before = h.cached.cachedAnswers;
    const change = early ?? w.step(h.tree);
    kept += h.cached.cachedAnswers / Math.max(1, before);
    for (const q of qs) {
      const hit = h.cached.tryCached(q.packet, q.tcp);
      if (hit === null) continue;
      compared++;
      const fresh = await h.fresh.handle(q.packet, transport(q));
      if (show(hit) !== show(fresh)) return { bad: { op, change, q, cached: show(hit), fresh: show(fresh) }, compared, kept: kept / (op + 1) };
    }
  }
  return { bad: null, compared, kept: kept / ops };
}

/** Weakened invalidation rules: each must be caught by the harness. */
class AncestorsIgnored extends DepIndex<CachedAnswer> {
  protected override pathAltered(kind: number, atKey: boolean, flipped: boolean, belowAttr: boolean): boolean {
    return atKey ? super.pathAltered(kind, atKey, flipped, belowAttr) : super.pathAltered(kind & ~3, atKey, flipped, belowAttr);
  }
}
class ExistenceIgnored extends DepIndex<CachedAnswer> {
  protected override pathAltered(kind: number, atKey: boolean, _flipped: boolean, belowAttr: boolean): boolean {
    return super.pathAltered(kind, atKey, false, belowAttr);
  }
}
class AttrleafAlwaysSkipped extends DepIndex<CachedAnswer> {
  protected override pathAltered(kind: number, atKey: boolean, flipped: boolean): boolean {
    return super.pathAltered(kind, atKey, flipped, true);
  }
}
class EntryOnlyOnFlips extends DepIndex<CachedAnswer> {
  protected override pathAltered(kind: number, _atKey: boolean, flipped: boolean, belowAttr: boolean): boolean {
    return super.pathAltered(kind, false, flipped, belowAttr);
  }
}
class WildcardsIgnored extends DepIndex<CachedAnswer> {
  protected override wildAltered(_w: WildRead, _c: TreeChange): boolean {
    return false;
  }
}
class OnlyFirstRead extends DepIndex<CachedAnswer> {
  override add(item: CachedAnswer): void {
    const d = item.dep;
    if (d === null || typeof d === 'string') return super.add(item);
    const first = new Deps();
    first.paths.push(...d.paths.slice(0, 1));
    first.kinds.push(...d.kinds.slice(0, 1));
    first.wild = d.wild;
    super.add(item, first);
  }
}

describe('answer cache: differential test against the resolver', () => {
  test('after each of 2,000 random changes, every cached answer equals the fresh one', async () => {
    for (const seed of [1, 2]) {
      const { bad, compared, kept } = await differential(seed, 1000);
      assert.equal(bad, null, bad ? `seed ${seed}, change ${bad.op} (${bad.change}), ${bad.q.name} type ${bad.q.qtype}:\ncached ${bad.cached}\nfresh  ${bad.fresh}` : '');
      // Not vacuous: most cached answers survive a change (so precision is tested), and many are compared.
      console.log(`seed ${seed}: ${compared} cached answers compared; on average ${(kept * 100).toFixed(1)} % of the cache survived a change`);
      assert.ok(compared > 1000 * 50, `only ${compared} comparisons`);
      assert.ok(kept > 0.5 && kept < 0.99, `${kept} of the cache kept per change`);
    }
  });

  test('signed answers (DO, -dnssec): after each of 500 random changes, every cached answer equals the fresh one', async () => {
    const { bad, compared } = await differential(3, 500, undefined, deterministicSigner());
    assert.equal(bad, null, bad ? `change ${bad.op} (${bad.change}), ${bad.q.name} type ${bad.q.qtype}:\ncached ${bad.cached}\nfresh  ${bad.fresh}` : '');
    console.log(`signed: ${compared} cached answers compared`);
    assert.ok(compared > 500 * 40, `only ${compared} comparisons`);
  });

  test('signed answers: one step less precise is caught too (CNAME chase and glue forgotten)', async () => {
    const { bad } = await differential(3, 500, new OnlyFirstRead(), deterministicSigner());
    assert.notEqual(bad, null, 'the harness did not notice the weakened rule');
  });

  const weakened: [string, () => DepIndex<CachedAnswer>][] = [
    ['subtree answers of ancestors kept', () => new AncestorsIgnored()],
    ['names coming into or going out of existence ignored', () => new ExistenceIgnored()],
    ['every leaf taken for an attribute leaf', () => new AttrleafAlwaysSkipped()],
    ['a CNAME answer kept when its own value changes', () => new EntryOnlyOnFlips()],
    ['wildcard answers never dropped', () => new WildcardsIgnored()],
    ['only the first read of an answer filed (CNAME chase and glue forgotten)', () => new OnlyFirstRead()],
  ];
  for (const [what, make] of weakened) {
    test(`one step less precise is caught: ${what}`, async () => {
      const { bad } = await differential(1, 1000, make());
      assert.notEqual(bad, null, 'the harness did not notice the weakened rule');
      console.log(`caught after ${bad!.op + 1} changes (${bad!.change}; ${bad!.q.name} type ${bad!.q.qtype})`);
    });
  }
});
