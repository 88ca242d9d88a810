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
 * Every entry was computed from one generation of the record tree; the first
 * lookup or store that sees a newer generation empties the cache, so answers
 * computed from records that have since changed neither answer nor hold memory.
 */
import type { Cause, System } from './metrics.js';

export interface CachedAnswer {
  /** Hash slot of this entry. */
  readonly slot: number;
  /**
   * The reply, to be sent after its ID, RD/CD bits and question-name case are
   * patched from the request. Its question (offset 12 to questionEnd) is the
   * key: name in lower case, then qtype and qclass.
   */
  readonly buf: Buffer;
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

export type AnswerValue = Pick<CachedAnswer, 'buf' | 'until' | 'shuffle' | 'system' | 'cause'> & {
  /** Tree generation the answer was computed from. */
  readonly gen: number;
};

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

  /** A copy of src in the current chunk (in memory of its own when over a quarter chunk). */
  copy(src: Uint8Array): Buffer {
    const n = src.length;
    if (n > ReplyChunks.CHUNK / 4) {
      const own = Buffer.allocUnsafeSlow(n);
      own.set(src);
      return own;
    }
    if (this.used + n > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(ReplyChunks.CHUNK);
      this.used = 0;
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
  /** Generation of the tree the entries were computed from. */
  private gen = -1;
  private readonly chunks = new ReplyChunks();

  /** capacity 0 disables the cache. */
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /**
   * The entry for the request whose question (name written out in full at
   * offset 12, then qtype and qclass) ends at questionEnd, if any was stored
   * from tree generation gen (and not yet dropped; its `until` is the caller's
   * to check). A newer generation empties the cache.
   */
  get(raw: Buffer, questionEnd: number, bufsize: number, flags: number, gen: number): CachedAnswer | undefined {
    if (gen !== this.gen) {
      this.clear();
      this.gen = gen;
      return undefined;
    }
    const c = this.map.get(slotOf(raw, questionEnd, bufsize, flags));
    if (c === undefined || c.bufsize !== bufsize || c.flags !== flags || !sameQuestion(c, raw, questionEnd)) return undefined;
    return c;
  }

  /**
   * Keeps a copy of v.buf as the answer to the request's question. v.buf must
   * carry the same question at offset 12, in any case; false (nothing stored)
   * when it does not, when v was computed from an older tree generation than
   * the cache has seen, or when the cache is off.
   */
  set(raw: Buffer, questionEnd: number, bufsize: number, flags: number, v: AnswerValue): boolean {
    if (this.capacity === 0 || v.gen < this.gen) return false;
    const src = v.buf;
    if (src.length < questionEnd) return false;
    for (let i = 12; i < questionEnd; i++) if (lower(src[i]) !== lower(raw[i])) return false;
    if (v.gen !== this.gen) {
      this.clear();
      this.gen = v.gen;
    }
    const slot = slotOf(raw, questionEnd, bufsize, flags);
    if (!this.map.has(slot) && this.map.size >= this.capacity) {
      // Drop the oldest tenth (Map iteration is insertion order).
      let n = Math.ceil(this.capacity / 10);
      for (const k of this.map.keys()) {
        this.map.delete(k);
        if (--n <= 0) break;
      }
    }
    const b = this.chunks.copy(src);
    for (let i = 12; i < questionEnd; i++) b[i] = lower(b[i]);
    this.map.set(slot, { slot, buf: b, questionEnd, bufsize, flags, until: v.until, shuffle: v.shuffle, system: v.system, cause: v.cause });
    return true;
  }

  delete(c: CachedAnswer): void {
    if (this.map.get(c.slot) === c) this.map.delete(c.slot);
  }

  clear(): void {
    this.map.clear();
    this.chunks.reset();
  }
}
