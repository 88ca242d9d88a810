/**
 * What an answer read from the record tree, and which cached answers a change
 * to the tree can alter.
 *
 * The resolver notes every read while it builds an answer (`Deps`). The answer
 * cache files each cached answer under the paths it read (`DepIndex`); when a
 * key changes, only the answers filed under that key or one of its ancestors
 * (and wildcard answers whose pattern the key can match) are looked at, and of
 * those only the ones the change can really alter are dropped. So a record
 * that changes in one namespace leaves every other cached answer in place.
 *
 * A read is one of four kinds, each with the exact rule for when a change at
 * key K (segments k₀…kₙ₋₁, see TreeChange) alters it. A read at path P of
 * depth i (P = k₀…kᵢ₋₁, so K is at or below P) is altered when:
 *
 *   SUBTREE       always: the answer lists every leaf at or below P;
 *   SUBTREE_PLAIN some segment of K below P is not an underscore label
 *                 (leaves below `_tcp`-style labels are not part of it), or
 *                 P itself came into or went out of existence;
 *   EXISTS        P came into or went out of existence (NXDOMAIN ↔ NODATA);
 *   ENTRY         K is P itself, or P came into or went out of existence.
 *
 * A read through a wildcard label (`*` or `any`) is kept apart with its
 * pattern; a change under the pattern's fixed part alters it when the key
 * matches the pattern, is the fixed part itself, or the fixed part or its
 * children came into or went out of existence.
 */
import { HASH_SEED, PathTable, hashFinal, hashMore } from './tables.js';
import { isWildcard, type TreeChange } from './tree.js';

/** The answer lists every leaf at or below the path (and whether it exists). */
export const SUBTREE = 1;
/** As SUBTREE, without the leaves that lie below an underscore label under the path. */
export const SUBTREE_PLAIN = 2;
/** Only whether anything exists at or below the path. */
export const EXISTS = 4;
/** The value at exactly the path, and whether anything exists at or below it. */
export const ENTRY = 8;

export interface WildRead {
  /** The looked-up segments, one or more of them wildcards. */
  readonly segs: readonly string[];
  /** Index of the first wildcard segment. */
  readonly first: number;
  readonly kind: number;
}

/**
 * Joins key segments into the path form the index files reads under ('' is
 * the root). One flat string: a cached answer keeps it, and appending segment
 * by segment left a chain of cons strings that V8 flattened into a second
 * copy at the first lookup (both kept, and copied by every young-generation
 * collection while new).
 */
export function pathOf(segs: readonly string[]): string {
  return segs.join('/');
}

/** The reads one answer made. */
export class Deps {
  paths: string[] = [];
  kinds: number[] = [];
  wild: WildRead[] | null = null;

  /** Notes a read of `kind` at the name whose key segments are segs. */
  add(segs: readonly string[], kind: number): void {
    for (let i = 0; i < segs.length; i++) {
      if (isWildcard(segs[i])) {
        (this.wild ??= []).push({ segs: segs.slice(), first: i, kind });
        return;
      }
    }
    const p = pathOf(segs);
    // An answer usually reads a path once; look back a little for repeats instead of keeping a set.
    for (let j = this.paths.length - 1; j >= 0 && j >= this.paths.length - 8; j--) {
      if (this.paths[j] === p) {
        this.kinds[j] |= kind;
        return;
      }
    }
    if (this.paths.length === 0) {
      // The first read (nearly every answer's only one): arrays of its size, where a push into
      // an empty array makes room for 17.
      this.paths = [p];
      this.kinds = [kind];
      return;
    }
    this.paths.push(p);
    this.kinds.push(kind);
  }
}

/** Whether a change at `change` alters a wildcard read. */
export function wildAltered(w: WildRead, change: TreeChange): boolean {
  const k = change.segs;
  const base = w.first;
  if (k.length < base) return false;
  for (let j = 0; j < base; j++) if (k[j] !== w.segs[j]) return false;
  // K is the fixed part itself, or the fixed part or one of its children appeared or went away.
  if (k.length === base || change.flipped <= base + 1) return true;
  if (w.kind & (EXISTS | ENTRY)) return false;
  const plain = (w.kind & SUBTREE) === 0;
  const m = w.segs.length;
  if (k.length < m) return false;
  for (let j = base; j < m; j++) {
    const s = w.segs[j];
    if (isWildcard(s)) {
      if (plain && k[j].charCodeAt(0) === 0x5f) return false;
    } else if (k[j] !== s) return false;
  }
  if (plain) for (let j = m; j < k.length; j++) if (k[j].charCodeAt(0) === 0x5f) return false;
  return true;
}

/**
 * What an item filed in the index read: one path of kind `depKind` (stored
 * inline, the usual case), several (a Deps), or nothing (null).
 */
export interface DepItem {
  readonly dep: string | Deps | null;
  readonly depKind: number;
}

/**
 * Cached items filed by the paths their answers read. A path's bucket is the
 * item itself while it is the only one (the usual case), else an array.
 */
export class DepIndex<T extends DepItem> {
  /** Items by the paths they read (tables.ts: a Map stalled for milliseconds copying itself under churn). */
  private readonly byPath: PathTable<T | T[]>;
  private readonly wild = new Map<T, WildRead[]>();

  /** Room for `capacity` paths before its table grows. */
  constructor(capacity = 8) {
    this.byPath = new PathTable<T | T[]>(capacity);
  }

  /** Items with a wildcard read (each is looked at on every change). */
  get wildCount(): number {
    return this.wild.size;
  }

  /** Files the item under what it read (`dep`: what to file it under, by default all it read). */
  add(item: T, dep: string | Deps | null = item.dep): void {
    if (dep === null) return;
    if (typeof dep === 'string') {
      this.file(dep, item);
      return;
    }
    for (const p of dep.paths) this.file(p, item);
    if (dep.wild) this.wild.set(item, dep.wild);
  }

  private file(p: string, item: T): void {
    const b = this.byPath.get(p);
    if (b === undefined) this.byPath.set(p, item);
    else if (Array.isArray(b)) {
      if (!b.includes(item)) b.push(item);
    } else if (b !== item) this.byPath.set(p, [b, item]);
  }

  private unfile(p: string, item: T): void {
    const b = this.byPath.get(p);
    if (b === item) this.byPath.delete(p);
    else if (Array.isArray(b)) {
      const i = b.indexOf(item);
      if (i === -1) return;
      b.splice(i, 1);
      if (b.length === 1) this.byPath.set(p, b[0]);
    }
  }

  remove(item: T): void {
    const dep = item.dep;
    if (dep === null) return;
    if (typeof dep === 'string') {
      this.unfile(dep, item);
      return;
    }
    for (const p of dep.paths) this.unfile(p, item);
    if (dep.wild) this.wild.delete(item);
  }

  clear(): void {
    this.byPath.clear();
    this.wild.clear();
  }

  /** The kinds of the item's reads at path p. */
  private kindAt(item: T, p: string): number {
    const dep = item.dep;
    if (dep === null) return 0;
    if (typeof dep === 'string') return dep === p ? item.depKind : 0;
    let k = 0;
    for (let j = 0; j < dep.paths.length; j++) if (dep.paths[j] === p) k |= dep.kinds[j];
    return k;
  }

  /**
   * Whether reads of `kind` at one path of the changed key's are altered:
   * `atKey` when the path is the key itself, `flipped` when the path came into
   * or went out of existence, `belowAttr` when the key lies below an
   * underscore label under the path. (The rules of this file's header.)
   */
  protected pathAltered(kind: number, atKey: boolean, flipped: boolean, belowAttr: boolean): boolean {
    return (
      (kind & SUBTREE) !== 0 ||
      ((kind & SUBTREE_PLAIN) !== 0 && (flipped || !belowAttr)) ||
      ((kind & EXISTS) !== 0 && flipped) ||
      ((kind & ENTRY) !== 0 && (flipped || atKey))
    );
  }

  protected wildAltered(w: WildRead, change: TreeChange): boolean {
    return wildAltered(w, change);
  }

  /** Pushes onto `out` every item whose answer the change can alter (an item may appear twice). */
  altered(change: TreeChange, out: T[]): void {
    const k = change.segs;
    const n = k.length;
    const f = change.flipped;
    // A segment of K at depth ≥ i is an underscore label iff i ≤ lastAttr: K then lies below an
    // attribute label under the path of depth i and is not part of a SUBTREE_PLAIN read there.
    let lastAttr = -1;
    for (let i = n - 1; i >= 0; i--) {
      if (k[i].charCodeAt(0) === 0x5f) {
        lastAttr = i;
        break;
      }
    }
    // The path of depth i is the key's path up to its i-th '/': its hash is carried on from the
    // previous depth's and looked up as a prefix; it is cut into a string only when filed under.
    const full = pathOf(k);
    let end = 0;
    let state = HASH_SEED;
    for (let i = 0; i <= n; i++) {
      if (i > 0) {
        const from = end;
        end = i === 1 ? k[0].length : end + 1 + k[i - 1].length;
        state = hashMore(state, full, from, end);
      }
      const bucket = this.byPath.getPrefix(full, end, hashFinal(state));
      if (bucket === undefined) continue;
      const p = end === full.length ? full : full.substring(0, end);
      const flipped = f <= i;
      const belowAttr = i <= lastAttr;
      if (Array.isArray(bucket)) {
        for (const item of bucket) if (this.pathAltered(this.kindAt(item, p), i === n, flipped, belowAttr)) out.push(item);
      } else if (this.pathAltered(this.kindAt(bucket, p), i === n, flipped, belowAttr)) out.push(bucket);
    }
    if (this.wild.size === 0) return;
    for (const [item, reads] of this.wild) {
      for (const w of reads) {
        if (this.wildAltered(w, change)) {
          out.push(item);
          break;
        }
      }
    }
  }
}
