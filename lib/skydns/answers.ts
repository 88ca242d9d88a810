/**
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
 */
import { DepIndex, Deps } from './deps.js';
import type { Cause, System } from './metrics.js';
import type { TreeChange } from './tree.js';

export interface CachedAnswer {
  /** Hash slot of this entry. */
  readonly slot: number;
  /**
   * The reply, to be sent after its ID, RD/CD bits and question-name case are
   * patched from the request. Its question (offset 12 to questionEnd) is the
   * key: name in lower case, then qtype and qclass. (Moved to fresh memory
   * when the cache compacts its chunks.)
   */
  buf: Buffer;
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
  /** What the answer read from the record tree (null: nothing that can change). */
  readonly deps: Deps | null;
}

export type AnswerValue = Pick<CachedAnswer, 'buf' | 'until' | 'shuffle' | 'system' | 'cause' | 'deps'>;

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
 * made here share 16 KiB chunks with each other only. Both caches drop entries
 * in about the order they were added (oldest first, or all at once), so a
 * chunk is freed soon after the entries copied into it.
 */
export class ReplyChunks {
  static readonly CHUNK = 16 * 1024;
  private chunk = Buffer.alloc(0);
  private used = 0;
  /** Bytes of chunk memory (and own-memory copies) handed out since the last reset. */
  allocated = 0;

  /** A copy of src in the current chunk (in memory of its own when over a quarter chunk). */
  copy(src: Uint8Array): Buffer {
    const n = src.length;
    if (n > ReplyChunks.CHUNK / 4) {
      const own = Buffer.allocUnsafeSlow(n);
      own.set(src);
      this.allocated += n;
      return own;
    }
    if (this.used + n > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(ReplyChunks.CHUNK);
      this.used = 0;
      this.allocated += ReplyChunks.CHUNK;
    }
    const b = this.chunk.subarray(this.used, this.used + n);
    b.set(src);
    this.used += n;
    return b;
  }

  /** Starts a new chunk for the next copy (after the owner dropped all its entries). */
  reset(): void {
    this.chunk = Buffer.alloc(0);
    this.used = 0;
    this.allocated = 0;
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
  const b = c.buf;
  if (raw.compare(b, 12, questionEnd, 12, questionEnd) === 0) return true; // the usual case: asked in lower case
  for (let i = 12; i < questionEnd; i++) {
    const x = raw[i];
    const l = b[i];
    if (x !== l && ((x | 0x20) !== l || l < 0x61 || l > 0x7a)) return false;
  }
  return true;
}

export class AnswerCache {
  private readonly map = new Map<number, CachedAnswer>();
  private chunks = new ReplyChunks();
  private readonly index: DepIndex<CachedAnswer>;
  /** Bytes of the replies held (what compaction would copy). */
  private liveBytes = 0;
  /** Entries dropped because a record they read changed (for metrics). */
  invalidated = 0;

  /** capacity 0 disables the cache. */
  constructor(readonly capacity: number, index?: DepIndex<CachedAnswer>) {
    this.index = index ?? new DepIndex<CachedAnswer>();
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
    return c;
  }

  /**
   * Keeps a copy of v.buf as the answer to the request's question. v.buf must
   * carry the same question at offset 12, in any case. The answer must have
   * been computed from the tree as it is now (the caller makes sure no change
   * came in between). False (nothing stored) when the question differs, when
   * too many wildcard answers are held already, or when the cache is off.
   */
  set(raw: Buffer, questionEnd: number, bufsize: number, flags: number, v: AnswerValue): boolean {
    if (this.capacity === 0) return false;
    const src = v.buf;
    if (src.length < questionEnd) return false;
    for (let i = 12; i < questionEnd; i++) if (lower(src[i]) !== lower(raw[i])) return false;
    if (v.deps?.wild && this.index.wildCount >= MAX_WILDCARD_ENTRIES) return false;
    const slot = slotOf(raw, questionEnd, bufsize, flags);
    const old = this.map.get(slot);
    if (old) this.drop(old);
    else if (this.map.size >= this.capacity) {
      // Drop the oldest tenth (Map iteration is insertion order).
      let n = Math.ceil(this.capacity / 10);
      for (const c of this.map.values()) {
        this.drop(c);
        if (--n <= 0) break;
      }
    }
    const b = this.chunks.copy(src);
    for (let i = 12; i < questionEnd; i++) b[i] = lower(b[i]);
    const c: CachedAnswer = { slot, buf: b, questionEnd, bufsize, flags, until: v.until, shuffle: v.shuffle, system: v.system, cause: v.cause, deps: v.deps };
    this.map.set(slot, c);
    this.liveBytes += b.length;
    if (c.deps) this.index.add(c, c.deps);
    this.compactIfSparse();
    return true;
  }

  delete(c: CachedAnswer): void {
    if (this.map.get(c.slot) === c) this.drop(c);
  }

  private drop(c: CachedAnswer): void {
    this.map.delete(c.slot);
    this.liveBytes -= c.buf.length;
    if (c.deps) this.index.remove(c, c.deps);
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
    for (const c of this.map.values()) c.buf = fresh.copy(c.buf);
    this.chunks = fresh;
  }
}
