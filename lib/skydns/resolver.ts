/**
 * Authoritative answers from the record tree, with SkyDNS semantics
 * (docs/skydns.md §2–3). The resolver holds no sockets: upstream lookups for
 * out-of-zone CNAME/SRV/MX targets go through the injected `Upstream`.
 */
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import { addressFromReverse, inZone, keyToName, labelCount, nameToSegments, splitName } from '../msg/path.js';
import { type Entry, identOf } from './tree.js';
import { CLASS, RCODE, RR, TYPE, lowerName, rdataKey } from './wire.js';
import { SKYDNS_VERSION, SkyConfig } from './config.js';
import { Deps, ENTRY, EXISTS, SUBTREE, SUBTREE_PLAIN } from './deps.js';

/** An upstream lookup: the answer section of a NOERROR reply, or null on any failure. */
export interface Upstream {
  lookup(name: string, qtype: number, opts: { do: boolean; bufsize: number }): Promise<RR[] | null>;
}

// The one logger interface (lib/log.ts), re-exported for the query path's modules.
export { type Logger, SILENT } from '../log.js';

export interface Request {
  /** Question name as received (case preserved, FQDN). */
  qname: string;
  qtype: number;
  qclass: number;
  do: boolean;
  bufsize: number;
}

export interface Answer {
  rcode: number;
  aa: boolean;
  ra: boolean;
  /** The sections: never written to once made (empty ones and the negative answers' SOA are shared). */
  answer: readonly RR[];
  authority: readonly RR[];
  additional: readonly RR[];
  /** Epoch ms until which this answer may be served again unchanged (0: do not reuse). */
  reuseUntil: number;
  /** What the answer read from the record tree (null: nothing, or not recorded). */
  deps: Deps | null;
  /** Records were left out to bound the work (see Ctx.room): the reply must say TC. */
  cut?: boolean;
  /** Authenticated Data: set on answers this server signed. */
  ad?: boolean;
}

/** Lease remaining-TTL oracle (seconds, or null when unknown). */
export type LeaseTTL = (lease: string) => number | null;

/** An upstream lookup an answer needs; `key` identifies it in the memo. */
export interface Lookup {
  name: string;
  qtype: number;
  key: string;
}

/** Results of upstream lookups made for one question so far, by Lookup.key (null: the lookup failed). */
export type UpstreamMemo = Map<string, RR[] | null>;

/** One pass of the resolver: the answer, or the upstream lookups it still needs (then the answer is incomplete). */
export interface Resolution {
  answer: Answer;
  missing: Lookup[] | null;
}

const NO_UPSTREAM: UpstreamMemo = new Map();
/** An empty section: answers share it (Answer's sections are never written to). */
const NO_RRS: readonly RR[] = Object.freeze([]);
/** How long an answer that lacks a failed upstream lookup's data may be reused. */
export const FAILED_LOOKUP_REUSE_MS = 5000;
/** Passes of the resolver for one question: upstream results never lead to further upstream lookups, so two suffice. */
const MAX_PASSES = 4;


const CHAOS_AUTHORS = ['Erik St. Martin', 'Brian Ketelsen', 'Miek Gieben', 'Michael Crosby'];

/** An A (4 octets) or AAAA (16) record. */
function ipRR(owner: string, octets: string, ttl: number): RR {
  return { name: owner, type: octets.length === 4 ? TYPE.A : TYPE.AAAA, class: CLASS.IN, ttl, data: { t: 'ip', octets } };
}

function cnameRR(owner: string, target: string, ttl: number): RR {
  return { name: owner, type: TYPE.CNAME, class: CLASS.IN, ttl, data: { t: 'name', name: target } };
}

/** Splits text into ≤255-byte character strings (an empty text gives one empty string). */
export function txtChunks(text: string): Buffer[] {
  const b = Buffer.from(text, 'utf8');
  if (b.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, Math.min(i + 255, b.length)));
  return out;
}

/** Removes the n leftmost labels of a name, unless n ≥ its label count. */
export function targetStrip(name: string, n: number): string {
  if (n <= 0) return name;
  const labels = splitName(name);
  if (n >= labels.length) return name;
  return labels.slice(n).join('.') + '.';
}

/**
 * The SkyDNS SRV weight: per priority, floor((100 / sum) × own), 0 counting
 * as 100, as a 32-bit integer (the record keeps its low 16 bits). `| 0`: a
 * Math.floor result is a small integer in the interpreter but a double in
 * optimised code, so the array came out of two element kinds as this
 * function tiered up, and the SRV path optimised for one was thrown away by
 * the other (lib/skydns/warm.ts); so was an array made by map(), whose kind
 * differs between the built-in and the copy inlined into optimised code.
 */
export function srvWeights(services: readonly { priority: number; weight: number }[]): number[] {
  const sums = new Map<number, number>();
  for (const s of services) sums.set(s.priority, (sums.get(s.priority) ?? 0) + (s.weight === 0 ? 100 : s.weight));
  const out: number[] = [];
  for (const s of services) out.push(Math.floor((100 / sums.get(s.priority)!) * (s.weight === 0 ? 100 : s.weight)) | 0);
  return out;
}

/**
 * SkyDNS msg.Group: restrict a subtree answer to the group chosen at the
 * shallowest level. Works on any records that know their group and key depth.
 */
export function applyGroups<T extends { group: string; depth: number }>(sx: T[]): T[] {
  if (sx.length < 2) return sx;
  let group = sx[0].group;
  let best = sx[0].depth;
  for (let i = 0; i < sx.length; i++) {
    const d = sx[i].depth;
    if (d < best) {
      if (sx[i].group === '') break;
      group = sx[i].group;
      best = d;
    }
  }
  if (group === '') return sx;
  const out: T[] = [];
  for (let i = 0; i < sx.length; i++) {
    const s = sx[i];
    if (s.group === '' || s.group === group) out.push(s);
    else if (s.depth === best) return sx; // disagreement at the top level
  }
  return out;
}

/** Message-level de-duplication (owner+class+type+rdata; CNAME by owner only), keeping first occurrence. */
export function dedup(rrs: readonly RR[]): readonly RR[] {
  if (rrs.length < 2) return rrs;
  const seen = new Set<string>();
  const out: RR[] = [];
  for (const rr of rrs) {
    const k = `${rr.name.toLowerCase()}|${rr.class}|${rr.type}|${rr.type === TYPE.CNAME ? '' : rdataKey(rr)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(rr);
  }
  return out.length === rrs.length ? rrs : out;
}

/** A record as one answer uses it: its entry, TTL and priority after defaults. */
interface Rec {
  e: Entry;
  group: string;
  depth: number;
  ttl: number;
  priority: number;
}

interface Ctx {
  req: Request;
  now: number;
  /** Lowered when the answer depends on leases or upstream data and must not be reused long. */
  reuseUntil: number;
  /** The reads made (null when nobody asked for them). */
  deps: Deps | null;
  memo: UpstreamMemo;
  missing: Lookup[] | null;
  /**
   * Entries one lookup may gather: one more than the reply can carry at 12
   * bytes a record (the least any record takes), so that a longer answer is
   * still truncated by the encoder, while a name with 30,000 records below it
   * costs what its reply can hold, not a walk of all of them.
   */
  room: number;
  /** Lookups of the records of a name this answer may still make (CNAME chase, glue): bounds fan-out, not only depth. */
  lookups: number;
  /** Set when a bound left records out. */
  cut: boolean;
}

/** Lookups of names one answer may make (the question's own, CNAME targets, SRV/MX glue). */
export const MAX_LOOKUPS = 1024;

/**
 * Entries a lookup may gather for a reply of `bufsize` bytes: one more than
 * fit at the least a record of this type takes with a compressed owner (A 16,
 * AAAA 28, SRV 20, MX 16 bytes; 12 for any other), so a longer answer is still
 * truncated by the encoder. (An answer cut short is marked, so it says TC
 * whatever the records turn out to take.)
 */
function roomFor(bufsize: number, qtype: number): number {
  const least = qtype === TYPE.A || qtype === TYPE.MX ? 16 : qtype === TYPE.AAAA ? 28 : qtype === TYPE.SRV ? 20 : 12;
  return Math.floor(bufsize / least) + 1;
}

/**
 * What the resolver reads records from, as CoreDNS's plugins read a
 * ServiceBackend: the entries at or below a name, and one key's entry.
 * RecordTree (the records read from etcd and kept current by the watch) is
 * the one implementation; the resolver knows nothing else of it.
 */
export interface RecordSource {
  /**
   * Pushes onto `out` the entries at the name's key (`exact`) or at and below
   * it (`*` and `any` labels match any label; `skipAttrleaf`: not below
   * `_`-labels), at most `max` of them; false when no key exists there.
   */
  collect(segs: readonly string[], exact: boolean, skipAttrleaf: boolean, out: Entry[], max?: number): boolean;
  /** The entry at one etcd key, or null. */
  get(key: string): Entry | null;
}

export class Resolver {
  readonly domainSegs: string[];
  private readonly host = hostname();
  private readonly nsName: string;
  /** The apex DNSKEY record, owner as asked, when a DNSSEC key is loaded (Signer.dnskey). */
  dnskey: ((owner: string) => RR) | null = null;

  constructor(
    private readonly source: RecordSource,
    readonly cfg: SkyConfig,
    private readonly upstream: Upstream | null,
    private readonly log: Logger,
    private readonly leaseTTL: LeaseTTL = () => null,
  ) {
    this.domainSegs = nameToSegments(cfg.domain);
    this.nsName = `ns.dns.${cfg.domain}`;
  }

  // ------------------------------------------------------------ lookups

  /**
   * The records at or below a lower-case name (SkyDNS's backend Records):
   * bad values skipped (logged), duplicates dropped, TTL and priority
   * defaulted. Null when no key exists at or below the name (NXDOMAIN).
   */
  private records(name: string, exact: boolean, plain: boolean, ctx: Ctx): Rec[] | null {
    const segs = nameToSegments(name);
    ctx.deps?.add(segs, exact ? ENTRY : plain ? SUBTREE_PLAIN : SUBTREE);
    if (--ctx.lookups < 0) {
      // Out of lookups (a fan-out of CNAMEs or targets): the rest is left out.
      ctx.cut = true;
      return [];
    }
    const entries: Entry[] = [];
    if (!this.source.collect(segs, exact, plain, entries, ctx.room)) return null;
    if (entries.length >= ctx.room) ctx.cut = true;
    // One entry (most names): its array is made at its size.
    if (entries.length === 1) return entries[0].svc ? [this.rec(entries[0], ctx)] : [];
    const out: Rec[] = [];
    let seen: Set<string> | null = null;
    for (const e of entries) {
      const s = e.svc;
      // A bad value was logged once when it arrived (RecordStore.ingest); it is skipped here.
      if (!s) continue;
      if (entries.length > 1) {
        seen ??= new Set();
        const ident = identOf(e);
        if (seen.has(ident)) continue;
        seen.add(ident);
      }
      out.push(this.rec(e, ctx));
    }
    return out;
  }

  /** An entry with a valid value as an answer uses it: TTL (record, lease, default) and priority defaulted. */
  private rec(e: Entry, ctx: Ctx): Rec {
    const s = e.svc!;
    let ttl = s.ttl;
    if (e.lease !== '0') {
      const remaining = this.leaseTTL(e.lease);
      if (remaining !== null) {
        const r = Math.max(1, Math.ceil(remaining));
        ttl = ttl === 0 ? r : Math.min(ttl, r);
      }
      if (ctx.reuseUntil > ctx.now + 1000) ctx.reuseUntil = ctx.now + 1000;
    }
    if (ttl === 0) ttl = this.cfg.ttl;
    return { e, group: s.group, depth: e.depth, ttl, priority: s.priority === 0 ? this.cfg.priority : s.priority };
  }

  /** Does the name exist (a key at or below it; wildcard labels honoured, as the lookup does)? */
  private existsName(name: string, ctx: Ctx): boolean {
    const segs = nameToSegments(name);
    ctx.deps?.add(segs, EXISTS);
    return this.source.collect(segs, true, false, []);
  }

  // ------------------------------------------------------------ records

  soa(ttl: number): RR {
    if (ttl === this.cfg.minTtl) return this.negativeAuthority()[0];
    const now = Math.floor(Date.now() / 1000);
    return this.makeSoa(ttl, now - (now % 3600));
  }

  /**
   * The authority section of a negative answer: the zone's SOA with the
   * negative TTL. Most answers a cluster gets are negative (search-path
   * misses, AAAA), so the record and its section are made once an hour,
   * frozen, and shared by every answer (the direct answers too: direct.ts).
   * `nowMs`: Date.now(), when the caller has read it already.
   */
  negativeAuthority(nowMs = Date.now()): readonly RR[] {
    const now = Math.floor(nowMs / 1000);
    const serial = now - (now % 3600);
    const n = this.negAuthority;
    if (n !== null && n[0].data.t === 'soa' && n[0].data.serial === serial) return n;
    const soa = this.makeSoa(this.cfg.minTtl, serial);
    Object.freeze(soa.data);
    return (this.negAuthority = Object.freeze([Object.freeze(soa)]));
  }

  private negAuthority: readonly RR[] | null = null;

  private makeSoa(ttl: number, serial: number): RR {
    return {
      name: this.cfg.domain,
      type: TYPE.SOA,
      class: CLASS.IN,
      ttl,
      data: {
        t: 'soa',
        mname: this.nsName,
        rname: this.cfg.hostmaster,
        serial,
        refresh: 28800,
        retry: 7200,
        expire: 604800,
        minimum: this.cfg.minTtl,
      },
    };
  }

  /**
   * Upstream lookup of an out-of-zone name with SkyDNS's guards; TTLs forced
   * to rcache-ttl. Answered from the memo; a lookup not made yet is noted as
   * missing and counts as failed in this pass.
   */
  private upstreamLookup(name: string, qtype: number, ctx: Ctx): RR[] | null {
    if (!this.upstream || this.cfg.noRec || this.cfg.nameservers.length === 0) return null;
    if (labelCount(name) < this.cfg.ndots) return null;
    const key = `${name.toLowerCase()}|${qtype}`;
    const rrs = ctx.memo.get(key);
    if (rrs === undefined) {
      (ctx.missing ??= []).push({ name, qtype, key });
      return null;
    }
    if (rrs === null) {
      // A failed lookup is tried again soon, not when the answer would have expired.
      if (ctx.reuseUntil > ctx.now + FAILED_LOOKUP_REUSE_MS) ctx.reuseUntil = ctx.now + FAILED_LOOKUP_REUSE_MS;
      return null;
    }
    if (ctx.reuseUntil > ctx.now + this.cfg.rcacheTtl * 1000) ctx.reuseUntil = ctx.now + this.cfg.rcacheTtl * 1000;
    return rrs.map((rr) => ({ ...rr, ttl: this.cfg.rcacheTtl }));
  }

  /**
   * A/AAAA builder. `owner` is the name written into records, `name` the name
   * looked up (lower-case). `both` emits both families (SRV/MX glue). Null
   * when the name does not exist.
   */
  private addressRecords(owner: string, name: string, qtype: number, chain: readonly string[], both: boolean, ctx: Ctx): RR[] | null {
    const found = this.records(name, false, true, ctx);
    if (found === null) return null;
    const services = applyGroups(found);
    if (services.length === 1 && services[0].e.ip !== null) {
      // One address (a service's name): its answer is made at its size.
      const s = services[0];
      const ip = s.e.ip!;
      return both || qtype === (ip.length === 4 ? TYPE.A : TYPE.AAAA) ? [ipRR(owner, ip, s.ttl)] : [];
    }
    const out: RR[] = [];
    // The first target whose addresses are not known (see the end).
    let dangling: Rec | null = null;
    for (const s of services) {
      const ip = s.e.ip;
      if (ip !== null) {
        if (both || qtype === (ip.length === 4 ? TYPE.A : TYPE.AAAA)) out.push(ipRR(owner, ip, s.ttl));
        continue;
      }
      const target = s.e.target;
      if (target === '') continue; // a record with text only (e.g. dns-version) has no address
      if (target === owner || chain.length >= 8 || chain.includes(target)) continue;
      const lower = target.toLowerCase();
      const sub = this.addressRecords(target, lower, qtype, [...chain, target], both, ctx);
      if (sub === null && !inZone(lower, this.cfg.domain)) {
        // In "both" mode (SRV/MX glue) the question is A, as SkyDNS asked upstream.
        const up = this.upstreamLookup(target, qtype, ctx);
        if (up) out.push(cnameRR(owner, target, s.ttl), ...up);
        else dangling ??= s;
        continue;
      }
      if (sub !== null && sub.length > 0) out.push(cnameRR(owner, target, s.ttl), ...sub);
      else dangling ??= s;
    }
    // A name whose answer would otherwise be empty keeps its CNAME when the target's
    // addresses are not known (no such name in the zone, none of this family, the
    // upstream failed or was not asked): a client can follow it (an ExternalName
    // service's name). SkyDNS dropped the CNAME of such an incomplete chain.
    if (out.length === 0 && dangling !== null) out.push(cnameRR(owner, dangling.e.target, dangling.ttl));
    return out;
  }

  /** Glue for an SRV/MX target name: in-zone via the address builder, else upstream A + AAAA. */
  private targetGlue(target: string, ctx: Ctx): RR[] {
    const lower = target.toLowerCase();
    if (!inZone(lower, this.cfg.domain)) {
      const out: RR[] = [];
      const a = this.upstreamLookup(target, TYPE.A, ctx);
      if (a) out.push(...a);
      const aaaa = this.upstreamLookup(target, TYPE.AAAA, ctx);
      if (aaaa) out.push(...aaaa.filter((rr) => rr.type !== TYPE.CNAME));
      return out;
    }
    return this.addressRecords(target, lower, TYPE.A, [], true, ctx) ?? [];
  }

  private srvRecords(owner: string, found: Rec[], ctx: Ctx): { answer: RR[]; extra: RR[] } {
    const services = applyGroups(found).filter((s) => s.e.svc!.host !== '');
    // Weights are shared among the records that are served (an empty-host record is not).
    // A loop, not map(): see srvWeights.
    const pairs: { priority: number; weight: number }[] = [];
    for (const s of services) pairs.push({ priority: s.priority, weight: s.e.svc!.weight });
    const weights = srvWeights(pairs);
    const answer: RR[] = [];
    const extra: RR[] = [];
    const glued = new Set<string>();
    for (let i = 0; i < services.length; i++) {
      const s = services[i];
      const svc = s.e.svc!;
      const ip = s.e.ip;
      const srv = (target: string): RR => ({
        name: owner,
        type: TYPE.SRV,
        class: CLASS.IN,
        ttl: s.ttl,
        data: { t: 'srv', priority: s.priority & 0xffff, weight: weights[i] & 0xffff, port: svc.port & 0xffff, target },
      });
      if (ip !== null) {
        const target = targetStrip(keyToName(s.e.key), svc.targetstrip);
        answer.push(srv(target));
        extra.push(ipRR(target, ip, s.ttl));
        continue;
      }
      const target = targetStrip(s.e.target, svc.targetstrip);
      answer.push(srv(target));
      const k = target.toLowerCase();
      // An answer cut short is truncated, and a truncated reply carries no glue: none is looked up.
      if (glued.has(k) || ctx.cut) continue;
      glued.add(k);
      extra.push(...this.targetGlue(target, ctx));
    }
    return { answer, extra };
  }

  private mxRecords(owner: string, found: Rec[], ctx: Ctx): { answer: RR[]; extra: RR[] } {
    const answer: RR[] = [];
    const extra: RR[] = [];
    const glued = new Set<string>();
    for (const s of found) {
      const svc = s.e.svc!;
      if (!svc.mail) continue;
      const ip = s.e.ip;
      const mx = (exchange: string): RR => ({
        name: owner,
        type: TYPE.MX,
        class: CLASS.IN,
        ttl: s.ttl,
        data: { t: 'mx', preference: s.priority & 0xffff, exchange },
      });
      if (ip !== null) {
        const target = targetStrip(keyToName(s.e.key), svc.targetstrip);
        answer.push(mx(target));
        // Fixed: glue is owned by the (stripped) exchange name, so it matches the MX target.
        extra.push(ipRR(target, ip, s.ttl));
        continue;
      }
      if (s.e.target === '') continue;
      const target = targetStrip(s.e.target, svc.targetstrip);
      answer.push(mx(target));
      const k = target.toLowerCase();
      if (glued.has(k) || ctx.cut) continue;
      glued.add(k);
      extra.push(...this.targetGlue(target, ctx));
    }
    return { answer, extra };
  }

  private txtRecords(owner: string, found: Rec[]): RR[] {
    const out: RR[] = [];
    for (const s of applyGroups(found)) {
      const text = s.e.svc!.text;
      if (text === '') continue;
      out.push({ name: owner, type: TYPE.TXT, class: CLASS.IN, ttl: s.ttl, data: { t: 'txt', strings: txtChunks(text) } });
    }
    return out;
  }

  private cnameRecords(owner: string, found: Rec[]): RR[] {
    const services = applyGroups(found);
    if (services.length === 0) return [];
    const s = services[0];
    if (s.e.ip !== null || s.e.target === '') return [];
    return [cnameRR(owner, s.e.target, s.ttl)];
  }

  private nsRecords(ctx: Ctx): { answer: RR[]; extra: RR[] } {
    const found = this.records(this.nsName, false, false, ctx);
    const answer: RR[] = [];
    const extra: RR[] = [];
    if (found === null) return { answer, extra };
    for (const s of applyGroups(found)) {
      const ip = s.e.ip;
      if (ip === null) return { answer: [], extra: [] };
      const target = keyToName(s.e.key);
      answer.push({ name: this.cfg.domain, type: TYPE.NS, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: target } });
      extra.push(ipRR(target, ip, s.ttl));
    }
    return { answer, extra };
  }

  // ------------------------------------------------------------ entry points

  private chaos(req: Request, name: string): Answer {
    const txt = (texts: string[]): Answer => ({
      rcode: RCODE.NOERROR,
      aa: true,
      ra: true,
      answer: texts.map((t) => ({ name: req.qname, type: TYPE.TXT, class: CLASS.CH, ttl: 0, data: { t: 'txt' as const, strings: txtChunks(t) } })),
      authority: [],
      additional: [],
      reuseUntil: 0,
      deps: null,
    });
    if (req.qtype === TYPE.TXT) {
      if (name === 'authors.bind.' || name === this.cfg.domain) return txt(CHAOS_AUTHORS);
      if (name === 'version.bind.' || name === 'version.server.') return txt([SKYDNS_VERSION]);
      if (name === 'hostname.bind.' || name === 'id.server.') return txt([this.host]);
    }
    return { rcode: RCODE.SERVFAIL, aa: true, ra: true, answer: [], authority: [], additional: [], reuseUntil: 0, deps: null };
  }

  /**
   * Answers a question inside the domain (or CHAOS), making the upstream
   * lookups that out-of-zone CNAME, SRV and MX targets need.
   * `lookupName` replaces the question name for the lookup (the `-local`
   * substitution); owners keep `req.qname`.
   */
  async authoritative(req: Request, lookupName?: string, deps = false): Promise<Answer> {
    const memo: UpstreamMemo = new Map();
    return this.settle(req, lookupName, this.resolve(req, lookupName, memo, deps), memo, deps);
  }

  /**
   * Completes a pass that needs upstream lookups: makes them (in parallel,
   * into memo) and resolves again, until nothing is missing.
   */
  async settle(req: Request, lookupName: string | undefined, first: Resolution, memo: UpstreamMemo, deps = false): Promise<Answer> {
    let r = first;
    for (let pass = 1; r.missing !== null && pass < MAX_PASSES; pass++) {
      await Promise.all(r.missing.map((l) => this.fetch(l, req, memo)));
      // Computed again from the records as they are now (they may have changed meanwhile),
      // so the answer and what it read belong together.
      r = this.resolve(req, lookupName, memo, deps);
    }
    // Still missing lookups (records kept changing under us): answer with what is known, but never reuse it.
    if (r.missing !== null) r.answer.reuseUntil = 0;
    return r.answer;
  }

  /**
   * One synchronous pass over the records: the answer, complete when
   * `missing` is null. With `deps`, the answer's `deps` lists what it read.
   */
  resolve(req: Request, lookupName: string | undefined, memo: UpstreamMemo = NO_UPSTREAM, deps = false): Resolution {
    const now = Date.now();
    // SOA serial changes on the hour; never reuse an answer across it.
    const ctx = this.begin(req, now, now - (now % 3600_000) + 3600_000, deps, memo);
    const answer = this.answerIn(req, lookupName ?? lowerName(req.qname), ctx);
    return { answer, missing: ctx.missing };
  }

  /**
   * The context of a pass, reset for it. There is one: a pass is synchronous
   * and nothing in it starts another, and a context made per question was a
   * tenth of what an uncached answer allocated. What a pass hands out (its
   * Deps, its missing lookups) is made new for each.
   */
  private begin(req: Request, now: number, reuseUntil: number, deps: boolean, memo: UpstreamMemo): Ctx {
    const c = this.ctx;
    c.req = req;
    c.now = now;
    c.reuseUntil = reuseUntil;
    c.deps = deps ? new Deps() : null;
    c.memo = memo;
    c.missing = null;
    c.room = roomFor(req.bufsize, req.qtype);
    c.lookups = MAX_LOOKUPS;
    c.cut = false;
    return c;
  }

  /**
   * Made with values of the kinds each field will hold: a field's first value sets how V8 stores
   * it, and a field that changes kind later (a small integer, then an epoch in ms) gives the object
   * a new map. This resolver's context is made at start, the warm-up's later: with `now: 0` the
   * warm-up's passes moved the map on, and the first pass here after /readyz threw the optimised
   * query path away ("wrong map", skydns-warm.test).
   */
  private readonly ctx: Ctx = { req: { qname: '.', qtype: 0, qclass: 0, do: false, bufsize: 0 }, now: Date.now(), reuseUntil: Date.now(), deps: null, memo: NO_UPSTREAM, missing: null, room: 0, lookups: 0, cut: false };

  private async fetch(l: Lookup, req: Request, memo: UpstreamMemo): Promise<void> {
    let rrs: RR[] | null = null;
    try {
      rrs = await this.upstream!.lookup(l.name, l.qtype, { do: req.do, bufsize: req.bufsize });
    } catch (err) {
      this.log.debug(`upstream lookup of ${l.name} failed: ${(err as Error).message}`);
    }
    if (!rrs) this.log.debug(`incomplete CNAME chain: upstream lookup of ${l.name} ${l.qtype} failed`);
    memo.set(l.key, rrs);
  }

  private answerIn(req: Request, name: string, ctx: Ctx): Answer {
    const owner = req.qname;
    const domain = this.cfg.domain;

    if (name === domain && req.qtype === TYPE.SOA && req.qclass !== CLASS.CH) {
      return this.finish(ctx, RCODE.NOERROR, [{ ...this.soa(this.cfg.ttl), name: owner }], [], []);
    }
    if (req.qclass === CLASS.CH) return this.chaos(req, name);
    // With a key loaded the apex has its DNSKEY, asked with or without DO (docs/dnssec.md §4.3).
    if (name === domain && req.qtype === TYPE.DNSKEY && this.dnskey) return this.finish(ctx, RCODE.NOERROR, [this.dnskey(owner)], [], []);

    let answer: readonly RR[] = NO_RRS;
    let extra: readonly RR[] = NO_RRS;
    let exists = true;
    switch (req.qtype) {
      case TYPE.NS:
        if (name !== domain) {
          exists = this.existsName(name, ctx);
          break;
        }
        ({ answer, extra } = this.nsRecords(ctx));
        if (owner !== domain) answer = answer.map((rr) => ({ ...rr, name: owner }));
        break;
      case TYPE.A:
      case TYPE.AAAA: {
        const found = this.addressRecords(owner, name, req.qtype, [], false, ctx);
        if (found === null) exists = false;
        else if (found.length > 1) {
          // CNAMEs first: stub resolvers cannot follow a chain whose CNAME comes after the addresses.
          answer = [...found.filter((r) => r.type === TYPE.CNAME), ...found.filter((r) => r.type !== TYPE.CNAME)];
        } else answer = found;
        break;
      }
      case TYPE.TXT:
      case TYPE.CNAME:
      case TYPE.MX:
      case TYPE.SRV: {
        const t = req.qtype;
        const found = this.records(name, t === TYPE.CNAME, t === TYPE.MX, ctx);
        if (found === null) {
          exists = false;
          break;
        }
        if (t === TYPE.TXT) answer = this.txtRecords(owner, found);
        else if (t === TYPE.CNAME) answer = this.cnameRecords(owner, found);
        else ({ answer, extra } = t === TYPE.MX ? this.mxRecords(owner, found, ctx) : this.srvRecords(owner, found, ctx));
        break;
      }
      default:
        if (name !== domain) exists = this.existsName(name, ctx);
    }
    if (!exists) return this.finish(ctx, name === domain ? RCODE.NOERROR : RCODE.NXDOMAIN, NO_RRS, this.negativeAuthority(), NO_RRS);
    if (answer.length === 0) return this.finish(ctx, RCODE.NOERROR, NO_RRS, this.negativeAuthority(), NO_RRS);
    answer = dedup(answer);
    if (answer.length > 1) {
      let min = this.cfg.ttl;
      for (const rr of answer) if (rr.ttl < min) min = rr.ttl;
      answer = answer.map((rr) => (rr.ttl === min ? rr : { ...rr, ttl: min }));
    }
    return this.finish(ctx, RCODE.NOERROR, answer, [], dedup(extra));
  }

  private finish(ctx: Ctx, rcode: number, answer: readonly RR[], authority: readonly RR[], additional: readonly RR[]): Answer {
    return { rcode, aa: true, ra: true, answer, authority, additional, reuseUntil: ctx.reuseUntil, deps: ctx.deps, cut: ctx.cut };
  }

  /**
   * PTR from the reverse tree: the key must hold exactly one valid record.
   * Returns null when the query must be forwarded instead.
   */
  reverse(req: Request, deps = false): Answer | null {
    const name = lowerName(req.qname);
    if (addressFromReverse(name) === null && !/\.(in-addr|ip6)\.arpa\.$/.test(name)) return null;
    const segs = nameToSegments(name);
    if (segs.some((s) => s === '*' || s === 'any')) return null;
    const entry = this.source.get(`/${this.cfg.prefix}/${segs.join('/')}`);
    if (!entry || !entry.svc) return null;
    const under: Entry[] = [];
    this.source.collect(segs, false, false, under, 2);
    if (under.length !== 1) return null;
    const now = Date.now();
    const ctx = this.begin(req, now, now + 3600_000, deps, NO_UPSTREAM);
    ctx.deps?.add(segs, SUBTREE);
    const s = this.rec(entry, ctx);
    if (s.e.target === '') return null;
    return {
      rcode: RCODE.NOERROR,
      aa: false,
      ra: true,
      answer: [{ name: req.qname, type: TYPE.PTR, class: CLASS.IN, ttl: s.ttl, data: { t: 'name', name: s.e.target } }],
      authority: [],
      additional: [],
      reuseUntil: ctx.reuseUntil,
      deps: ctx.deps,
    };
  }
}
