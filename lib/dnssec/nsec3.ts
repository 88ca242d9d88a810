/**
 * NSEC3 "white lies" (RFC 7129 appendix B, docs/dnssec.md §5): SkyDNS cannot list
 * its names in hash order, so each negative answer gets NSEC3 records made up
 * on the spot whose hash ranges are just wide enough (hash − 1 … hash + 1) to
 * cover or match the names the proof needs. Parameters are fixed: SHA-1, no
 * opt-out, 0 extra iterations, empty salt (what RFC 9276 recommends).
 */
import { createHash } from 'node:crypto';
import { CLASS, TYPE, lowerName, type RR } from '../skydns/wire.js';
import { canonicalName } from './canonical.js';

/** NSEC3 hash algorithm 1 = SHA-1 (RFC 5155 §11). */
const HASH_SHA1 = 1;
const HASH_LEN = 20;

/** SHA-1 of a name already in canonical wire form, with no salt and no extra iterations. */
function hashWire(wire: Buffer): Buffer {
  return createHash('sha1').update(wire).digest();
}

/**
 * SHA-1 NSEC3 hash of a name (RFC 5155 §5): lower-cased wire form, 0 extra
 * iterations, empty salt. 20 bytes. With no salt and no iterations
 * IH(salt, x, 0) is simply H(x).
 */
export function nsec3Hash(name: string): Buffer {
  return hashWire(canonicalName(name));
}

const B32HEX = '0123456789abcdefghijklmnopqrstuv';

/** RFC 4648 base32hex, no padding, lower case: the form NSEC3 owner labels take (RFC 5155 §3.3). */
export function base32hex(b: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of b) {
    acc = ((acc << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32HEX[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += B32HEX[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * The 20-byte hash plus or minus one as a big-endian number. Wraps around
 * modulo 2^160: all-ones + 1 is all-zeros and all-zeros − 1 is all-ones.
 * That is what the circular NSEC3 chain means (RFC 5155 §8.3: the last
 * record's next hash is the first, and a record whose owner sorts after its
 * next covers the wrap), so a white lie around either end still covers its
 * hash. SkyDNS left this case undefined; it happens with probability 2^-159.
 */
export function hashAdd(h: Buffer, delta: 1 | -1): Buffer {
  const out = Buffer.from(h);
  for (let i = out.length - 1; i >= 0; i--) {
    if (delta === 1) {
      if (out[i] === 0xff) out[i] = 0x00;
      else {
        out[i]++;
        break;
      }
    } else if (out[i] === 0x00) out[i] = 0xff;
    else {
      out[i]--;
      break;
    }
  }
  return out;
}

/**
 * The type bit maps field (RFC 4034 §4.1.2, reused by RFC 5155 §3.2.1):
 * one block per 256-type window in use, each holding only the bytes up to
 * the last one with a bit set. No types gives an empty field.
 */
export function typeBitmap(types: readonly number[]): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let i = 0;
  while (i < sorted.length) {
    const win = sorted[i] >> 8;
    const bits = Buffer.alloc(32);
    let last = 0;
    for (; i < sorted.length && sorted[i] >> 8 === win; i++) {
      const low = sorted[i] & 0xff;
      bits[low >> 3] |= 0x80 >> (low & 7);
      last = low >> 3;
    }
    parts.push(Buffer.from([win, last + 1]), bits.subarray(0, last + 1));
  }
  return Buffer.concat(parts);
}

/** NSEC3 rdata: SHA-1, flags 0, 0 iterations, no salt, the next hashed owner, and the bitmap. */
function nsec3Rdata(next: Buffer, types: readonly number[]): Buffer {
  const head = Buffer.from([HASH_SHA1, 0, 0, 0, 0, HASH_LEN]);
  return Buffer.concat([head, next, typeBitmap(types)]);
}

/** One NSEC3 record: owner '<b32hex of ownerHash>.<domain>', lower case. */
function nsec3(ownerHash: Buffer, next: Buffer, types: readonly number[], domain: string, ttl: number): RR {
  const zone = lowerName(domain);
  const name = base32hex(ownerHash) + (zone === '.' ? '.' : '.' + zone);
  return { name, type: TYPE.NSEC3, class: CLASS.IN, ttl, data: { t: 'raw', bytes: nsec3Rdata(next, types) } };
}

/** The types every name of the zone is claimed to have in an NSEC3 that matches it (docs/dnssec.md §5.1). */
const NAME_TYPES: readonly number[] = [TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.RRSIG];

/**
 * The NSEC3 records proving NXDOMAIN for qname (docs/dnssec.md §5.1, RFC 5155
 * §7.2.2): the closest encloser is assumed to be qname minus its first label
 * (no look-up), so the next closer name is qname itself. Three records, in
 * this order: the encloser's match, the cover of its wildcard, the cover of
 * qname. TTL minTtl, class IN, owners '<b32hex>.<domain>' lower case.
 */
export function nameErrorProof(qname: string, domain: string, minTtl: number): RR[] {
  const qWire = canonicalName(qname);
  // Cut the first label off in wire form, so escaped dots inside it are no trouble.
  const ceWire = qWire.length > 1 ? qWire.subarray(qWire[0] + 1) : qWire;
  const ce = hashWire(ceWire);
  const wild = hashWire(Buffer.concat([Buffer.from([1, 0x2a]), ceWire]));
  const q = hashWire(qWire);
  return [
    nsec3(ce, hashAdd(ce, 1), NAME_TYPES, domain, minTtl),
    nsec3(hashAdd(wild, -1), hashAdd(wild, 1), [], domain, minTtl),
    nsec3(hashAdd(q, -1), hashAdd(q, 1), [], domain, minTtl),
  ];
}

/**
 * The one NSEC3 proving NODATA for qname/qtype (docs/dnssec.md §5.2 with bug 9.1
 * fixed): it matches qname and claims A AAAA SRV RRSIG minus the queried
 * type, so the proof holds whichever of those was asked. For DS the bitmap
 * must also lack NS and SOA (RFC 5155 §8.6), which it never holds. RRSIG is
 * always present: every name with data is signed.
 */
export function noDataProof(qname: string, qtype: number, domain: string, minTtl: number): RR[] {
  const h = nsec3Hash(qname);
  const drop = new Set<number>([qtype]);
  if (qtype === TYPE.DS) {
    drop.add(TYPE.NS);
    drop.add(TYPE.SOA);
  }
  drop.delete(TYPE.RRSIG);
  const types = NAME_TYPES.filter((t) => !drop.has(t));
  return [nsec3(h, hashAdd(h, 1), types, domain, minTtl)];
}
