/**
 * The encoded-answer cache: finished replies keyed by the question as it
 * appears on the wire (name bytes compared without regard to ASCII case,
 * qtype, qclass, the UDP size the answer was fitted to, and the EDNS/DO bits).
 *
 * A lookup works on the request bytes directly: one pass hashes the name,
 * a Map keyed by a small-integer hash finds the entry, and the entry's own
 * key is compared byte by byte. No strings are built per query. Two
 * questions with the same hash share a slot (the newer one wins): that can
 * only cost a miss, never a wrong answer.
 */
import type { Cause, System } from './metrics.js';

export interface CachedAnswer {
  /** Hash slot of this entry. */
  readonly slot: number;
  /** The question name's wire bytes, ASCII letters lower-cased. */
  readonly name: Buffer;
  readonly qtype: number;
  readonly qclass: number;
  readonly bufsize: number;
  /** 1 = the request had an OPT record, 2 = with the DO bit. */
  readonly flags: number;
  /** The reply, ready to send after patchReply. */
  readonly buf: Buffer;
  /** Tree generation the answer was computed from. */
  readonly gen: number;
  /** Date.now() after which the answer must be recomputed. */
  readonly until: number;
  /** A trailing run of same-size address records that may be shuffled. */
  readonly shuffle: { start: number; count: number; size: number } | null;
  readonly system: System;
  readonly cause: Cause | null;
}

export type AnswerValue = Pick<CachedAnswer, 'buf' | 'gen' | 'until' | 'shuffle' | 'system' | 'cause'>;

export const EDNS_FLAG = 1;
export const DO_FLAG = 2;

/**
 * FNV-1a over the name bytes with bit 5 set (so ASCII letters hash the same in
 * either case; the few other bytes it folds together are told apart by
 * sameName) and the other key fields, folded to a non-negative small integer.
 */
function slotOf(raw: Buffer, nameEnd: number, qtype: number, qclass: number, bufsize: number, flags: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 12; i < nameEnd; i++) h = Math.imul(h ^ (raw[i] | 0x20), 0x01000193);
  h = Math.imul(h ^ qtype, 0x01000193);
  h = Math.imul(h ^ qclass, 0x01000193);
  h = Math.imul(h ^ bufsize, 0x01000193);
  h = Math.imul(h ^ flags, 0x01000193);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** Whether raw[12, nameEnd) equals the lower-cased name, ignoring the case of ASCII letters only. */
function sameName(lowered: Buffer, raw: Buffer, nameEnd: number): boolean {
  const n = lowered.length;
  if (nameEnd - 12 !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = raw[12 + i];
    const l = lowered[i];
    if (c !== l && ((c | 0x20) !== l || l < 0x61 || l > 0x7a)) return false;
  }
  return true;
}

export class AnswerCache {
  private readonly map = new Map<number, CachedAnswer>();

  /** capacity 0 disables the cache. */
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The entry for the question whose name occupies raw[12, nameEnd) uncompressed, if any (fresh or not). */
  get(raw: Buffer, nameEnd: number, qtype: number, qclass: number, bufsize: number, flags: number): CachedAnswer | undefined {
    const c = this.map.get(slotOf(raw, nameEnd, qtype, qclass, bufsize, flags));
    if (c === undefined || c.qtype !== qtype || c.qclass !== qclass || c.bufsize !== bufsize || c.flags !== flags || !sameName(c.name, raw, nameEnd)) {
      return undefined;
    }
    return c;
  }

  set(raw: Buffer, nameEnd: number, qtype: number, qclass: number, bufsize: number, flags: number, v: AnswerValue): void {
    if (this.capacity === 0) return;
    const slot = slotOf(raw, nameEnd, qtype, qclass, bufsize, flags);
    if (!this.map.has(slot) && this.map.size >= this.capacity) {
      // Drop the oldest tenth (Map iteration is insertion order).
      let n = Math.ceil(this.capacity / 10);
      for (const k of this.map.keys()) {
        this.map.delete(k);
        if (--n <= 0) break;
      }
    }
    const name = Buffer.allocUnsafe(nameEnd - 12);
    for (let i = 12; i < nameEnd; i++) {
      const c = raw[i];
      name[i - 12] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    this.map.set(slot, { slot, name, qtype, qclass, bufsize, flags, buf: v.buf, gen: v.gen, until: v.until, shuffle: v.shuffle, system: v.system, cause: v.cause });
  }

  delete(c: CachedAnswer): void {
    if (this.map.get(c.slot) === c) this.map.delete(c.slot);
  }

  clear(): void {
    this.map.clear();
  }
}
