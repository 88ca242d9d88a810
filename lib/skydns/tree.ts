/**
 * The in-memory mirror of the etcd record subtree: one node per key segment
 * below `/<prefix>/`, each node optionally holding the decoded value of the key
 * that ends there. Lookups follow SkyDNS's etcd v2 semantics over v3 keys:
 * a name exists iff some key equals its path or lies below `path + "/"`.
 */
import { decodeService, Service, ServiceDecodeError } from '../msg/service.js';

export interface Entry {
  key: string;
  raw: string;
  /** Decoded value, or null when the value is not a valid record. */
  svc: Service | null;
  /** Why the value could not be decoded. */
  error: string | null;
  /** etcd lease ID as a decimal string; '0' when the key has no lease. */
  lease: string;
}

class Node {
  children: Map<string, Node> | null = null;
  sorted: string[] | null = null;
  entry: Entry | null = null;
  /** Entries in this subtree, this node included. */
  count = 0;

  childKeys(): string[] {
    if (!this.children) return [];
    if (!this.sorted) this.sorted = [...this.children.keys()].sort();
    return this.sorted;
  }
}

export interface LookupOptions {
  /** Only the key itself (SkyDNS `exact`, used for CNAME queries). */
  exact?: boolean;
  /**
   * Leave out leaves that lie below an underscore label under the queried
   * node (RFC 8552 attribute leaves such as `_tcp/_http`); see design decision 6.
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

export class RecordTree {
  private root = new Node();
  /** Incremented on every change; answer caches compare it. */
  generation = 0;
  /** Keys whose value is not a valid record. */
  invalid = 0;

  constructor(readonly prefix = 'skydns') {}

  get size(): number {
    return this.root.count;
  }

  /** Segments of a key below `/<prefix>/`, or null for keys outside the prefix. */
  segments(key: string): string[] | null {
    const head = `/${this.prefix}/`;
    if (!key.startsWith(head)) return null;
    return key.slice(head.length).split('/');
  }

  /** Inserts or replaces a key. Returns the entry (its `error` says if the value is bad). */
  put(key: string, raw: string, lease = '0'): Entry | null {
    const segs = this.segments(key);
    if (!segs) return null;
    let svc: Service | null = null;
    let error: string | null = null;
    try {
      svc = decodeService(raw, key);
    } catch (err) {
      error = err instanceof ServiceDecodeError ? err.message : `bad record at ${key}: ${String(err)}`;
    }
    const entry: Entry = { key, raw, svc, error, lease };
    const path: Node[] = [this.root];
    let node = this.root;
    for (const s of segs) {
      if (!node.children) node.children = new Map();
      let next = node.children.get(s);
      if (!next) {
        next = new Node();
        node.children.set(s, next);
        node.sorted = null;
      }
      node = next;
      path.push(node);
    }
    const old = node.entry;
    node.entry = entry;
    if (!old) for (const n of path) n.count++;
    if (old && old.error) this.invalid--;
    if (error) this.invalid++;
    this.generation++;
    return entry;
  }

  /** Removes a key; returns true if it existed. Empty branches are pruned. */
  delete(key: string): boolean {
    const segs = this.segments(key);
    if (!segs) return false;
    const path: Node[] = [this.root];
    let node = this.root;
    for (const s of segs) {
      const next = node.children?.get(s);
      if (!next) return false;
      node = next;
      path.push(node);
    }
    const old = node.entry;
    if (!old) return false;
    node.entry = null;
    if (old.error) this.invalid--;
    for (const n of path) n.count--;
    for (let i = path.length - 1; i > 0; i--) {
      if (path[i].count > 0) break;
      const parent = path[i - 1];
      parent.children!.delete(segs[i - 1]);
      parent.sorted = null;
      if (parent.children!.size === 0) parent.children = null;
    }
    this.generation++;
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
  }

  /** Every key currently held, in tree order. */
  keys(): string[] {
    const out: string[] = [];
    this.walk(this.root, false, (e) => out.push(e.key));
    return out;
  }

  private node(segs: readonly string[]): Node | null {
    let node: Node | undefined = this.root;
    for (const s of segs) {
      node = node.children?.get(s);
      if (!node) return null;
    }
    return node;
  }

  private walk(node: Node, skipAttrleaf: boolean, visit: (e: Entry) => void): void {
    if (node.entry) visit(node.entry);
    if (!node.children) return;
    for (const k of node.childKeys()) {
      if (skipAttrleaf && k.startsWith('_')) continue;
      this.walk(node.children.get(k)!, skipAttrleaf, visit);
    }
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
    const visit = (e: Entry) => entries.push(e);
    const wild = segs.findIndex(isWildcard);
    if (wild === -1) {
      const n = this.node(segs);
      if (!n || n.count === 0) return { exists: false, entries };
      if (opts.exact) {
        if (n.entry) entries.push(n.entry);
      } else this.walk(n, opts.skipAttrleaf ?? false, visit);
      return { exists: true, entries };
    }
    const base = this.node(segs.slice(0, wild));
    if (!base || base.count === 0) return { exists: false, entries };
    if (base.entry && !base.children) {
      // The GET below the wildcard hit a leaf: SkyDNS returns it without filtering.
      entries.push(base.entry);
      return { exists: true, entries };
    }
    if (opts.exact) return { exists: true, entries };
    const match = (node: Node, i: number): void => {
      if (i === segs.length) {
        this.walk(node, opts.skipAttrleaf ?? false, visit);
        return;
      }
      if (!node.children) return;
      if (isWildcard(segs[i])) {
        for (const k of node.childKeys()) {
          if (opts.skipAttrleaf && k.startsWith('_')) continue;
          match(node.children.get(k)!, i + 1);
        }
      } else {
        const c = node.children.get(segs[i]);
        if (c) match(c, i + 1);
      }
    };
    match(base, wild);
    return { exists: true, entries };
  }
}
