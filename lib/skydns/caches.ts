/**
 * The query path's caches, their keys, what they store and their policies:
 *
 * - AnswerCache (below): authoritative answers, encoded, kept until a record
 *   they read changes;
 * - ResponseCache (at the end): forwarded and stub-zone answers, by a fixed
 *   time to live (-rcache, -rcache-ttl).
 *
 * (The DNSSEC signature cache belongs to the signer: lib/dnssec/sign.ts.)
 *
 * The encoded-answer cache: finished replies keyed by the question as it
 * appears on the wire (name bytes compared without regard to ASCII case,
 * qtype, qclass, the UDP size the answer was fitted to, and the EDNS/DO bits).
 *
 * A lookup works on the request bytes directly: one pass hashes the name, a
 * Map keyed by a small-integer hash finds the entry, and the question section
 * of the cached reply itself (kept with its name in lower case) is compared
 * with the request's. No strings are built per query, and the reply bytes the
 * comparison touches are the ones copied out next. Two questions with the same
 * hash share a slot (the newer one wins): that can only cost a miss, never a
 * wrong answer.
 *
 * Every entry is filed under what its answer read from the record tree (see
 * deps.ts). A change to the tree drops exactly the entries whose answers it
 * can alter, so records changing in one place leave the rest of the cache
 * warm; clearing the tree, or a change the cache cannot trace, drops all.
 *
 * Admission follows TinyLFU. A question takes a place only the second time
 * its answer is offered (the "doorkeeper": one bit per hash, cleared as the
 * sketch below ages), so names asked once — most search-path misses, scans, floods of
 * random names — never push out answers that are asked again. When the cache
 * is full, a newcomer replaces the oldest entry only if it was asked more
 * often recently than that entry (a count-min sketch of 4-bit counters,
 * halved every ten capacities of questions). Without it, a working set larger
 * than the cache (100,000 services' worth of distinct questions) made every
 * query insert one answer and evict another, and cost 2.5× the uncached path.
 *
 * Entries are kept small on the JavaScript heap: the reply lives in a shared
 * chunk (an offset, not an object), and an answer that read one path (nearly
 * all) carries that path inline. Every entry that survives a young-generation
 * collection is copied by it, so filling the cache quickly used to cost pauses
 * of 8–16 ms; fewer objects per entry make them shorter.
 */
import { DepIndex, type DepItem, Deps } from './deps.js';
import { SlotTable } from './tables.js';
import type { Cause, System } from './metrics.js';
import type { TreeChange } from './tree.js';
import { RCODE, isTruncated, rcodeOf } from './wire.js';

export interface CachedAnswer extends DepItem {
  /** Hash slot of this entry. */
  readonly slot: number;
  /**
   * The reply is chunk[at, at + len), to be sent after its ID, RD/CD bits
   * and question-name case are patched from the request. Its question
   * (offset 12 to questionEnd) is the key: name in lower case, then qtype and
   * qclass. (Moved to fresh memory when the cache compacts its chunks.)
   */
  chunk: Buffer;
  at: number;
  readonly len: number;
  readonly questionEnd: number;
  readonly bufsize: number;
  /** 1 = the request had an OPT record, 2 = with the DO bit. */
  readonly flags: number;
  /** Date.now() after which the answer must be recomputed. */
  readonly until: number;
  /** A trailing run of same-size address records that may be shuffled. */
  readonly shuffle: { start: number; count: number; size: number } | null;
  readonly system: System;
  readonly cause: Cause | null;
}

/** What is stored: the reply bytes and what the answer read (see Deps). */
export interface AnswerValue {
  readonly buf: Buffer;
  readonly until: number;
  readonly shuffle: CachedAnswer['shuffle'];
  readonly system: System;
  readonly cause: Cause | null;
  readonly deps: Deps | null;
}

/** The reply bytes of an entry (a view; tests and the rare caller that wants a Buffer). */
export function replyOf(c: CachedAnswer): Buffer {
  return c.chunk.subarray(c.at, c.at + c.len);
}

/**
 * At most this many cached answers may have read through a wildcard label:
 * each of them is tested against every change, so their number is bounded
 * (a client asking for many wildcard names gets them computed afresh).
 */
export const MAX_WILDCARD_ENTRIES = 1024;

/**
 * Where the caches keep their copies of replies. A copy made with
 * Buffer.from() is a slice of Node's shared 8 KiB pool, and one slice keeps its
 * whole pool alive; the rest of those pools is the short-lived replies encoded
 * around it, so 50,000 cached answers of ≈ 100 bytes held ≈ 40–55 MiB. Copies
 * made here share 16 KiB chunks with each other only. A chunk is freed once
 * no entry copied into it is left (the answer cache compacts when chunks are
 * mostly dead).
 */
export class ReplyChunks {
  static readonly CHUNK = 16 * 1024;
  private chunk = Buffer.alloc(0);
  private used = 0;
  /** Bytes of chunk memory (and own-memory copies) handed out since the last reset. */
  allocated = 0;
  /** The chunk the last place() copied into. */
  placed: Buffer = this.chunk;

  /** Copies src into the current chunk (into memory of its own when over a quarter chunk); returns its offset in `placed`. */
  place(src: Uint8Array, from = 0, to = src.length): number {
    const n = to - from;
    if (n > ReplyChunks.CHUNK / 4) {
      const own = Buffer.allocUnsafeSlow(n);
      own.set(src.subarray(from, to));
      this.allocated += n;
      this.placed = own;
      return 0;
    }
    if (this.used + n > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(ReplyChunks.CHUNK);
      this.used = 0;
      this.allocated += ReplyChunks.CHUNK;
    }
    const at = this.used;
    this.chunk.set(src.subarray(from, to), at);
    this.used += n;
    this.placed = this.chunk;
    return at;
  }

  /** A copy of src, as a Buffer of its own (a view into a chunk). */
  copy(src: Uint8Array): Buffer {
    const at = this.place(src);
    return this.placed.subarray(at, at + src.length);
  }

  /** Starts a new chunk for the next copy (after the owner dropped all its entries). */
  reset(): void {
    this.chunk = Buffer.alloc(0);
    this.used = 0;
    this.allocated = 0;
    this.placed = this.chunk;
  }
}

export const EDNS_FLAG = 1;
export const DO_FLAG = 2;

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/**
 * FNV-1a over the question bytes (name, qtype, qclass) with bit 5 set (so
 * ASCII letters hash the same in either case; the few other bytes it folds
 * together are told apart by the comparison), then the fitted size and flags,
 * folded to a non-negative small integer.
 */
function slotOf(raw: Buffer, questionEnd: number, bufsize: number, flags: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 12; i < questionEnd; i++) h = Math.imul(h ^ (raw[i] | 0x20), 0x01000193);
  h = Math.imul(h ^ bufsize, 0x01000193);
  h = Math.imul(h ^ flags, 0x01000193);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** Whether the request's question equals the cached one (whose name is lower case), ignoring the case of ASCII letters only. */
function sameQuestion(c: CachedAnswer, raw: Buffer, questionEnd: number): boolean {
  if (questionEnd !== c.questionEnd) return false;
  // A loop, not Buffer#compare: with offsets that builds an arguments object
  // per call when not inlined, and costs more for names this short.
  const b = c.chunk;
  const d = c.at;
  for (let i = 12; i < questionEnd; i++) {
    const x = raw[i];
    const l = b[d + i];
    if (x !== l && ((x | 0x20) !== l || l < 0x61 || l > 0x7a)) return false;
  }
  return true;
}

/**
 * TinyLFU's admission filter: how often each question was asked lately,
 * approximately (a count-min sketch: 4 rows of saturating counters up to 15),
 * and the doorkeeper (one bit per question: offered before?). Every `period`
 * counts (ten times the cache's capacity, at least 1,000) the filter ages:
 * every counter is halved, so old popularity fades, and the doorkeeper is
 * cleared. The doorkeeper has 512 KiB of bits, or eight per count of a
 * period if that is more, so at most an eighth of them are set when it is
 * cleared (at most 1 in 8 first offers taken for a second).
 *
 * Ageing is the one step of the query path taken only now and then: a
 * branch V8 has never seen run is compiled without feedback, and code built
 * so is thrown away the first time it runs (1–10 ms of the event loop,
 * then a recompilation; measured at 80k queries a second, after five
 * seconds). So it is one method, whose call the warm-up's cache makes early
 * (its period is short: see warm.ts), and it halves four counters at a time.
 */
export class FrequencySketch {
  private readonly rows: Uint8Array;
  /** The rows four counters at a time (for halving). */
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly door: Uint8Array;
  private readonly doorMask: number;
  private counted = 0;
  readonly period: number;

  constructor(capacity: number, period = Math.max(1000, capacity * 10)) {
    let width = 1024;
    while (width < capacity && width < 1 << 22) width <<= 1;
    this.rows = new Uint8Array(width * 4);
    this.words = new Uint32Array(this.rows.buffer, 0, width);
    this.mask = width - 1;
    this.shift = Math.log2(width);
    this.period = Math.max(1, Math.floor(period));
    let doorBits = 1 << 22;
    while (doorBits < this.period * 8) doorBits *= 2;
    this.door = new Uint8Array(doorBits >>> 3);
    this.doorMask = doorBits - 1;
  }

  private index(h: number, row: number): number {
    const x = Math.imul(h ^ (row * 0x9e3779b9), 0x85ebca6b);
    return (row << this.shift) | ((x ^ (x >>> 13)) & this.mask);
  }

  increment(h: number): void {
    const r = this.rows;
    for (let row = 0; row < 4; row++) {
      const i = this.index(h, row);
      if (r[i] < 15) r[i]++;
    }
    if (++this.counted >= this.period) this.age();
  }

  estimate(h: number): number {
    const r = this.rows;
    let min = 15;
    for (let row = 0; row < 4; row++) {
      const v = r[this.index(h, row)];
      if (v < min) min = v;
    }
    return min;
  }

  /** The doorkeeper: false (and remembered) the first time h is offered since the filter last aged, true after. */
  offeredBefore(h: number): boolean {
    const bit = h & this.doorMask;
    const byte = bit >>> 3;
    const m = 1 << (bit & 7);
    const door = this.door;
    if ((door[byte] & m) !== 0) return true;
    door[byte] |= m;
    return false;
  }

  /** Halves every counter (each byte of a word: the bit shifted in from the next byte is masked off) and clears the doorkeeper. */
  private age(): void {
    const w = this.words;
    for (let i = 0; i < w.length; i++) w[i] = (w[i] >>> 1) & 0x7f7f7f7f;
    this.door.fill(0);
    this.counted = 0;
  }
}

export interface AnswerCacheOptions {
  /**
   * TinyLFU admission (default true): a question is cached only the second
   * time it is offered, and, once the cache is full, only if asked more often
   * than the entry it would replace. false: every offer is stored, the oldest
   * tenth is dropped when full (tests of the cache's other rules).
   */
  admission?: boolean;
  /** The dependency index (tests pass a weakened one). */
  index?: DepIndex<CachedAnswer>;
  /** Counts between two agings of the admission filter (default ten capacities, at least 1,000; the warm-up's cache ages often). */
  agePeriod?: number;
  /**
   * Tables made for the full capacity at once (default true); false: grown
   * from small as the cache fills, as the warm-up's cache is, so that growing
   * (which the dependency index may still need) is code V8 has seen run.
   */
  presize?: boolean;
}

/**
 * An empty list already of the elements kind entries give it. V8 makes `[]`
 * an array of small integers until the first object goes in; code optimised
 * while the warm-up's cache (whose list had turned) was filling was thrown
 * away at the real cache's first store (lib/skydns/warm.ts).
 */
function entryList(): CachedAnswer[] {
  const a: CachedAnswer[] = [];
  a.push(null as unknown as CachedAnswer);
  a.pop();
  return a;
}

export class AnswerCache {
  /** Entries by slot (tables.ts: a Map stalled for milliseconds copying itself under churn). */
  private readonly map: SlotTable<CachedAnswer>;
  private chunks = new ReplyChunks();
  private readonly index: DepIndex<CachedAnswer>;
  private readonly sketch: FrequencySketch | null;
  /**
   * Entries in the order they were stored, from `head` on; an entry that was
   * dropped since stays until the head passes it (the Map's own order cannot
   * serve here: V8's ordered hash table walks over every hole left by the
   * entries deleted before, so "the oldest entry" got slower and slower).
   */
  private order: CachedAnswer[] = entryList();
  private head = 0;
  /** Bytes of the replies held (what compaction would copy). */
  private liveBytes = 0;
  /** Entries dropped because a record they read changed (for metrics). */
  invalidated = 0;

  /** capacity 0 disables the cache. */
  constructor(readonly capacity: number, opts: AnswerCacheOptions = {}) {
    // Tables for the full capacity from the start. Grown as the cache filled, they were copied
    // at 32,768, 65,536 and 131,072 slots in the first seconds of traffic, 1.3-9.8 ms each on
    // the query thread at 100,000 services, and the first of those copies threw away the compiled
    // code of some twenty functions of the query path (--trace-deopt: "code dependencies").
    // At the default 50,000 entries this is 3.5 MB allocated at start.
    const presize = opts.presize ?? true;
    this.index = opts.index ?? new DepIndex<CachedAnswer>(presize ? capacity : 8);
    this.map = new SlotTable<CachedAnswer>(presize ? Math.max(16, capacity) : 16);
    const admission = capacity > 0 && (opts.admission ?? true);
    this.sketch = admission ? new FrequencySketch(capacity, opts.agePeriod) : null;
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * The entry for the request whose question (name written out in full at
   * offset 12, then qtype and qclass) ends at questionEnd, if any (its
   * `until` is the caller's to check).
   */
  get(raw: Buffer, questionEnd: number, bufsize: number, flags: number): CachedAnswer | undefined {
    const c = this.map.get(slotOf(raw, questionEnd, bufsize, flags));
    if (c === undefined || c.bufsize !== bufsize || c.flags !== flags || !sameQuestion(c, raw, questionEnd)) return undefined;
    this.sketch?.increment(c.slot);
    return c;
  }

  /**
   * Keeps a copy of v.buf as the answer to the request's question. v.buf must
   * carry the same question at offset 12, in any case. The answer must have
   * been computed from the tree as it is now (the caller makes sure no change
   * came in between). False (nothing stored) when the question is offered for
   * the first time (the doorkeeper), when the question differs, when too many
   * wildcard answers are held already, or when the cache is off.
   */
  set(raw: Buffer, questionEnd: number, bufsize: number, flags: number, v: AnswerValue): boolean {
    if (this.capacity === 0) return false;
    const src = v.buf;
    if (src.length < questionEnd) return false;
    for (let i = 12; i < questionEnd; i++) if (lower(src[i]) !== lower(raw[i])) return false;
    const deps = v.deps;
    if (deps?.wild && this.index.wildCount >= MAX_WILDCARD_ENTRIES) return false;
    const slot = slotOf(raw, questionEnd, bufsize, flags);
    // The entry that gives way: the one in this slot (another question whose slot is the
    // same, or an expired answer), else the oldest when full. One drop() call for both: the
    // warm-up fills its cache and so runs that call; a call of its own for the slot's entry
    // was first taken after /readyz and threw the optimised set() away (lib/skydns/warm.ts).
    let gone = this.map.get(slot);
    if (gone === undefined) {
      const sketch = this.sketch;
      sketch?.increment(slot);
      if (sketch !== null && !sketch.offeredBefore(slot)) return false;
      if (this.map.size >= this.capacity) {
        if (sketch) {
          // The oldest entry gives way only to a question asked more often.
          const victim = this.oldest()!;
          if (sketch.estimate(slot) <= sketch.estimate(victim.slot)) return false;
          gone = victim;
        } else {
          // Drop the oldest tenth.
          for (let n = Math.ceil(this.capacity / 10); n > 0; n--) this.drop(this.oldest()!);
        }
      }
    }
    if (gone !== undefined) this.drop(gone);
    const at = this.chunks.place(src);
    const chunk = this.chunks.placed;
    for (let i = 12; i < questionEnd; i++) chunk[at + i] = lower(chunk[at + i]);
    // One path read (nearly every answer): kept inline, no Deps object survives.
    const single = deps !== null && deps.wild === null && deps.paths.length === 1;
    const c: CachedAnswer = {
      slot,
      chunk,
      at,
      len: src.length,
      questionEnd,
      bufsize,
      flags,
      until: v.until,
      shuffle: v.shuffle,
      system: v.system,
      cause: v.cause,
      dep: deps === null || (deps.wild === null && deps.paths.length === 0) ? null : single ? deps.paths[0] : deps,
      depKind: single ? deps.kinds[0] : 0,
    };
    this.map.set(c);
    this.order.push(c);
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    this.liveBytes += src.length;
    this.index.add(c);
    this.compactIfSparse();
    return true;
  }

  /** The entry stored longest ago that is still held (the cache must not be empty). */
  private oldest(): CachedAnswer | undefined {
    const order = this.order;
    while (this.head < order.length) {
      const c = order[this.head];
      if (this.map.get(c.slot) === c) return c;
      this.head++;
    }
    return undefined;
  }

  delete(c: CachedAnswer): void {
    if (this.map.get(c.slot) === c) this.drop(c);
  }

  private drop(c: CachedAnswer): void {
    this.map.delete(c.slot);
    this.liveBytes -= c.len;
    this.index.remove(c);
  }

  /**
   * A change to the record tree: drops the entries whose answers it can
   * alter. null (the tree was cleared or re-read) drops everything.
   */
  changed(change: TreeChange | null): void {
    if (change === null) {
      this.invalidated += this.map.size;
      this.clear();
      return;
    }
    if (this.map.size === 0) return;
    const hit: CachedAnswer[] = [];
    this.index.altered(change, hit);
    for (const c of hit) {
      if (this.map.get(c.slot) !== c) continue; // listed twice, already dropped
      this.drop(c);
      this.invalidated++;
    }
  }

  clear(): void {
    this.map.clear();
    this.order = entryList();
    this.head = 0;
    this.index.clear();
    this.chunks.reset();
    this.liveBytes = 0;
  }

  /**
   * Entries are dropped one by one as records change, and each chunk stays
   * in memory while any entry in it lives. When the chunks handed out since
   * the last compaction are more than four times the live replies, the live
   * replies are copied into fresh chunks and the old ones are let go.
   * Amortised, each stored byte is copied at most a third of a time more.
   */
  private compactIfSparse(): void {
    if (this.chunks.allocated < 4 * this.liveBytes + 8 * ReplyChunks.CHUNK) return;
    const fresh = new ReplyChunks();
    for (const c of this.map.values()) {
      c.at = fresh.place(c.chunk, c.at, c.at + c.len);
      c.chunk = fresh.placed;
    }
    this.chunks = fresh;
  }
}

/**
 * The response cache of forwarded and stub-zone answers (SkyDNS's -rcache):
 * keyed by the question as asked (name in its case, type, class), the DO bit
 * and the transport; an entry lives -rcache-ttl seconds; SERVFAIL and
 * truncated replies are not kept; when full, the oldest entry goes. Replies
 * are copied into shared chunks.
 */
export class ResponseCache {
  private readonly map = new Map<string, { buf: Buffer; until: number }>();
  private readonly chunks = new ReplyChunks();

  constructor(readonly capacity: number, private readonly ttlSeconds: number) {}

  /** The key of a question (empty when the cache is off). */
  key(qname: string, qtype: number, qclass: number, doBit: boolean, tcp: boolean): string {
    return this.capacity > 0 ? `${qname}|${qtype}|${qclass}|${doBit ? 1 : 0}|${tcp ? 1 : 0}` : '';
  }

  /** A copy of the reply stored under `key` while it lives (its ID and flags as stored), or null. */
  get(key: string, now = Date.now()): Buffer | null {
    const hit = this.map.get(key);
    if (!hit) return null;
    if (hit.until > now) return Buffer.from(hit.buf);
    this.map.delete(key);
    return null;
  }

  /** Keeps `reply` under `key` unless it is a SERVFAIL or truncated, or the key is empty or held already. */
  set(key: string, reply: Buffer, now = Date.now()): void {
    if (key === '' || this.capacity <= 0) return;
    if (rcodeOf(reply) === RCODE.SERVFAIL || isTruncated(reply)) return;
    if (this.map.has(key)) return;
    if (this.map.size >= this.capacity) {
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(key, { buf: this.chunks.copy(reply), until: now + this.ttlSeconds * 1000 });
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.chunks.reset();
  }
}
