/**
 * The canonical form of names and record data that signatures are computed
 * over (RFC 4034 §6.2): names uncompressed and lower-cased (ASCII letters
 * only), inside the record data too for the types whose data holds names.
 * The signer, the signature-cache key and the NSEC3 hashes all use it, so an
 * answer signs the same whatever case the question came in.
 */
import { lowerName, nameToLabels, type RR } from '../skydns/wire.js';

/** ASCII-only lower-casing of one wire label (DNS case folding leaves other bytes alone). */
function lowerLabel(l: Buffer): Buffer {
  const out = Buffer.from(l);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x41 && out[i] <= 0x5a) out[i] |= 0x20;
  return out;
}

/**
 * Wire form of a name, uncompressed, lower-cased (RFC 4034 §6.2). Handles
 * '\\.' and '\\DDD' escapes as wire.ts writes names. Labels are parsed by
 * wire.ts's nameToLabels so that the bytes signed are the bytes sent.
 */
export function canonicalName(name: string): Buffer {
  const labels = nameToLabels(name);
  let len = 1;
  for (const l of labels) len += 1 + l.length;
  const out = Buffer.allocUnsafe(len);
  let p = 0;
  for (const l of labels) {
    out[p++] = l.length;
    p += lowerLabel(l).copy(out, p);
  }
  out[p] = 0;
  return out;
}

function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v & 0xffff, 0);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/**
 * Canonical (RFC 4034 §6.2) rdata of an RR: names inside NS, CNAME, SOA, PTR,
 * MX, SRV lower-cased, uncompressed. 'raw' rdata as is: the records this
 * library makes in raw form (DNSKEY, NSEC3, RRSIG) already hold their names
 * in canonical form, and types wire.ts does not decode hold no names it could know of.
 */
export function canonicalRdata(rr: RR): Buffer {
  const d = rr.data;
  switch (d.t) {
    case 'ip':
      return Buffer.from(d.octets, 'latin1');
    case 'name':
      return canonicalName(d.name);
    case 'srv':
      return Buffer.concat([u16(d.priority), u16(d.weight), u16(d.port), canonicalName(d.target)]);
    case 'mx':
      return Buffer.concat([u16(d.preference), canonicalName(d.exchange)]);
    case 'txt': {
      const parts: Buffer[] = [];
      for (const s of d.strings) parts.push(Buffer.from([s.length & 0xff]), s);
      return Buffer.concat(parts);
    }
    case 'soa':
      return Buffer.concat([
        canonicalName(d.mname),
        canonicalName(d.rname),
        u32(d.serial),
        u32(d.refresh),
        u32(d.retry),
        u32(d.expire),
        u32(d.minimum),
      ]);
    case 'raw':
      return Buffer.from(d.bytes);
  }
}

/**
 * Number of labels for the RRSIG labels field: label count, not counting a
 * leading '*' label (RFC 4034 §3.1.3), so that a validator can tell the
 * answer was synthesised from a wildcard. The root has 0 labels.
 */
export function rrsigLabels(owner: string): number {
  const labels = nameToLabels(owner);
  if (labels.length > 0 && labels[0].length === 1 && labels[0][0] === 0x2a) return labels.length - 1;
  return labels.length;
}

/** Whether `name` is `zone` or below it, label by label (so `a\.cluster.local.` is not in `cluster.local.`). */
export function inZone(name: string, zone: string): boolean {
  const n = lowerName(name);
  const z = lowerName(zone);
  if (z === '.' || z === '') return true;
  if (n.indexOf('\\') === -1 && z.indexOf('\\') === -1) return n === z || n.endsWith('.' + z);
  const nw = canonicalName(n);
  const zw = canonicalName(z);
  if (zw.length > nw.length) return false;
  // Walk the labels of the name to a label boundary at the zone's length from the end.
  let p = 0;
  while (nw.length - p > zw.length) p += nw[p] + 1;
  return nw.length - p === zw.length && nw.subarray(p).equals(zw);
}
