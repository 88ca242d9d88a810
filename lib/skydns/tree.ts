/**
 * The in-memory mirror of the etcd record subtree: one node per key segment
 * below `/<prefix>/`, each node optionally holding the decoded value of the key
 * that ends there. Lookups follow SkyDNS's etcd v2 semantics over v3 keys:
 * a name exists iff some key equals its path or lies below `path + "/"`.
 */
import { decodeRecord, SkyRecord, RecordDecodeError } from '../msg/record.js';
import { fqdn, ipOctets } from '../msg/path.js';
import { HASH_SEED, hashMore } from './tables.js';
import { isFoldedLabel } from './wire.js';

/** RFC 2181 §8: a TTL is at most 2³¹ − 1. */
export const MAX_TTL = 2 ** 31 - 1;
/** The longest `text` a record may carry (bytes): its TXT record must fit in a 64 KiB message. */
export const MAX_TEXT_BYTES = 60_000;

const NAME_LABEL = /^[A-Za-z0-9_-]+$/;

/** Why a host that is not an IP literal is not a name a record may point at, or null. */
function hostProblem(host: string): string | null {
  const q = JSON.stringify(host.length > 80 ? `${host.slice(0, 77)}...` : host);
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === '') return `host ${q} is not a name`;
  if (/^[0-9.]+$/.test(name)) return `host ${q} is neither an IP address nor a name`;
  if (name.length > 253) return `host ${q} is ${name.length} bytes long; a name has at most 253`;
  for (const label of name.split('.')) {
    if (label === '') return `host ${q} has an empty label`;
    if (label.length > 63) return `host ${q} has a label of ${label.length} bytes; at most 63`;
    if (!NAME_LABEL.test(label)) return `host ${q} is neither an IP address nor a valid name (letters, digits, '-' and '_' only)`;
  }
  return null;
}

/**
 * Why a decoded record cannot be served, or null. Checked once, when the key
 * arrives (the record is then skipped and one warning names it), so that no
 * value can make an answer impossible to encode: SkyDNS served a port of −1 as
 * 65535, a TTL of 2³² − 1 as is, and a host of 30 labels SERVFAILed its name
 * and every name above it.
 */
export function recordProblem(svc: SkyRecord, segs: readonly string[], ip: string | null): string | null {
  let wire = 1;
  for (const s of segs) {
    if (s.length > 63) return `the key has a part of ${s.length} bytes; a DNS label has at most 63`;
    wire += s.length + 1;
  }
  if (wire > 255) return `the key makes a name of ${wire} bytes; a name has at most 255`;
  if (svc.port < 0 || svc.port > 65535) return `port ${svc.port} is outside 0–65535`;
  if (svc.priority < 0 || svc.priority > 65535) return `priority ${svc.priority} is outside 0–65535`;
  if (svc.weight < 0 || svc.weight > 65535) return `weight ${svc.weight} is outside 0–65535`;
  if (svc.ttl > MAX_TTL) return `ttl ${svc.ttl} is above ${MAX_TTL} (RFC 2181)`;
  if (svc.targetstrip < 0 || svc.targetstrip > 127) return `targetstrip ${svc.targetstrip} is outside 0–127`;
  const text = Buffer.byteLength(svc.text);
  if (text > MAX_TEXT_BYTES) return `text of ${text} bytes is longer than ${MAX_TEXT_BYTES}`;
  if (svc.host !== '' && ip === null) return hostProblem(svc.host);
  return null;
}

/**
 * One etcd key and its value, parsed once when it arrives: the answers built
 * from it read these fields and never parse the value again.
 *
 * Every record in the tree holds one, and under churn each new one is copied
 * by V8's young-generation collector (twice: within the young generation, then
 * out of it), which stops the query path meanwhile. So an entry keeps only
 * what answers read, in the smallest form: no copy of the value's text, the
 * address as a 4- or 16-character string (about 20 bytes on the heap, where a
 * Uint8Array costs about 200), and the duplicate key made only when an answer
 * first needs it (identOf). The heap kept per record went from 688 to 238
 * bytes (`INPROC_RUNS=heap node --expose-gc dist/bench/skydns-inproc.js`,
 * bench/README.md "In-process").
 */
export interface Entry {
  key: string;
  /** Decoded value, or null when the value is not a valid record. */
  svc: SkyRecord | null;
  /** Why the value could not be decoded. */
  error: string | null;
  /** etcd lease ID as a decimal string; '0' when the key has no lease. */
  lease: string;
  /** The host's address when it is an IP literal: its 4 or 16 bytes, one character each (see ipOctets). */
  ip: string | null;
  /** The host made fully qualified, when it is a name; '' for an address or an empty host. */
  target: string;
  /** Number of `/`-separated parts of the key (SkyDNS groups compare depths). */
  depth: number;
  /** identOf's memo: null until an answer with more than one record first reads it. */
  ident: string | null;
}

/** What two records must share to be one answer (host, port, priority, weight, text); made once per entry, when first needed. */
export function identOf(e: Entry): string {
  if (e.ident === null) {
    const s = e.svc!;
    e.ident = `${s.host}\u0000${s.port}\u0000${s.priority}\u0000${s.weight}\u0000${s.text}`;
  }
  return e.ident;
}

/**
 * What a put or delete changed, for caches that keep answers computed from
 * the tree: the key's segments, and the depth (0 = the root, segs.length = the
 * key itself) of the shallowest node that came into existence or went out of
 * it (segs.length + 1 when every node on the path existed before and after).
 */
export interface TreeChange {
  readonly segs: readonly string[];
  readonly flipped: number;
}

/** Called synchronously after every change; null means everything changed (the tree was cleared). */
export type TreeListener = (change: TreeChange | null) => void;

/** Children kept in one sorted array up to this many, in a Map past it. */
const FEW = 8;

/** FNV-1a of the `len` bytes at buf[at..], ASCII capitals folded, in 30 bits (a small integer on every platform). */
function hashBytes(buf: Uint8Array, at: number, len: number): number {
  let h = HASH_SEED;
  for (let i = 0; i < len; i++) {
    let c = buf[at + i];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h & 0x3fffffff;
}

/** hashBytes of a key segment as it is (a segment with capitals or non-ASCII characters never matches a folded question label). */
function hashKey(k: string): number {
  return hashMore(HASH_SEED, k) & 0x3fffffff;
}

/**
 * The children of a node with more than FEW: a Map by key segment, and an
 * index of the segments by their hash, so that the direct answers' lookup
 * (RecordTree.probe) finds a child from the question's bytes without making
 * the label's string (36 bytes a question; at 80,000 questions a second the
 * most of what the query path still allocated, bench/README.md "Direct
 * answers"). Only the few nodes with many children have one (a namespace's
 * services, the namespaces): RSS at 100,000 services stayed 318–319 MiB.
 */
class ManyChildren extends Map<string, Node> {
  private readonly byHash = new Map<number, string | string[]>();

  override set(k: string, n: Node): this {
    if (!super.has(k)) {
      const h = hashKey(k);
      const had = this.byHash.get(h);
      this.byHash.set(h, had === undefined ? k : typeof had === 'string' ? [had, k] : [...had, k]);
    }
    return super.set(k, n);
  }

  override delete(k: string): boolean {
    if (!super.delete(k)) return false;
    const h = hashKey(k);
    const had = this.byHash.get(h);
    if (typeof had === 'string') this.byHash.delete(h);
    else if (had !== undefined) {
      const rest = had.filter((x) => x !== k);
      this.byHash.set(h, rest.length === 1 ? rest[0] : rest);
    }
    return true;
  }

  /** The child under the label of `len` bytes at buf[at..], its ASCII capitals folded. */
  getLabel(buf: Uint8Array, at: number, len: number): Node | undefined {
    const had = this.byHash.get(hashBytes(buf, at, len));
    if (had === undefined) return undefined;
    if (typeof had === 'string') return isFoldedLabel(had, buf, at, len) ? super.get(had) : undefined;
    for (const k of had) if (isFoldedLabel(k, buf, at, len)) return super.get(k);
    return undefined;
  }
}

/**
 * A node of the tree. Most nodes have one or two children (a service's
 * address leaf and its `_tcp`, `_tcp`'s `_http`, `_http`'s leaf): those are
 * kept in one array, keys and nodes alternating, sorted by key and exactly as
 * long as needed (about 60 bytes for one child, where a Map takes about 180),
 * and only a node with more than FEW children (a namespace's services) has a
 * Map. At 100,000 services the heap was ~190 MB live, and on this project's VM
 * every young-generation collection costs about 0.5 ms per 100 MB of old
 * generation however little survives (bench/README.md, "In-process").
 */
class Node {
  /** Up to FEW children: [key₀, node₀, key₁, node₁, …], sorted by key; null with none or in `many`. */
  few: (string | Node)[] | null = null;
  /** More than FEW children. */
  many: ManyChildren | null = null;
  /** many's keys sorted, made when the children are first walked in order. */
  sorted: string[] | null = null;
  entry: Entry | null = null;
  /** Entries in this subtree, this node included. */
  count = 0;

  hasChildren(): boolean {
    return this.few !== null || this.many !== null;
  }

  child(s: string): Node | undefined {
    const f = this.few;
    if (f !== null) {
      for (let i = 0; i < f.length; i += 2) if (f[i] === s) return f[i + 1] as Node;
      return undefined;
    }
    return this.many?.get(s);
  }

  addChild(s: string, n: Node): void {
    if (this.many !== null) {
      this.many.set(s, n);
      this.sorted = null;
      return;
    }
    const f = this.few;
    if (f === null) {
      this.few = [s, n];
      return;
    }
    if (f.length >= 2 * FEW) {
      const m = new ManyChildren();
      for (let i = 0; i < f.length; i += 2) m.set(f[i] as string, f[i + 1] as Node);
      m.set(s, n);
      this.many = m;
      this.few = null;
      this.sorted = null;
      return;
    }
    // A new array of exactly the new length (a grown one would keep spare room).
    const g: (string | Node)[] = new Array(f.length + 2);
    let i = 0;
    let j = 0;
    while (i < f.length && (f[i] as string) < s) {
      g[j++] = f[i++];
      g[j++] = f[i++];
    }
    g[j++] = s;
    g[j++] = n;
    while (i < f.length) g[j++] = f[i++];
    this.few = g;
  }

  removeChild(s: string): void {
    if (this.many !== null) {
      this.many.delete(s);
      this.sorted = null;
      if (this.many.size === 0) this.many = null;
      return;
    }
    const f = this.few;
    if (f === null) return;
    let at = -1;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === s) {
        at = i;
        break;
      }
    }
    if (at === -1) return;
    if (f.length === 2) {
      this.few = null;
      return;
    }
    const g: (string | Node)[] = new Array(f.length - 2);
    for (let i = 0, j = 0; i < f.length; i++) if (i !== at && i !== at + 1) g[j++] = f[i];
    this.few = g;
  }

  /** many's keys in order (few is kept in order). */
  manyKeys(): string[] {
    if (!this.sorted) this.sorted = [...this.many!.keys()].sort();
    return this.sorted;
  }
}

export interface LookupOptions {
  /** Only the key itself (SkyDNS `exact`, used for CNAME queries). */
  exact?: boolean;
  /**
   * Leave out leaves that lie below an underscore label under the queried
   * node (RFC 8552 attribute leaves such as `_tcp/_http`); see docs/design.md §6.
   */
  skipAttrleaf?: boolean;
}

export interface LookupResult {
  /** Some key equals the path or lies below it. False means NXDOMAIN. */
  exists: boolean;
  entries: Entry[];
}

export function isWildcard(label: string): boolean {
  return label === '*' || label === 'any';
}

/** What RecordTree.probe found at a name. */
export const PROBE_NONE = 0;
/** Keys lie below the name, but none that an address question reads (only `_`-labelled ones). */
export const PROBE_EMPTY = 1;
/** Exactly one entry answers: RecordTree.probed. */
export const PROBE_ONE = 2;
/** More than one entry, or a wildcard label: only the general lookup can say. */
export const PROBE_MANY = 3;

/**
 * The child of `node` under the label of `len` bytes at buf[at..], its ASCII
 * capitals folded (as the question name is folded before a lookup): among a
 * few children compared byte by byte, among many through their hash index.
 */
function childAt(node: Node, buf: Uint8Array, at: number, len: number): Node | undefined {
  const f = node.few;
  if (f !== null) {
    for (let i = 0; i < f.length; i += 2) if (isFoldedLabel(f[i] as string, buf, at, len)) return f[i + 1] as Node;
    return undefined;
  }
  return node.many?.getLabel(buf, at, len);
}

/** Whether the label of `len` bytes at buf[at..] is `*` or `any` in any case. */
function isWildLabel(buf: Uint8Array, at: number, len: number): boolean {
  if (len === 1) return buf[at] === 0x2a;
  return len === 3 && (buf[at] | 0x20) === 0x61 && (buf[at + 1] | 0x20) === 0x6e && (buf[at + 2] | 0x20) === 0x79;
}

export class RecordTree {
  private root = new Node();
  /** Incremented on every change; answer caches compare it. */
  generation = 0;
  /** Keys whose value is not a valid record. */
  invalid = 0;
  private listeners: TreeListener[] = [];

  /** `/<prefix>/`: what every key of the tree starts with. */
  private readonly head: string;

  constructor(readonly prefix = 'skydns') {
    this.head = `/${prefix}/`;
  }

  get size(): number {
    return this.root.count;
  }

  /** Calls fn after every change, synchronously, before the change is visible to anything else. Returns the function that stops it. */
  subscribe(fn: TreeListener): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  private notify(change: TreeChange | null): void {
    for (const fn of this.listeners) fn(change);
  }

  /** Segments of a key below `/<prefix>/`, or null for keys outside the prefix. */
  segments(key: string): string[] | null {
    if (!key.startsWith(this.head)) return null;
    return key.slice(this.head.length).split('/');
  }

  /** Inserts or replaces a key. Returns the entry (its `error` says if the value is bad). */
  put(key: string, raw: string, lease = '0'): Entry | null {
    const segs = this.segments(key);
    if (!segs) return null;
    let svc: SkyRecord | null = null;
    let error: string | null = null;
    try {
      svc = decodeRecord(raw, key);
    } catch (err) {
      error = err instanceof RecordDecodeError ? err.message : `bad record at ${key}: ${String(err)}`;
    }
    let ip = svc ? ipOctets(svc.host) : null;
    if (svc && !(segs.length === 1 && segs[0] === 'config')) {
      // (/<prefix>/config holds skydns's configuration, not a record.)
      const problem = recordProblem(svc, segs, ip);
      if (problem) {
        error = `bad record at ${key}: ${problem}`;
        svc = null;
        ip = null;
      }
    }
    const target = svc && ip === null && svc.host !== '' ? fqdn(svc.host) : '';
    const entry: Entry = { key, svc, error, lease, ip, target, depth: segs.length + 1, ident: null };
    const path: Node[] = [this.root];
    let node = this.root;
    for (const s of segs) {
      let next = node.child(s);
      if (!next) {
        next = new Node();
        node.addChild(s, next);
      }
      node = next;
      path.push(node);
    }
    const old = node.entry;
    node.entry = entry;
    let flipped = segs.length + 1;
    if (!old) {
      for (let i = path.length - 1; i >= 0; i--) {
        if (path[i].count === 0) flipped = i;
        path[i].count++;
      }
    }
    if (old && old.error) this.invalid--;
    if (error) this.invalid++;
    this.generation++;
    this.notify({ segs, flipped });
    return entry;
  }

  /** Removes a key; returns true if it existed. Empty branches are pruned. */
  delete(key: string): boolean {
    const segs = this.segments(key);
    if (!segs) return false;
    const path: Node[] = [this.root];
    let node = this.root;
    for (const s of segs) {
      const next = node.child(s);
      if (!next) return false;
      node = next;
      path.push(node);
    }
    const old = node.entry;
    if (!old) return false;
    node.entry = null;
    if (old.error) this.invalid--;
    let flipped = segs.length + 1;
    for (let i = path.length - 1; i >= 0; i--) {
      if (--path[i].count === 0) flipped = i;
    }
    for (let i = path.length - 1; i > 0; i--) {
      if (path[i].count > 0) break;
      path[i - 1].removeChild(segs[i - 1]);
    }
    this.generation++;
    this.notify({ segs, flipped });
    return true;
  }

  get(key: string): Entry | null {
    const segs = this.segments(key);
    if (!segs) return null;
    return this.node(segs)?.entry ?? null;
  }

  clear(): void {
    this.root = new Node();
    this.invalid = 0;
    this.generation++;
    this.notify(null);
  }

  /** Every key currently held, in tree order. */
  keys(): string[] {
    const out: Entry[] = [];
    this.gather(this.root, false, out, Infinity);
    return out.map((e) => e.key);
  }

  private node(segs: readonly string[]): Node | null {
    let node: Node | undefined = this.root;
    for (const s of segs) {
      node = node.child(s);
      if (!node) return null;
    }
    return node;
  }

  /** Does any key equal the path of `segs` or lie below it? */
  exists(segs: readonly string[]): boolean {
    const n = this.node(segs);
    return n !== null && n.count > 0;
  }

  /**
   * Looks up a name given as key segments (labels reversed). Wildcard labels
   * (`*`, `any`) match any one segment; keys with fewer segments than the query
   * are not returned, keys with more are. As in SkyDNS (etcd v2), when the key
   * left of the first wildcard is a plain leaf (no children), that leaf is
   * returned unfiltered. With `skipAttrleaf`, a wildcard never matches an
   * underscore segment either (such segments lie below the queried name).
   */
  lookup(segs: readonly string[], opts: LookupOptions = {}): LookupResult {
    const entries: Entry[] = [];
    const exists = this.collect(segs, opts.exact ?? false, opts.skipAttrleaf ?? false, entries);
    return { exists, entries };
  }

  /**
   * collect(segments, false, true, out) for a name as a question carries it,
   * without making its segments or the list: `buf` holds its labels, and
   * `offs[0..n)` the offset of each label's length byte, left to right, its
   * zone's labels included. PROBE_NONE: no key at or below the name
   * (NXDOMAIN); PROBE_EMPTY: none below it but `_`-labelled ones; PROBE_ONE:
   * one entry, left in `probed`; PROBE_MANY: more, or a `*`/`any` label.
   * The query path's direct answers (direct.ts) ask this for every address
   * question: it allocates nothing.
   */
  probe(buf: Uint8Array, offs: Int32Array, n: number): number {
    let node = this.root;
    for (let i = n - 1; i >= 0; i--) {
      const o = offs[i];
      const len = buf[o];
      if (isWildLabel(buf, o + 1, len)) return PROBE_MANY;
      const next = childAt(node, buf, o + 1, len);
      if (next === undefined) return PROBE_NONE;
      node = next;
    }
    if (node.count === 0) return PROBE_NONE;
    this.probed = null;
    if (!node.hasChildren()) {
      this.probed = node.entry;
      return PROBE_ONE;
    }
    const found = this.firstPlain(node, 0);
    return found === 0 ? PROBE_EMPTY : found === 1 ? PROBE_ONE : PROBE_MANY;
  }

  /** The entry probe() found, when it returned PROBE_ONE. */
  probed: Entry | null = null;

  /** gather(node, true, …) counting to two: `found` entries so far; the first one found is left in `probed`. */
  private firstPlain(node: Node, found: number): number {
    if (node.entry !== null) {
      if (found === 0) this.probed = node.entry;
      if (++found > 1) return found;
    }
    const f = node.few;
    if (f !== null) {
      for (let i = 0; i < f.length && found < 2; i += 2) {
        if ((f[i] as string).charCodeAt(0) === 0x5f) continue;
        found = this.firstPlain(f[i + 1] as Node, found);
      }
      return found;
    }
    const m = node.many;
    if (m === null) return found;
    for (const [k, child] of m) {
      if (found >= 2) break;
      if (k.charCodeAt(0) === 0x5f) continue;
      found = this.firstPlain(child, found);
    }
    return found;
  }

  /** Pushes the entries of node's subtree in tree order onto out until it holds `cap`; false once it does. */
  private gather(node: Node, skipAttrleaf: boolean, out: Entry[], cap: number): boolean {
    if (out.length >= cap) return false;
    if (node.entry) out.push(node.entry);
    const f = node.few;
    if (f !== null) {
      for (let i = 0; i < f.length; i += 2) {
        if (skipAttrleaf && (f[i] as string).startsWith('_')) continue;
        if (!this.gather(f[i + 1] as Node, skipAttrleaf, out, cap)) return false;
      }
      return true;
    }
    const m = node.many;
    if (m === null) return true;
    for (const k of node.manyKeys()) {
      if (skipAttrleaf && k.startsWith('_')) continue;
      if (!this.gather(m.get(k)!, skipAttrleaf, out, cap)) return false;
    }
    return true;
  }

  /**
   * lookup() without its result object: pushes the entries onto `out` and
   * returns whether the name exists. The query path's form of it. At most
   * `max` entries are pushed (the first ones in tree order): a question about
   * a name with 30,000 records below it walks only what its reply can carry.
   */
  collect(segs: readonly string[], exact: boolean, skipAttrleaf: boolean, out: Entry[], max = Infinity): boolean {
    let wild = -1;
    for (let i = 0; i < segs.length; i++) {
      if (isWildcard(segs[i])) {
        wild = i;
        break;
      }
    }
    const cap = out.length + max;
    if (wild === -1) {
      const n = this.node(segs);
      if (!n || n.count === 0) return false;
      if (exact) {
        if (n.entry && out.length < cap) out.push(n.entry);
      } else if (!n.hasChildren()) {
        if (out.length < cap) out.push(n.entry!);
      } else this.gather(n, skipAttrleaf, out, cap);
      return true;
    }
    const base = this.node(segs.slice(0, wild));
    if (!base || base.count === 0) return false;
    if (base.entry && !base.hasChildren()) {
      // The GET below the wildcard hit a leaf: SkyDNS returns it without filtering.
      if (out.length < cap) out.push(base.entry);
      return true;
    }
    if (exact) return true;
    const match = (node: Node, i: number): void => {
      if (out.length >= cap) return;
      if (i === segs.length) {
        this.gather(node, skipAttrleaf, out, cap);
        return;
      }
      if (!node.hasChildren()) return;
      if (isWildcard(segs[i])) {
        const f = node.few;
        if (f !== null) {
          for (let j = 0; j < f.length; j += 2) {
            if (skipAttrleaf && (f[j] as string).startsWith('_')) continue;
            match(f[j + 1] as Node, i + 1);
          }
        } else {
          const m = node.many!;
          for (const k of node.manyKeys()) {
            if (skipAttrleaf && k.startsWith('_')) continue;
            match(m.get(k)!, i + 1);
          }
        }
      } else {
        const c = node.child(segs[i]);
        if (c) match(c, i + 1);
      }
    };
    match(base, wild);
    return true;
  }
}
