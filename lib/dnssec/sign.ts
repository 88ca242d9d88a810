/**
 * Online signing of answers (docs/dnssec.md §3.1, 4, 6): one RRSIG per RRset, made
 * on the fly over the RFC 4034 §6 canonical form, with a signature cache in
 * front keyed by the whole canonical content of the set, so round robin and
 * mixed-case questions hit the same entry while any change to the data
 * (bug 9.2/9.3) misses it.
 */
import { CLASS, RCODE, TYPE, lowerName, type RR } from '../skydns/wire.js';
import { canonicalName, canonicalRdata, inZone, rrsigLabels } from './canonical.js';
import { signData, type DnssecKey } from './key.js';
import { nameErrorProof, noDataProof } from './nsec3.js';

export interface SignerOptions {
  /** Absolute, lower case. */
  domain: string;
  /** Config ttl: DNSKEY TTL and RRSIG original TTL (except TXT: own TTL, docs/dnssec.md §4.2). */
  ttl: number;
  /** NSEC3 TTL. */
  minTtl: number;
  /** Signature cache capacity; <= 0: no cache. */
  scache: number;
  /** Unix seconds, for tests (default Date.now()/1000 floored). */
  now?: () => number;
  /** Called once per signature-cache miss (the metric). */
  onMiss?: () => void;
}

/** Signatures are valid from 3 hours back (clock skew) … */
const INCEPTION_BACK = 3 * 3600;
/** … to 7 days ahead (docs/dnssec.md §4.2). */
const VALIDITY = 7 * 24 * 3600;
/** A cached signature is reused while it has more than this left (docs/dnssec.md §6). */
const REUSE_MARGIN = 48 * 3600;

interface CacheEntry {
  /** The whole RRSIG rdata, signature included; copied out on every use. */
  rdata: Buffer;
  /** RRSIG expiration field (32-bit serial). */
  expiration: number;
  /** Position in Signer.keys, for O(1) random eviction. */
  slot: number;
}

function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v & 0xffff, 0);
  return b;
}

/** The canonical rdatas of a set, sorted (RFC 4034 §6.3: as left-justified octet strings) and without duplicates. */
function sortedRdatas(rrs: readonly RR[]): Buffer[] {
  const all = rrs.map(canonicalRdata).sort(Buffer.compare);
  return all.filter((b, i) => i === 0 || !b.equals(all[i - 1]));
}

/**
 * RFC 1982 serial arithmetic: `a − b` as a signed 32-bit distance, so that
 * expiration times keep comparing correctly across the 2106 wrap.
 */
function serialDiff(a: number, b: number): number {
  return ((a >>> 0) - (b >>> 0)) | 0;
}

export class Signer {
  readonly key: DnssecKey;
  private readonly opts: SignerOptions;
  private readonly domain: string;
  private readonly signerWire: Buffer;
  private readonly now: () => number;
  private readonly entries = new Map<string, CacheEntry>();
  /** Cache keys in an array, so that a random one can be evicted in O(1) (docs/dnssec.md §6: random eviction). */
  private readonly keys: string[] = [];

  constructor(key: DnssecKey, opts: SignerOptions) {
    this.key = key;
    this.opts = opts;
    this.domain = lowerName(opts.domain);
    this.signerWire = canonicalName(key.owner);
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Entries in the signature cache (tests). */
  get cached(): number {
    return this.entries.size;
  }

  /** The DNSKEY RR for the apex, owner as given (case as sent), TTL = ttl. */
  dnskey(owner: string): RR {
    return { name: owner, type: TYPE.DNSKEY, class: CLASS.IN, ttl: this.opts.ttl, data: { t: 'raw', bytes: Buffer.from(this.key.rdata) } };
  }

  /**
   * One RRSIG over an RRset (records share owner case-insensitively, type,
   * class). Owner and class of the RRSIG are those of rrs[0] (case as sent),
   * its TTL rrs[0].ttl; fields per docs/dnssec.md §4.2. A cached signature is
   * reused while its expiration is more than 48 h away, copied, with the
   * current set TTL (bug 9.6).
   */
  signSet(rrs: RR[]): RR {
    if (rrs.length === 0) throw new Error('signSet: empty RRset');
    const first = rrs[0];
    const origTtl = first.type === TYPE.TXT ? first.ttl : this.opts.ttl;
    const ownerWire = canonicalName(first.name);
    const rdatas = sortedRdatas(rrs);
    const now = this.now();
    const useCache = this.opts.scache > 0;
    const cacheKey = useCache ? this.cacheKey(ownerWire, first.type, first.class, origTtl, rdatas) : '';
    let rdata: Buffer | null = null;
    if (useCache) {
      const hit = this.entries.get(cacheKey);
      if (hit && serialDiff(hit.expiration, now) > REUSE_MARGIN) rdata = hit.rdata;
      else if (hit) this.remove(cacheKey, hit);
    }
    if (rdata === null) {
      this.opts.onMiss?.();
      const expiration = (now + VALIDITY) >>> 0;
      rdata = this.makeRrsigRdata(first, ownerWire, origTtl, rdatas, (now - INCEPTION_BACK) >>> 0, expiration);
      if (useCache) this.insert(cacheKey, rdata, expiration);
    }
    return { name: first.name, type: TYPE.RRSIG, class: first.class, ttl: first.ttl, data: { t: 'raw', bytes: Buffer.from(rdata) } };
  }

  /**
   * The cache key: the complete canonical content of the set — owner, type,
   * class, original TTL and every rdata (sorted, length-prefixed so that no
   * two sets share a key). A one-byte string per byte keeps it compact in V8.
   */
  private cacheKey(ownerWire: Buffer, type: number, cls: number, origTtl: number, rdatas: Buffer[]): string {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(cls, 2);
    head.writeUInt32BE(origTtl >>> 0, 4);
    const parts: Buffer[] = [ownerWire, head];
    for (const r of rdatas) parts.push(u16(r.length), r);
    return Buffer.concat(parts).toString('latin1');
  }

  /** The RRSIG rdata: the fixed fields and signer (RFC 4034 §3.1), then the signature over them and the canonical set (§3.1.8.1). */
  private makeRrsigRdata(first: RR, ownerWire: Buffer, origTtl: number, rdatas: Buffer[], inception: number, expiration: number): Buffer {
    const fixed = Buffer.allocUnsafe(18);
    fixed.writeUInt16BE(first.type, 0);
    fixed[2] = this.key.algorithm;
    fixed[3] = rrsigLabels(first.name);
    fixed.writeUInt32BE(origTtl >>> 0, 4);
    fixed.writeUInt32BE(expiration, 8);
    fixed.writeUInt32BE(inception, 12);
    fixed.writeUInt16BE(this.key.keyTag, 16);
    const head = Buffer.concat([fixed, this.signerWire]);
    // Every record: owner, type, class, original TTL, rdlength, rdata — the owner, type and class shared.
    const rrHead = Buffer.allocUnsafe(8);
    rrHead.writeUInt16BE(first.type, 0);
    rrHead.writeUInt16BE(first.class, 2);
    rrHead.writeUInt32BE(origTtl >>> 0, 4);
    const parts: Buffer[] = [head];
    for (const r of rdatas) parts.push(ownerWire, rrHead, u16(r.length), r);
    const signature = signData(this.key.algorithm, this.key.privateKey, Buffer.concat(parts));
    return Buffer.concat([head, signature]);
  }

  /** Adds an entry, first evicting a random one when the cache is full. */
  private insert(key: string, rdata: Buffer, expiration: number): void {
    if (this.entries.size >= this.opts.scache && this.keys.length > 0) {
      const victim = this.keys[Math.floor(Math.random() * this.keys.length)];
      this.remove(victim, this.entries.get(victim)!);
    }
    this.entries.set(key, { rdata, expiration, slot: this.keys.length });
    this.keys.push(key);
  }

  /** Drops an entry: the last key takes its slot. */
  private remove(key: string, e: CacheEntry): void {
    this.entries.delete(key);
    const last = this.keys.pop()!;
    if (last !== key) {
      this.keys[e.slot] = last;
      this.entries.get(last)!.slot = e.slot;
    }
  }

  /**
   * Whether a record's set is signed here: in the zone (issue #40 stays
   * fixed), class IN (CHAOS answers are not signed, bug 9.9), and not an
   * RRSIG or OPT itself.
   */
  private signable(rr: RR): boolean {
    return rr.type !== TYPE.RRSIG && rr.type !== TYPE.OPT && rr.class === CLASS.IN && inZone(rr.name, this.domain);
  }

  /**
   * Signs every RRset of a section whose owner is at or below the domain:
   * returns a new array in which each such RRset is followed by its RRSIG
   * (records of a set grouped together at the place of their first
   * appearance). Existing RRSIGs, OPT, non-IN records and out-of-zone records
   * are passed through unsigned, each where it stood.
   */
  signSection(rrs: readonly RR[]): RR[] {
    type Item = { set: RR[] } | { pass: RR };
    const items: Item[] = [];
    const sets = new Map<string, RR[]>();
    for (const rr of rrs) {
      if (!this.signable(rr)) {
        items.push({ pass: rr });
        continue;
      }
      const k = `${lowerName(rr.name)}\0${rr.type}`;
      const set = sets.get(k);
      if (set) set.push(rr);
      else {
        const s = [rr];
        sets.set(k, s);
        items.push({ set: s });
      }
    }
    const out: RR[] = [];
    for (const it of items) {
      if ('pass' in it) out.push(it.pass);
      else out.push(...it.set, this.signSet(it.set));
    }
    return out;
  }

  /**
   * docs/dnssec.md §3.1 steps 3–4 for an authoritative answer to (qname, qtype):
   * adds denial records (NXDOMAIN: nameErrorProof; NODATA = rcode 0, empty
   * answer, authority exactly one SOA: noDataProof) to the authority section
   * after the SOA, then signs all three sections. Returns new arrays; inputs
   * untouched. Does not set AD or OPT (the caller does). No denial for a
   * qname outside the domain; NXDOMAIN for the apex itself is the caller's to
   * avoid (bug 9.8: answer NODATA there).
   */
  signAnswer(a: { rcode: number; answer: readonly RR[]; authority: readonly RR[]; additional: readonly RR[] }, qname: string, qtype: number): { answer: RR[]; authority: RR[]; additional: RR[] } {
    const authority = [...a.authority];
    if (inZone(qname, this.domain)) {
      if (a.rcode === RCODE.NXDOMAIN) {
        const soaAt = authority.findIndex((rr) => rr.type === TYPE.SOA);
        authority.splice(soaAt === -1 ? authority.length : soaAt + 1, 0, ...nameErrorProof(qname, this.domain, this.opts.minTtl));
      } else if (a.rcode === RCODE.NOERROR && a.answer.length === 0 && authority.length === 1 && authority[0].type === TYPE.SOA) {
        authority.push(...noDataProof(qname, qtype, this.domain, this.opts.minTtl));
      }
    }
    return { answer: this.signSection(a.answer), authority: this.signSection(authority), additional: this.signSection(a.additional) };
  }
}
