/**
 * Two open-addressing hash tables for the answer cache, which replaces its
 * entries all the time once it is full (100,000 services ask 600,000
 * distinct questions of a cache of 50,000).
 *
 * Why not Map: V8's ordered hash table leaves a hole for every deleted entry
 * and copies the whole table into a new one when live entries and holes fill
 * it. Under steady replacement that happens every table's worth of
 * operations: a Map of 50,000 entries, one delete and one set per step (the
 * items made beforehand, so no collection interferes), held the thread 10–20
 * ms once every 60,000 steps here; at 100,000 services the cache replaces
 * about that many entries a second, in two such Maps. Linear probing with
 * backward-shift deletion leaves no holes: a table grows only when it holds
 * more than it ever did, and never copies itself under churn (the same
 * 300,000 steps: none over 0.5 ms but for a collection, and 117–118 ms in all
 * against 187–302). `INPROC_RUNS=tables node dist/bench/skydns-inproc.js`.
 */

/** Items keyed by a non-negative 31-bit hash they carry (`slot`); one item per slot. */
export class SlotTable<T extends { readonly slot: number }> {
  private items: (T | null)[];
  private mask: number;
  size = 0;

  /** Room for `capacity` items without growing (at most half full). */
  constructor(capacity: number) {
    const n = roomFor(capacity);
    this.items = new Array<T | null>(n).fill(null);
    this.mask = n - 1;
  }

  get(slot: number): T | undefined {
    const a = this.items;
    const mask = this.mask;
    for (let i = slot & mask; ; i = (i + 1) & mask) {
      const x = a[i];
      if (x === null) return undefined;
      if (x.slot === slot) return x;
    }
  }

  /** Stores the item in its slot (replacing the item held there). */
  set(item: T): void {
    if ((this.size + 1) * 2 > this.items.length) this.resize(this.items.length * 2);
    const a = this.items;
    const mask = this.mask;
    for (let i = item.slot & mask; ; i = (i + 1) & mask) {
      const x = a[i];
      if (x === null) {
        a[i] = item;
        this.size++;
        return;
      }
      if (x.slot === item.slot) {
        a[i] = item;
        return;
      }
    }
  }

  delete(slot: number): boolean {
    const a = this.items;
    const mask = this.mask;
    for (let i = slot & mask; ; i = (i + 1) & mask) {
      const x = a[i];
      if (x === null) return false;
      if (x.slot === slot) {
        // Backward-shift deletion: later entries of the run move back into the gap.
        let gap = i;
        for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
          const y = a[j];
          if (y === null) break;
          if (movable(gap, j, y.slot & mask)) {
            a[gap] = y;
            gap = j;
          }
        }
        a[gap] = null;
        this.size--;
        return true;
      }
    }
  }

  *values(): IterableIterator<T> {
    for (const x of this.items) if (x !== null) yield x;
  }

  clear(): void {
    this.items.fill(null);
    this.size = 0;
  }

  private resize(n: number): void {
    const old = this.items;
    this.items = new Array<T | null>(n).fill(null);
    this.mask = n - 1;
    this.size = 0;
    for (const x of old) if (x !== null) this.set(x);
  }
}

/**
 * FNV-1a over s[from, to) (UTF-16 units) continued from `state`. hashFinal
 * turns a state into a path's hash, so a path's prefixes hash one after the
 * other: pathHash(a + b) === hashFinal(hashMore(hashMore(HASH_SEED, a), b)).
 */
export function hashMore(state: number, s: string, from = 0, to = s.length): number {
  let h = state;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

export const HASH_SEED = 0x811c9dc5 | 0;

/** A path's hash (non-negative, 31 bits) from the state hashMore left. */
export function hashFinal(state: number): number {
  return (state ^ (state >>> 15)) & 0x7fffffff;
}

export function pathHash(s: string): number {
  return hashFinal(hashMore(HASH_SEED, s));
}

/**
 * String keys (the answer cache's dependency paths) to values. Lookups may
 * pass a hash made beforehand (`getPrefix`), so that the dependency index can
 * look up every prefix of a changed key without cutting it into strings.
 */
export class PathTable<V> {
  private keys: (string | null)[];
  private hashes: Int32Array;
  private vals: (V | null)[];
  private mask: number;
  size = 0;

  constructor(capacity = 8) {
    const n = roomFor(capacity);
    this.keys = new Array<string | null>(n).fill(null);
    this.vals = new Array<V | null>(n).fill(null);
    this.hashes = new Int32Array(n);
    this.mask = n - 1;
  }

  get(key: string): V | undefined {
    const i = this.find(key, pathHash(key));
    return i === -1 ? undefined : (this.vals[i] as V);
  }

  /** The value of the key that is `s`'s first `len` characters, whose hash is `hash` (pathHash of that prefix). */
  getPrefix(s: string, len: number, hash: number): V | undefined {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === null) return undefined;
      if (this.hashes[i] === hash && k.length === len && s.startsWith(k)) return this.vals[i] as V;
    }
  }

  set(key: string, v: V): void {
    if ((this.size + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const hash = pathHash(key);
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === null) {
        keys[i] = key;
        this.hashes[i] = hash;
        this.vals[i] = v;
        this.size++;
        return;
      }
      if (this.hashes[i] === hash && k === key) {
        this.vals[i] = v;
        return;
      }
    }
  }

  delete(key: string): boolean {
    const i = this.find(key, pathHash(key));
    if (i === -1) return false;
    const mask = this.mask;
    const hashes = this.hashes;
    const keys = this.keys;
    const vals = this.vals;
    // Backward-shift deletion over the three parallel arrays (as SlotTable.delete does over one).
    let gap = i;
    for (let j = (i + 1) & mask; keys[j] !== null; j = (j + 1) & mask) {
      const home = hashes[j] & mask;
      if (movable(gap, j, home)) {
        keys[gap] = keys[j];
        hashes[gap] = hashes[j];
        vals[gap] = vals[j];
        gap = j;
      }
    }
    keys[gap] = null;
    vals[gap] = null;
    this.size--;
    return true;
  }

  clear(): void {
    this.keys.fill(null);
    this.vals.fill(null);
    this.size = 0;
  }

  private find(key: string, hash: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === null) return -1;
      if (this.hashes[i] === hash && k === key) return i;
    }
  }

  private resize(n: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Array<string | null>(n).fill(null);
    this.vals = new Array<V | null>(n).fill(null);
    this.hashes = new Int32Array(n);
    this.mask = n - 1;
    this.size = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== null) this.set(k, vals[i] as V);
    }
  }
}

/** A power of two at least twice `capacity` (and at least 16). */
function roomFor(capacity: number): number {
  let n = 16;
  while (n < capacity * 2) n *= 2;
  return n;
}

/**
 * Whether the entry at j, whose probe starts at `home`, may move back into
 * the gap: it may unless home lies cyclically in (gap, j] (it would then be
 * moved in front of its own start).
 */
function movable(gap: number, j: number, home: number): boolean {
  return gap <= j ? home <= gap || home > j : home <= gap && home > j;
}
