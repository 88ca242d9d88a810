/**
 * The query pipeline (docs/skydns.md §3.1): parse → ANY/opcode checks →
 * response cache → stub zones → -local → reverse → forward → authoritative,
 * then encoding with size fitting. Independent of sockets: bytes in, bytes out.
 */
import type { Signer } from '../dnssec/sign.js';
import { inZone, labelCount } from '../msg/path.js';
import { SkyConfig } from './config.js';
import { AnswerCache, CachedAnswer, DO_FLAG, EDNS_FLAG, ResponseCache } from './caches.js';
import { DirectAnswers } from './direct.js';
import { BUSY, Forwarder, Server } from './forwarder.js';
import { Metrics, System, Cause } from './metrics.js';
import { Answer, Logger, Request, Resolver, UpstreamMemo } from './resolver.js';
import { StubZones, hasStubOption, withStubOption } from './stub.js';
import { RecordTree, TreeChange } from './tree.js';
import { CLASS, Encoded, OutMessage, OPCODE_QUERY, Query, RCODE, TYPE, WireError, ZoneSoa, clearRecordCounts, copyBytes, encodeMessage, encodeReply, errorReply, optTtl, isResponse, isTruncated, isPlainQueryHeader, parseQuery, replyFlags, replyLimit, setId, setRA, setTC, takeRequestBits, typeName } from './wire.js';

export interface Transport {
  tcp: boolean;
  remote: string;
}

export interface HandlerDeps {
  cfg: SkyConfig;
  tree: RecordTree;
  resolver: Resolver;
  forwarder: Forwarder | null;
  stubs: StubZones | null;
  metrics: Metrics | null;
  log: Logger;
  /** False until the first full read of etcd: in-zone names then get SERVFAIL. */
  synced: () => boolean;
  /** Capacity of the encoded-answer cache (entries). */
  answerCacheSize?: number;
  /** The encoded-answer cache to use instead of a new one of answerCacheSize (tests). */
  answerCache?: AnswerCache;
  /** Signs authoritative answers to queries with the DO bit (-dnssec); null: no DNSSEC. */
  signer?: Signer | null;
  /** False: every question takes the general path, none the direct one (direct.ts; tests compare the two). */
  direct?: boolean;
}

/** What the handler keeps of its deps. */
type HandlerParts = Required<Omit<HandlerDeps, 'answerCacheSize' | 'answerCache' | 'direct'>>;

/** The EDNS0 payload size a signed answer's OPT record advertises. */
const SIGNED_UDP_SIZE = 4096;

/** End of the question name at offset 12 when it is written out in full (no compression pointer), else -1. */
function plainNameEnd(raw: Buffer): number {
  const n = raw.length;
  let p = 12;
  while (p < n) {
    const l = raw[p];
    if (l === 0) break;
    if (l > 63) return -1;
    p += l + 1;
  }
  if (p >= n || p - 12 > 254) return -1;
  return p + 1;
}

/** Copies a request's ID, RD and CD bits and question-name bytes (same length, maybe other case) into a cached reply at b[at..]. */
function patchReply(b: Buffer, raw: Buffer, nameEnd: number, at = 0): void {
  takeRequestBits(b, raw, at);
  copyBytes(raw, 12, nameEnd, b, at + 12);
}

/**
 * The answer-cache entry for a plain query (one question with an uncompressed
 * name, no answer/authority records, at most an OPT record of version 0):
 * the entry, or undefined when the cache holds none. Null for any other query
 * (the cache was not asked).
 */
function cachedFor(cache: AnswerCache, raw: Buffer, tcp: boolean, maxPayload: number): CachedAnswer | undefined | null {
  const n = raw.length;
  if (cache.capacity === 0 || !isPlainQueryHeader(raw)) return null;
  const nameEnd = plainNameEnd(raw);
  if (nameEnd < 0 || nameEnd + 4 > n) return null;
  let flags = 0;
  let udpSize: number | null = null;
  let q = nameEnd + 4;
  if (raw[11] === 1) {
    // OPT: root owner, type 41, version 0, rdata consistent with the packet length, and
    // options that fill it exactly (what parseQuery checks; else the uncached path says FORMERR).
    if (q + 11 > n || raw[q] !== 0 || ((raw[q + 1] << 8) | raw[q + 2]) !== TYPE.OPT || raw[q + 6] !== 0) return null;
    if (q + 11 + ((raw[q + 9] << 8) | raw[q + 10]) !== n) return null;
    for (let o = q + 11; o < n; ) {
      if (o + 4 > n) return null;
      o += 4 + ((raw[o + 2] << 8) | raw[o + 3]);
      if (o > n) return null;
    }
    flags = EDNS_FLAG | ((raw[q + 7] & 0x80) !== 0 ? DO_FLAG : 0);
    udpSize = (raw[q + 3] << 8) | raw[q + 4];
    q = n;
  }
  if (q !== n) return null;
  return cache.get(raw, nameEnd + 4, replyLimit(tcp, udpSize, maxPayload), flags);
}

/** Where a parsed query's answer-cache key lies in its bytes. */
interface AnswerKey {
  raw: Buffer;
  questionEnd: number;
  bufsize: number;
  flags: number;
}

/** What answering one request came to: the bytes to send (null: nothing), and how to count it. */
interface Outcome {
  buf: Buffer | null;
  system: System;
  cause: Cause | null;
}

/** Whether an answer is still on its way (the handler needed the network). */
export function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return x !== null && typeof (x as { then?: unknown }).then === 'function';
}

export class DnsHandler {
  private readonly answers: AnswerCache;
  private readonly responses: ResponseCache;
  /** Key segments of stub.dns.<domain>: a change below them changes where names are answered. */
  private readonly stubSegs: string[];
  /** The zone's SOA pre-encoded for negative answers (null if its names cannot take the fast path). */
  private readonly soa: ZoneSoa | null;
  /** Address questions answered straight from the tree into the reply's bytes (null: off). */
  private readonly direct: DirectAnswers | null;
  /** Where answer() has a direct reply written before it is copied out at its size. */
  private readonly directScratch: Buffer;
  private readonly unsubscribe: () => void;

  /**
   * The parts, copied into one object literal with every field present: the
   * handler's own shape whatever the caller passed, so the warm-up's private
   * handler and the real one are the same to V8 (lib/skydns/warm.ts).
   */
  private readonly d: HandlerParts;

  constructor(deps: HandlerDeps) {
    const d: HandlerParts = { cfg: deps.cfg, tree: deps.tree, resolver: deps.resolver, forwarder: deps.forwarder, stubs: deps.stubs, metrics: deps.metrics, log: deps.log, synced: deps.synced, signer: deps.signer ?? null };
    this.d = d;
    this.answers = deps.answerCache ?? new AnswerCache(Math.max(0, deps.answerCacheSize ?? 50000));
    this.responses = new ResponseCache(Math.max(0, deps.cfg.rcache), deps.cfg.rcacheTtl);
    this.stubSegs = [...d.resolver.domainSegs, 'dns', 'stub'];
    this.soa = zoneSoa(d.resolver);
    this.direct = deps.direct === false ? null : new DirectAnswers(d.cfg, d.tree, d.resolver, this.soa, d.signer !== null, d.synced, d.stubs !== null && d.forwarder !== null);
    this.directScratch = Buffer.allocUnsafe(this.direct !== null ? 1024 : 0);
    this.unsubscribe = d.tree.subscribe((change) => this.treeChanged(change));
  }

  /** Drops the cached answers a record change can alter (all of them for a stub-zone change). */
  private treeChanged(change: TreeChange | null): void {
    const before = this.answers.invalidated;
    if (change !== null && this.d.stubs !== null && isBelow(change.segs, this.stubSegs)) this.answers.changed(null);
    else this.answers.changed(change);
    const n = this.answers.invalidated - before;
    if (n > 0) this.d.metrics?.answerCacheInvalidations.inc('', n);
  }

  /**
   * The synchronous fast path: a plain query whose answer is in the answer
   * cache is answered without parsing it fully. Null when the slow path is needed.
   */
  tryCached(raw: Buffer, tcp: boolean): Buffer | null {
    const c = cachedFor(this.answers, raw, tcp, this.d.cfg.udpMaxPayload);
    return c ? this.serve(c, raw) : null;
  }

  /** A cached answer for this request, unless it expired (null). */
  private serve(c: CachedAnswer, raw: Buffer): Buffer | null {
    if (c.until <= Date.now()) return null;
    const b = Buffer.allocUnsafe(c.len);
    this.serveAt(c, raw, b, 0);
    return b;
  }

  /** Writes a cached answer for this request at out[at..] (there must be room for c.len bytes). */
  private serveAt(c: CachedAnswer, raw: Buffer, out: Buffer, at: number): void {
    const m = this.d.metrics;
    const start = m ? performance.now() : 0;
    copyBytes(c.chunk, c.at, c.at + c.len, out, at);
    patchReply(out, raw, c.questionEnd - 4, at);
    if (c.shuffle && this.d.cfg.roundRobin) shuffleBlock(out, c.shuffle, at);
    if (m) {
      m.answerCacheHits.inc('');
      m.record(c.system, (performance.now() - start) / 1000, c.len, c.cause);
    }
  }

  /**
   * answer(), for a caller with a buffer of its own: a cached reply is
   * written straight into out[at, at + room) and its length returned;
   * anything else comes back as answer() returns it. `now` (Date.now()) may
   * be read once for a whole batch of requests.
   */
  answerInto(raw: Buffer, t: Transport, out: Buffer, at: number, room: number, now = Date.now()): number | Buffer | null | Promise<Buffer | null> {
    const len = this.direct !== null ? this.answerDirect(this.direct, raw, t, out, at, room, now) : -1;
    if (len >= 0) return len;
    const c = cachedFor(this.answers, raw, t.tcp, this.d.cfg.udpMaxPayload);
    if (c && c.len <= room && c.until > now) {
      this.serveAt(c, raw, out, at);
      return c.len;
    }
    return this.answerAfter(c, raw, t);
  }

  /**
   * Answers one request: the reply, null for "send nothing", or a promise of
   * either when the answer needs the network (forwarding, stub zones,
   * out-of-zone CNAME/SRV/MX targets). Every name the records can answer is
   * answered synchronously. Never throws; the promise never rejects. `raw`
   * may be reused by the caller once this returns (the promise's work has its
   * own copy), and so may `t`.
   */
  answer(raw: Buffer, t: Transport): Buffer | null | Promise<Buffer | null> {
    const scratch = this.directScratch;
    const len = this.direct !== null ? this.answerDirect(this.direct, raw, t, scratch, 0, scratch.length, Date.now()) : -1;
    if (len >= 0) {
      const b = Buffer.allocUnsafe(len);
      copyBytes(scratch, 0, len, b, 0);
      return b;
    }
    return this.answerAfter(cachedFor(this.answers, raw, t.tcp, this.d.cfg.udpMaxPayload), raw, t);
  }

  /** answer() once the cache was looked at: c is its entry, undefined (none) or null (not asked). */
  private answerAfter(c: CachedAnswer | undefined | null, raw: Buffer, t: Transport): Buffer | null | Promise<Buffer | null> {
    if (c) {
      const b = this.serve(c, raw);
      if (b) return b;
    }
    const start = performance.now();
    let r: Outcome | Promise<Outcome>;
    try {
      // c !== null: the cache was asked for this very question already.
      r = this.process(raw, t, c !== null);
    } catch (err) {
      r = this.failed(err, raw, t);
    }
    if (!isPromise(r)) return this.done(r, start);
    const keep = detach({ raw } as Query, t); // for the SERVFAIL of a failure found later
    return r.then(
      (o) => this.done(o, start),
      (err) => this.done(this.failed(err, keep.q.raw, keep.t), start),
    );
  }

  /** answer(), always as a promise (tests). */
  async handle(raw: Buffer, t: Transport): Promise<Buffer | null> {
    return this.answer(raw, t);
  }

  /**
   * A direct answer (direct.ts) written at out[at, at + room): its length, or
   * -1 when the general path must answer. Counted as the general path counts
   * the same answer: both caches missed, then the answer.
   */
  private answerDirect(direct: DirectAnswers, raw: Buffer, t: Transport, out: Buffer, at: number, room: number, now: number): number {
    const m = this.d.metrics;
    const start = m !== null ? performance.now() : 0;
    const len = direct.answerInto(raw, t.tcp, out, at, room, now);
    if (len < 0 || m === null) return len;
    if (this.responses.capacity > 0) m.cacheMiss.inc('response');
    m.cacheMiss.inc('answer');
    m.record('auth', (performance.now() - start) / 1000, len, (out[at + 3] & 0xf) === RCODE.NXDOMAIN ? 'nxdomain' : null);
    return len;
  }

  private done(o: Outcome, start: number): Buffer | null {
    this.d.metrics?.record(o.system, (performance.now() - start) / 1000, o.buf ? o.buf.length : 0, o.cause);
    return o.buf;
  }

  private failed(err: unknown, raw: Buffer, t: Transport): Outcome {
    this.d.log.error(`internal error answering a query from ${t.remote}: ${(err as Error).stack ?? String(err)}`);
    const buf = raw.length >= 12 && !isResponse(raw) ? errorReply(raw, RCODE.SERVFAIL, null) : null;
    return { buf, system: 'auth', cause: 'servfail' };
  }

  private process(raw: Buffer, t: Transport, asked = false): Outcome | Promise<Outcome> {
    const { cfg, log } = this.d;
    let q: Query;
    try {
      q = parseQuery(raw);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.d.metrics?.malformed.inc(err.id === null ? 'short' : 'formerr');
      log.debug(`malformed request from ${t.remote}: ${err.message}`);
      if (err.id === null || isResponse(raw)) return { buf: null, system: 'auth', cause: 'formerr' };
      return { buf: errorReply(raw, RCODE.FORMERR, null), system: 'auth', cause: 'formerr' };
    }
    if ((q.flags & 0x8000) !== 0) return { buf: null, system: 'auth', cause: null }; // never answer responses (QR)
    if (cfg.verbose) log.info(`received DNS request for "${q.qname}" from "${t.remote}" with type ${typeName(q.qtype)}`);
    if (((q.flags >> 11) & 0xf) !== OPCODE_QUERY) return { buf: errorReply(raw, RCODE.NOTIMP, q.questionEnd), system: 'auth', cause: null };
    if (q.edns && q.edns.version !== 0) {
      // RFC 6891: unknown EDNS version → BADVERS (extended rcode 16).
      return { buf: this.encodeAnswer(q, t, refusal(0), 1).buf, system: 'auth', cause: null };
    }
    if (q.qtype === TYPE.ANY || q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) {
      return { buf: this.encodeAnswer(q, t, refusal(RCODE.REFUSED)).buf, system: 'auth', cause: 'refused' };
    }
    const bufsize = replyLimit(t.tcp, q.edns?.udpSize ?? null, cfg.udpMaxPayload);
    const doBit = q.edns?.do ?? false;
    const name = q.qnameLower;

    // Response cache (forwarded and stub answers).
    const rkey = this.responses.key(q.qname, q.qtype, q.qclass, doBit, t.tcp);
    if (rkey !== '') {
      const b = this.responses.get(rkey);
      if (b) {
        setId(b, q.id);
        return { buf: this.refit(b, bufsize, t.tcp), system: 'cache', cause: null };
      }
      this.d.metrics?.cacheMiss.inc('response');
    }

    // Stub zones.
    if (this.d.stubs && this.d.forwarder) {
      const servers = this.d.stubs.match(name);
      if (servers) {
        const d = detach(q, t);
        return this.stub(d.q, d.t, d.q.raw, rkey, servers);
      }
    }

    const inDomain = inZone(name, cfg.domain);
    const reverse = q.qtype === TYPE.PTR && (name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.'));

    if ((inDomain || reverse) && !this.d.synced()) {
      // Unknown yet whether we hold the name (or, for a reverse name, a PTR that forwarding would miss).
      return { buf: errorReply(raw, RCODE.SERVFAIL, q.questionEnd), system: reverse ? 'reverse' : 'auth', cause: 'servfail' };
    }

    const req: Request = { qname: q.qname, qtype: q.qtype, qclass: q.qclass, do: doBit, bufsize };

    if (reverse) {
      const ck = this.cacheKey(q, bufsize, doBit);
      const hit = asked ? null : this.fromCache(ck, q, 'reverse');
      if (hit) return hit;
      this.d.metrics?.cacheMiss.inc('answer');
      const ans = this.d.resolver.reverse(req, ck !== null);
      if (ans) return this.finish(q, t, ans, 'reverse', ck);
      if (inDomain) return this.authoritative(q, t, req, undefined, ck);
      const d = detach(q, t);
      return this.forward(d.q, d.t, d.q.raw, rkey, 'reverse');
    }

    if (!inDomain && q.qclass !== CLASS.CH) {
      const d = detach(q, t);
      return this.forward(d.q, d.t, d.q.raw, rkey, 'recursive');
    }

    const ck = this.cacheKey(q, bufsize, doBit);
    const hit = asked ? null : this.fromCache(ck, q, 'auth');
    if (hit) return hit;
    this.d.metrics?.cacheMiss.inc('answer');
    const lookupName = cfg.local && name === `local.dns.${cfg.domain}` ? cfg.local.toLowerCase() : undefined;
    return this.authoritative(q, t, req, lookupName, ck);
  }

  /** An authoritative answer: synchronous unless an out-of-zone target needs upstream lookups. */
  private authoritative(q: Query, t: Transport, req: Request, lookupName: string | undefined, ck: AnswerKey | null): Outcome | Promise<Outcome> {
    const resolver = this.d.resolver;
    // The first pass reads an empty memo (the resolver's own); one is made only when a lookup is missing.
    const first = resolver.resolve(req, lookupName, undefined, ck !== null);
    if (first.missing === null) return this.finish(q, t, first.answer, 'auth', ck);
    const memo: UpstreamMemo = new Map();
    const d = detach(q, t);
    const dk = ck && { ...ck, raw: d.q.raw };
    return resolver.settle(req, lookupName, first, memo, ck !== null).then((ans) => this.finish(d.q, d.t, ans, 'auth', dk));
  }

  private async stub(q: Query, t: Transport, raw: Buffer, rkey: string, servers: Server[]): Promise<Outcome> {
    if (hasStubOption(q)) {
      this.d.log.warn(`stub forward loop detected for ${q.qname}; dropping`);
      return { buf: null, system: 'stub', cause: null };
    }
    const id = q.header.id;
    const reply = await this.d.forwarder!.walk(servers, id % servers.length, withStubOption(q), t.tcp);
    if (reply === BUSY) return { buf: busyReply(raw, q), system: 'stub', cause: 'refused' };
    if (!reply) return { buf: errorReply(raw, RCODE.SERVFAIL, q.questionEnd), system: 'stub', cause: 'servfail' };
    const b = Buffer.from(reply);
    setId(b, id);
    this.responses.set(rkey, b);
    return { buf: b, system: 'stub', cause: null };
  }

  /** The answer-cache key of a parsed query, or null (no caching) when the question name was compressed or the cache is off. */
  private cacheKey(q: Query, bufsize: number, doBit: boolean): AnswerKey | null {
    if (this.answers.capacity === 0 || !q.plainName) return null;
    return { raw: q.raw, questionEnd: q.questionEnd, bufsize, flags: q.edns !== null ? EDNS_FLAG | (doBit ? DO_FLAG : 0) : 0 };
  }

  private fromCache(k: AnswerKey | null, q: Query, system: System): Outcome | null {
    if (k === null) return null;
    const c = this.answers.get(k.raw, k.questionEnd, k.bufsize, k.flags);
    if (!c) return null;
    if (c.until <= Date.now()) {
      this.answers.delete(c);
      return null;
    }
    const b = Buffer.allocUnsafe(c.len);
    copyBytes(c.chunk, c.at, c.at + c.len, b, 0);
    patchReply(b, q.raw, k.questionEnd - 4);
    if (c.shuffle && this.d.cfg.roundRobin) shuffleBlock(b, c.shuffle);
    this.d.metrics?.answerCacheHits.inc('');
    return { buf: b, system, cause: c.cause };
  }

  /**
   * Encodes an answer and, when it may be reused, caches it. Every answer
   * handed here was computed from the records as they are now (an answer that
   * waited for upstream lookups was computed again after them).
   */
  private finish(q: Query, t: Transport, ans: Answer, system: System, k: AnswerKey | null): Outcome {
    if (system === 'auth' && this.d.signer && q.edns?.do && q.qclass === CLASS.IN) ans = this.signed(ans, q);
    const { buf, enc, cause } = this.encodeAnswer(q, t, ans);
    const shuffle = enc ? shuffleInfo(ans, enc) : null;
    if (k !== null && enc && ans.reuseUntil > Date.now()) {
      // Stored unshuffled (a copy): every answer from the cache is shuffled afresh. Not stored the
      // first time a question is seen, nor when too many wildcard answers are held (see AnswerCache.set).
      // A truncated answer is stored too: the key holds the reply limit, and a question whose answer
      // is long is the one that must not be computed again for every client that asks it.
      this.answers.set(k.raw, k.questionEnd, k.bufsize, k.flags, { buf, until: ans.reuseUntil, shuffle, system, cause, deps: ans.deps });
    }
    if (shuffle && this.d.cfg.roundRobin) shuffleBlock(buf, shuffle);
    return { buf, system, cause };
  }

  /**
   * An authoritative answer as signed for a DO query (docs/dnssec.md §3.1): denial
   * records for NXDOMAIN and NODATA, an RRSIG after every in-zone RRset of
   * each section, the AD bit. SERVFAIL and REFUSED stay as they are. The
   * answer is computed (and deduplicated, TTLs unified) before this, so the
   * signatures cover what is sent; answers from the cache were stored signed.
   */
  private signed(ans: Answer, q: Query): Answer {
    if (ans.rcode !== RCODE.NOERROR && ans.rcode !== RCODE.NXDOMAIN) return ans;
    const s = this.d.signer!.signAnswer(ans, q.qname, q.qtype);
    return { ...ans, answer: s.answer, authority: s.authority, additional: s.additional, ad: true };
  }

  /** The reply to q as a message, for the general encoder (optUdp -1: no OPT record). */
  private message(q: Query, ans: Answer, optUdp: number, extRcode: number, doBit: boolean): OutMessage {
    return {
      header: {
        id: q.header.id,
        qr: true,
        opcode: q.header.opcode,
        aa: ans.aa,
        tc: false,
        rd: q.header.rd,
        ra: ans.ra,
        ad: ans.ad ?? false,
        cd: q.header.cd,
        rcode: ans.rcode,
      },
      question: [{ name: q.qname, type: q.qtype, class: q.qclass }],
      answer: ans.answer,
      authority: ans.authority,
      additional: ans.additional,
      edns: optUdp >= 0 ? { udpSize: optUdp, extRcode, version: 0, do: doBit, options: [] } : null,
    };
  }

  /** Encodes an answer for this query and transport; SERVFAIL when it cannot fit. */
  private encodeAnswer(q: Query, t: Transport, ans: Answer, extRcode = 0): { buf: Buffer; enc: Encoded | null; cause: Cause | null } {
    // A signed answer's OPT advertises 4096, as SkyDNS's did (docs/dnssec.md §3.1 step 5).
    const optUdp = q.edns ? (ans.ad ? SIGNED_UDP_SIZE : this.d.cfg.udpMaxPayload) : -1;
    const doBit = q.edns !== null && q.edns.do;
    const limit = replyLimit(t.tcp, q.edns?.udpSize ?? null, this.d.cfg.udpMaxPayload);
    let enc: Encoded | null = null;
    try {
      // The shapes nearly every cluster answer has are written straight from the query and the
      // answer's sections; a message object is built only for the rest.
      if (q.plainName) {
        const flags = replyFlags(q.flags, ans.aa, ans.ra, ans.ad ?? false, ans.rcode);
        enc = encodeReply(q, this.soa, q.id, flags, ans, optUdp, optTtl(extRcode, 0, doBit), limit);
      }
      enc ??= encodeMessage(this.message(q, ans, optUdp, extRcode, doBit), limit);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.d.log.warn(`cannot encode the answer for ${q.qname} ${typeName(q.qtype)}: ${err.message}; sending SERVFAIL`);
      return { buf: errorReply(q.raw, RCODE.SERVFAIL, q.questionEnd), enc: null, cause: 'servfail' };
    }
    let cause: Cause | null = ans.rcode === RCODE.NXDOMAIN ? 'nxdomain' : ans.rcode === RCODE.SERVFAIL ? 'servfail' : ans.rcode === RCODE.REFUSED ? 'refused' : null;
    if (!enc) {
      this.d.log.warn(`answer for ${q.qname} ${typeName(q.qtype)} does not fit in ${limit} bytes; sending SERVFAIL`);
      return { buf: errorReply(q.raw, RCODE.SERVFAIL, q.questionEnd), enc: null, cause: 'overflow' };
    }
    if (ans.cut && !enc.truncated) {
      // The resolver left records out (its work is bounded by what a reply can carry): say so.
      setTC(enc.buf);
      enc.truncated = true;
    }
    // Over TCP too, an answer longer than a message carries is sent as far as it fits, with TC
    // (it used to be SERVFAIL): the records a client can use are better than none.
    if (enc.truncated) cause = 'truncated';
    return { buf: enc.buf, enc, cause };
  }

  private async forward(q: Query, t: Transport, raw: Buffer, rkey: string, system: System): Promise<Outcome> {
    const { cfg } = this.d;
    const fail = (ra: boolean): Outcome => {
      const b = errorReply(raw, RCODE.SERVFAIL, q.questionEnd);
      if (ra) setRA(b);
      return { buf: b, system, cause: 'servfail' };
    };
    if (cfg.noRec) return fail(false);
    const fwd = this.d.forwarder;
    if (!fwd || fwd.servers.length === 0 || labelCount(q.qnameLower) < cfg.ndots) return fail(true);
    const flight = `${q.qnameLower}|${q.qtype}|${q.qclass}|${q.edns?.do ? 1 : 0}|${q.header.cd ? 1 : 0}`;
    const reply = await fwd.forward(raw, t.tcp, flight);
    if (reply === BUSY) return { buf: busyReply(raw, q), system, cause: 'refused' };
    if (!reply) {
      this.d.log.debug(`forward of ${q.qname} ${typeName(q.qtype)} failed on every nameserver`);
      return fail(true);
    }
    this.responses.set(rkey, reply);
    return { buf: reply, system, cause: isTruncated(reply) ? 'truncated' : null };
  }

  /** A cached forwarded reply larger than this client's buffer: set TC and keep the header and question. */
  private refit(b: Buffer, bufsize: number, tcp: boolean): Buffer {
    if (tcp || b.length <= bufsize) return b;
    // Keep the question only (cut at the end of the first question), with TC.
    let off = 12;
    while (off < b.length && b[off] !== 0) {
      if ((b[off] & 0xc0) === 0xc0) {
        off += 1;
        break;
      }
      off += b[off] + 1;
    }
    const end = Math.min(b.length, off + 1 + 4);
    const out = Buffer.from(b.subarray(0, end));
    setTC(out);
    clearRecordCounts(out);
    return out;
  }

  /** Entries in the encoded-answer cache (tests, metrics). */
  get cachedAnswers(): number {
    return this.answers.size;
  }

  /** Stops following the record tree and drops the caches (a handler that is done with). */
  close(): void {
    this.unsubscribe();
    this.clearCaches();
  }

  /** Drops cached answers (tests, and after a full re-read). */
  clearCaches(): void {
    this.answers.clear();
    this.responses.clear();
  }
}

/**
 * The request as the asynchronous paths keep it. The bytes a caller passes to
 * answer() are only valid while it runs (the batched UDP listener reuses its
 * receive area for the next batch), so anything that waits for the network
 * works on its own copy of them, and of the client's address text.
 */
function detach(q: Query, t: Transport): { q: Query; t: Transport } {
  // header named: parseQuery's makes it on demand (a getter, which a spread does not copy).
  return { q: { ...q, header: q.header, raw: Buffer.from(q.raw) }, t: { tcp: t.tcp, remote: t.remote } };
}

/** The zone's SOA as the resolver writes it, pre-encoded; null when a name of it rules the fast path out. */
function zoneSoa(resolver: Resolver): ZoneSoa | null {
  const soa = resolver.soa(0);
  if (soa.data.t !== 'soa') return null;
  try {
    return new ZoneSoa(soa.name, soa.data.mname, soa.data.rname);
  } catch {
    return null;
  }
}

/**
 * The answer to a query not forwarded because -max-forwards exchanges are
 * outstanding: REFUSED, as CoreDNS's forward plugin answers beyond
 * max_concurrent, so that "declined to try" (our load) stays apart from
 * SERVFAIL ("tried, the upstream failed"); glibc's stub resolver asks its next
 * nameserver on either. RA stays set (recursion is offered, just not now).
 */
function busyReply(raw: Buffer, q: Query): Buffer {
  const b = errorReply(raw, RCODE.REFUSED, q.questionEnd);
  setRA(b);
  return b;
}

/** An answer with no records: REFUSED, or the BADVERS base. */
function refusal(rcode: number): Answer {
  return { rcode, aa: false, ra: false, answer: [], authority: [], additional: [], reuseUntil: 0, deps: null };
}

/** Whether key segments lie at or below `base`. */
function isBelow(segs: readonly string[], base: readonly string[]): boolean {
  if (segs.length < base.length) return false;
  for (let i = 0; i < base.length; i++) if (segs[i] !== base[i]) return false;
  return true;
}

/** The trailing run of answer records that are all A (or all AAAA) with the same owner. */
function shuffleInfo(ans: Answer, enc: Encoded): { start: number; count: number; size: number } | null {
  let kept = enc.answerOffsets.length - 1;
  // A signed answer: the addresses are the set before its RRSIG (the signature holds for any order).
  if (kept > 0 && ans.answer[kept - 1].type === TYPE.RRSIG) kept--;
  if (kept < 2) return null;
  const last = ans.answer[kept - 1];
  if (last.type !== TYPE.A && last.type !== TYPE.AAAA) return null;
  const owner = last.name.toLowerCase();
  let i = kept - 1;
  while (i > 0 && ans.answer[i - 1].type === last.type && ans.answer[i - 1].name.toLowerCase() === owner) i--;
  const count = kept - i;
  if (count < 2) return null;
  const size = enc.answerOffsets[i + 1] - enc.answerOffsets[i];
  for (let k = i; k < kept; k++) if (enc.answerOffsets[k + 1] - enc.answerOffsets[k] !== size) return null;
  return { start: enc.answerOffsets[i], count, size };
}

/** Fisher–Yates over fixed-size record blocks of the reply at b[at..], in place (records are at most 12 + 16 bytes: swapped byte by byte). */
function shuffleBlock(b: Buffer, info: { start: number; count: number; size: number }, at = 0): void {
  const size = info.size;
  const base = at + info.start;
  for (let i = info.count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    if (i === j) continue;
    const x = base + i * size;
    const y = base + j * size;
    for (let k = 0; k < size; k++) {
      const t = b[x + k];
      b[x + k] = b[y + k];
      b[y + k] = t;
    }
  }
}
