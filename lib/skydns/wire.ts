/**
 * DNS wire format: a strict query/message decoder and a compressing encoder
 * with size fitting. Written for this server: no dependency, no allocation of
 * per-label objects on the fast path beyond what a message needs.
 */
import { inZone } from '../msg/path.js';

export const TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28,
  SRV: 33, OPT: 41, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, IXFR: 251, AXFR: 252, ANY: 255,
} as const;
export const CLASS = { IN: 1, CH: 3, NONE: 254, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const OPCODE_QUERY = 0;

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));
export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}

export class WireError extends Error {
  constructor(message: string, readonly id: number | null) {
    super(message);
    this.name = 'WireError';
  }
}

export interface EdnsOption {
  code: number;
  data: Buffer;
}
export interface Edns {
  udpSize: number;
  extRcode: number;
  version: number;
  do: boolean;
  options: readonly EdnsOption[];
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface Question {
  /** Presentation form, case preserved, fully qualified. */
  name: string;
  type: number;
  class: number;
}

export type RData =
  /** An A or AAAA address: its 4 or 16 bytes, one character each (ipOctets, octetsText in msg/path.ts). */
  | { t: 'ip'; octets: string }
  | { t: 'name'; name: string }
  | { t: 'srv'; priority: number; weight: number; port: number; target: string }
  | { t: 'mx'; preference: number; exchange: string }
  | { t: 'txt'; strings: Buffer[] }
  | { t: 'soa'; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { t: 'raw'; bytes: Buffer };

export interface RR {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

export interface Message {
  header: Header;
  question: Question[];
  answer: RR[];
  authority: RR[];
  additional: RR[];
  edns: Edns | null;
}

/** A message as the encoder reads it: its sections are only read (an answer's shared arrays may be passed). */
export interface OutMessage extends Omit<Message, 'answer' | 'authority' | 'additional'> {
  answer: readonly RR[];
  authority: readonly RR[];
  additional: readonly RR[];
}

/** A parsed query: the fields the server needs, plus raw bytes to echo. */
export interface Query {
  /** The header as fields (parseQuery's makes it when first read: the query path reads `id` and `flags`). */
  readonly header: Header;
  /** The query's ID. */
  id: number;
  /** The raw 16-bit flags word. */
  flags: number;
  qname: string;
  qnameLower: string;
  qtype: number;
  qclass: number;
  /** Offset where the question section ends. */
  questionEnd: number;
  /** The question name is written out in full (no compression pointer) at offset 12. */
  plainName: boolean;
  edns: Edns | null;
  /** The whole query as received. */
  raw: Buffer;
}

// ---------------------------------------------------------------- names

function escapeLabel(buf: Buffer, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len; i++) {
    const c = buf[i];
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c <= 0x20 || c >= 0x7f) s += '\\' + c.toString().padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s;
}

/** Reads a possibly compressed name at `off`; returns the name and the offset after it in the original stream. */
export function readName(buf: Buffer, off: number, id: number | null = null): { name: string; next: number; compressed: boolean } {
  let name = '';
  let pos = off;
  let next = -1;
  let hops = 0;
  let wireLen = 1;
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end of the message', id);
    const len = buf[pos];
    if (len === 0) {
      if (next === -1) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('truncated compression pointer', id);
      const ptr = ((len & 0x3f) << 8) | buf[pos + 1];
      if (next === -1) next = pos + 2;
      if (ptr >= pos || ++hops > 64) throw new WireError('bad compression pointer', id);
      pos = ptr;
      continue;
    }
    if (kind !== 0) throw new WireError(`unsupported label type 0x${kind.toString(16)}`, id);
    if (pos + 1 + len > buf.length) throw new WireError('label runs past the end of the message', id);
    wireLen += len + 1;
    if (wireLen > 255) throw new WireError('name longer than 255 bytes', id);
    name += escapeLabel(buf, pos + 1, len) + '.';
    pos += 1 + len;
  }
  return { name: name === '' ? '.' : name, next, compressed: hops > 0 };
}

/**
 * Lower-cases ASCII letters only (DNS case folding). A name without capitals
 * comes back as it is: String#toLowerCase makes a new string every time,
 * and the query path folds every question name.
 */
export function lowerName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return name.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return name;
}

/** Splits a presentation-format name into wire labels. */
export function nameToLabels(name: string): Buffer[] {
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x5c && i + 1 < name.length) {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        cur.push(Number(d) & 0xff);
        i += 3;
      } else {
        cur.push(name.charCodeAt(i + 1) & 0xff);
        i += 1;
      }
    } else if (ch === 0x2e) {
      if (cur.length) labels.push(Buffer.from(cur));
      cur = [];
    } else if (ch < 0x80) cur.push(ch);
    else {
      // Whole code points, so that a character outside the BMP becomes its 4 UTF-8 bytes.
      const cp = String.fromCodePoint(name.codePointAt(i) ?? ch);
      for (const b of Buffer.from(cp, 'utf8')) cur.push(b);
      i += cp.length - 1;
    }
  }
  if (cur.length) labels.push(Buffer.from(cur));
  return labels;
}

// ---------------------------------------------------------------- decoding

function readHeader(buf: Buffer): Header {
  return headerOf(buf.readUInt16BE(0), buf.readUInt16BE(2));
}

/** A header's fields from its ID and flags word. */
function headerOf(id: number, f: number): Header {
  return {
    id,
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
  };
}

interface RawRR {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdOff: number;
  rdLen: number;
  next: number;
}

function readRawRR(buf: Buffer, off: number, id: number): RawRR {
  const { name, next } = readName(buf, off, id);
  if (next + 10 > buf.length) throw new WireError('record header runs past the end of the message', id);
  const type = buf.readUInt16BE(next);
  const cls = buf.readUInt16BE(next + 2);
  const ttl = buf.readUInt32BE(next + 4);
  const rdLen = buf.readUInt16BE(next + 8);
  const rdOff = next + 10;
  if (rdOff + rdLen > buf.length) throw new WireError('record data runs past the end of the message', id);
  return { name, type, class: cls, ttl, rdOff, rdLen, next: rdOff + rdLen };
}

/** The options of an OPT record without any (nearly every query's): shared, never written to. */
const NO_OPTIONS: readonly EdnsOption[] = Object.freeze([]);

function ednsFromRaw(buf: Buffer, rr: RawRR, id: number): Edns {
  if (rr.name !== '.') throw new WireError('OPT record with a non-root owner', id);
  return ednsAt(buf, rr.class, rr.ttl, rr.rdOff, rr.rdLen, id);
}

/** The EDNS0 parameters of an OPT record: its CLASS (payload size), TTL field and record data. */
function ednsAt(buf: Buffer, cls: number, ttl: number, rdOff: number, rdLen: number, id: number): Edns {
  let options = NO_OPTIONS;
  if (rdLen !== 0) {
    const list: EdnsOption[] = [];
    let p = rdOff;
    const end = rdOff + rdLen;
    while (p < end) {
      if (p + 4 > end) throw new WireError('truncated EDNS0 option', id);
      const code = buf.readUInt16BE(p);
      const len = buf.readUInt16BE(p + 2);
      if (p + 4 + len > end) throw new WireError('EDNS0 option runs past its record', id);
      list.push({ code, data: Buffer.from(buf.subarray(p + 4, p + 4 + len)) });
      p += 4 + len;
    }
    options = list;
  }
  return {
    udpSize: cls,
    extRcode: ttl >>> 24,
    version: (ttl >>> 16) & 0xff,
    do: (ttl & 0x8000) !== 0,
    options,
  };
}

/**
 * dst[at..] = src[from, to). Buffer#copy with an offset builds a Uint8Array
 * view per call (Node 20's lib/buffer.js), and on the cached path those views
 * were most of the garbage (and on the uncached path two of them per query), so of the young-generation collections whose
 * pauses made the latency tail; a plain loop allocates nothing and, for
 * replies of ~100 bytes, costs about what the view did.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  let i = from;
  for (; i + 4 <= to; i += 4, at += 4) {
    dst[at] = src[i];
    dst[at + 1] = src[i + 1];
    dst[at + 2] = src[i + 2];
    dst[at + 3] = src[i + 3];
  }
  for (; i < to; i++) dst[at++] = src[i];
}

/** 1 for the bytes a plain label may hold (readPlainName, direct.ts): printable ASCII but for the dot and the backslash. */
export const PLAIN_BYTE = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) if (c !== 0x2e && c !== 0x5c) PLAIN_BYTE[c] = 1;

/**
 * Whether a request's header is a plain query's: QR clear, opcode QUERY, one
 * question, no answer or authority records, at most one additional (an OPT);
 * at least 17 bytes (a header, the root name, type and class). The answer
 * cache's lookup and the direct answers take only such requests.
 */
export function isPlainQueryHeader(raw: Uint8Array): boolean {
  return raw.length >= 17 && (raw[2] & 0xf8) === 0 && raw[4] === 0 && raw[5] === 1 && raw[6] === 0 && raw[7] === 0 && raw[8] === 0 && raw[9] === 0 && raw[10] === 0 && raw[11] <= 1;
}

/** Whether `s` is the label of `len` bytes at buf[at..] with its ASCII capitals folded (s itself as it is). */
export function isFoldedLabel(s: string, buf: Uint8Array, at: number, len: number): boolean {
  if (s.length !== len) return false;
  for (let j = 0; j < len; j++) {
    let c = buf[at + j];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (s.charCodeAt(j) !== c) return false;
  }
  return true;
}

/** The flags word of a reply to a query with flags `q`: QR; opcode, RD and CD as asked; AA, RA, AD and the rcode as given. */
export function replyFlags(q: number, aa: boolean, ra: boolean, ad: boolean, rcode: number): number {
  return 0x8000 | (q & 0x7910) | (aa ? 0x0400 : 0) | (ra ? 0x0080 : 0) | (ad ? 0x0020 : 0) | (rcode & 0xf);
}

/** Writes an A or AAAA record owned by the question name (a pointer to offset 12) at b[p..]; returns its end. */
export function writeAddressRR(b: Uint8Array, p: number, type: number, cls: number, ttl: number, octets: string): number {
  b[p] = 0xc0;
  b[p + 1] = 12;
  b[p + 2] = type >> 8;
  b[p + 3] = type & 0xff;
  b[p + 4] = cls >> 8;
  b[p + 5] = cls & 0xff;
  b[p + 6] = ttl >>> 24;
  b[p + 7] = (ttl >>> 16) & 0xff;
  b[p + 8] = (ttl >>> 8) & 0xff;
  b[p + 9] = ttl & 0xff;
  b[p + 10] = 0;
  b[p + 11] = octets.length;
  for (let k = 0; k < octets.length; k++) b[p + 12 + k] = octets.charCodeAt(k);
  return p + 12 + octets.length;
}

/** Writes an OPT record without options (payload size `udp`, TTL field `ttl`) at b[p..]; returns its end. */
export function writeOptRR(b: Uint8Array, p: number, udp: number, ttl: number): number {
  b[p] = 0;
  b[p + 1] = TYPE.OPT >> 8;
  b[p + 2] = TYPE.OPT & 0xff;
  b[p + 3] = (udp >> 8) & 0xff;
  b[p + 4] = udp & 0xff;
  b[p + 5] = ttl >>> 24;
  b[p + 6] = (ttl >>> 16) & 0xff;
  b[p + 7] = (ttl >>> 8) & 0xff;
  b[p + 8] = ttl & 0xff;
  b[p + 9] = 0;
  b[p + 10] = 0;
  return p + 11;
}

/** Where the bytes of a name read by readPlainName are assembled (a name is at most 255 bytes). */
const nameScratch = Buffer.allocUnsafe(256);

/**
 * The name at `off` when it is written out in full and every label is plain
 * printable ASCII without dots or backslashes (every name a resolver sends for
 * a cluster service), else null. One string is made, from one copy of the
 * bytes; readName's general path builds it a character at a time.
 */
function readPlainName(buf: Buffer, off: number): string | null {
  const n = buf.length;
  let p = off;
  for (;;) {
    if (p >= n) return null;
    const len = buf[p];
    if (len === 0) break;
    if (len > 63 || p + 1 + len > n) return null;
    for (let i = p + 1; i <= p + len; i++) if (PLAIN_BYTE[buf[i]] === 0) return null;
    p += len + 1;
  }
  const wire = p - off + 1;
  if (wire > 255) return null;
  if (wire === 1) return '.';
  copyBytes(buf, off + 1, p + 1, nameScratch, 0);
  // Label lengths become dots (and the final zero length the trailing dot).
  for (let q = off; q < p; q += buf[q] + 1) nameScratch[q + buf[q] - off] = 0x2e;
  return nameScratch.toString('latin1', 0, wire - 1);
}

/**
 * Parses a query strictly. Throws WireError (with the ID when the header was
 * readable) for anything a server should answer with FORMERR or drop.
 */
export function parseQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new WireError(`message of ${buf.length} bytes is shorter than a DNS header`, null);
  const id = buf.readUInt16BE(0);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  if (qd !== 1) throw new WireError(`QDCOUNT is ${qd}, want 1`, id);
  let name = readPlainName(buf, 12);
  let next: number;
  let plainName: boolean;
  if (name !== null) {
    next = 12 + (name === '.' ? 1 : name.length + 1);
    plainName = true;
  } else {
    const r = readName(buf, 12, id);
    name = r.name;
    next = r.next;
    plainName = !r.compressed;
  }
  if (next + 4 > buf.length) throw new WireError('question runs past the end of the message', id);
  const qtype = buf.readUInt16BE(next);
  const qclass = buf.readUInt16BE(next + 2);
  const questionEnd = next + 4;
  let off = questionEnd;
  for (let i = 0; i < an + ns; i++) off = readRawRR(buf, off, id).next;
  let edns: Edns | null = null;
  for (let i = 0; i < ar; i++) {
    if (off < buf.length && buf[off] === 0) {
      // A record owned by the root (the OPT record an EDNS query carries), read in place:
      // as readRawRR reads it, without its objects.
      if (off + 11 > buf.length) throw new WireError('record header runs past the end of the message', id);
      const rdOff = off + 11;
      const rdLen = buf.readUInt16BE(off + 9);
      if (rdOff + rdLen > buf.length) throw new WireError('record data runs past the end of the message', id);
      if (buf.readUInt16BE(off + 1) === TYPE.OPT) {
        if (edns) throw new WireError('more than one OPT record', id);
        edns = ednsAt(buf, buf.readUInt16BE(off + 3), buf.readUInt32BE(off + 5), rdOff, rdLen, id);
      }
      off = rdOff + rdLen;
      continue;
    }
    const rr = readRawRR(buf, off, id);
    off = rr.next;
    if (rr.type === TYPE.OPT) {
      if (edns) throw new WireError('more than one OPT record', id);
      edns = ednsFromRaw(buf, rr, id);
    }
  }
  return new ParsedQuery(id, buf.readUInt16BE(2), name, lowerName(name), qtype, qclass, questionEnd, plainName, edns, buf);
}

/** parseQuery's Query: its header object is made from the flags word when first read, not for every query. */
class ParsedQuery implements Query {
  private fields: Header | null = null;

  constructor(
    public id: number,
    public flags: number,
    public qname: string,
    public qnameLower: string,
    public qtype: number,
    public qclass: number,
    public questionEnd: number,
    public plainName: boolean,
    public edns: Edns | null,
    public raw: Buffer,
  ) {}

  get header(): Header {
    return (this.fields ??= headerOf(this.id, this.flags));
  }
}

function decodeRData(buf: Buffer, rr: RawRR, id: number): RData {
  const o = rr.rdOff;
  const end = o + rr.rdLen;
  // Fixed-size fields must lie inside the record data, and a record's fields must use
  // exactly its RDLENGTH (miekg/dns's "bad rdlength"); names may point outside it.
  const need = (n: number): void => {
    if (rr.rdLen < n) throw new WireError(`${typeName(rr.type)} record with ${rr.rdLen} bytes of data`, id);
  };
  const nameIn = (at: number): { name: string; next: number } => {
    const r = readName(buf, at, id);
    if (r.next > end) throw new WireError(`${typeName(rr.type)} record data shorter than its name`, id);
    return r;
  };
  const exact = (next: number): void => {
    if (next !== end) throw new WireError(`${typeName(rr.type)} record with ${end - next} bytes after its data (bad rdlength)`, id);
  };
  switch (rr.type) {
    case TYPE.A:
    case TYPE.AAAA:
      if (rr.rdLen !== (rr.type === TYPE.A ? 4 : 16)) throw new WireError(`${typeName(rr.type)} record with ${rr.rdLen} bytes of data`, id);
      return { t: 'ip', octets: buf.toString('latin1', o, o + rr.rdLen) };
    case TYPE.CNAME:
    case TYPE.NS:
    case TYPE.PTR: {
      need(1);
      const n = nameIn(o);
      exact(n.next);
      return { t: 'name', name: n.name };
    }
    case TYPE.MX: {
      need(3);
      const n = nameIn(o + 2);
      exact(n.next);
      return { t: 'mx', preference: buf.readUInt16BE(o), exchange: n.name };
    }
    case TYPE.SRV: {
      need(7);
      const n = nameIn(o + 6);
      exact(n.next);
      return {
        t: 'srv',
        priority: buf.readUInt16BE(o),
        weight: buf.readUInt16BE(o + 2),
        port: buf.readUInt16BE(o + 4),
        target: n.name,
      };
    }
    case TYPE.TXT: {
      const strings: Buffer[] = [];
      let p = o;
      while (p < o + rr.rdLen) {
        const l = buf[p];
        if (p + 1 + l > o + rr.rdLen) throw new WireError('TXT string runs past its record', id);
        strings.push(Buffer.from(buf.subarray(p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return { t: 'txt', strings };
    }
    case TYPE.SOA: {
      need(22);
      const m = nameIn(o);
      const r = nameIn(m.next);
      const p = r.next;
      if (p + 20 > end) throw new WireError('truncated SOA record', id);
      exact(p + 20);
      return {
        t: 'soa',
        mname: m.name,
        rname: r.name,
        serial: buf.readUInt32BE(p),
        refresh: buf.readUInt32BE(p + 4),
        retry: buf.readUInt32BE(p + 8),
        expire: buf.readUInt32BE(p + 12),
        minimum: buf.readUInt32BE(p + 16),
      };
    }
    default:
      return { t: 'raw', bytes: Buffer.from(buf.subarray(o, o + rr.rdLen)) };
  }
}

/** Decodes a whole message (upstream replies, tests). */
export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new WireError(`message of ${buf.length} bytes is shorter than a DNS header`, null);
  const header = readHeader(buf);
  const id = header.id;
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = 12;
  const question: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, off, id);
    if (next + 4 > buf.length) throw new WireError('question runs past the end of the message', id);
    question.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    off = next + 4;
  }
  const sections: RR[][] = [[], [], []];
  let edns: Edns | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const raw = readRawRR(buf, off, id);
      off = raw.next;
      if (raw.type === TYPE.OPT && s === 2) {
        edns = ednsFromRaw(buf, raw, id);
        continue;
      }
      sections[s].push({ name: raw.name, type: raw.type, class: raw.class, ttl: raw.ttl, data: decodeRData(buf, raw, id) });
    }
  }
  return { header, question, answer: sections[0], authority: sections[1], additional: sections[2], edns };
}

// ---------------------------------------------------------------- encoding

export function headerFlags(h: Header): number {
  return (
    (h.qr ? 0x8000 : 0) |
    ((h.opcode & 0xf) << 11) |
    (h.aa ? 0x0400 : 0) |
    (h.tc ? 0x0200 : 0) |
    (h.rd ? 0x0100 : 0) |
    (h.ra ? 0x0080 : 0) |
    (h.ad ? 0x0020 : 0) |
    (h.cd ? 0x0010 : 0) |
    (h.rcode & 0xf)
  );
}

/** ASCII-only lower-casing of a wire label, for the compression map. */
function labelKey(l: Buffer): string {
  let k = String.fromCharCode(l.length);
  for (const c of l) k += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  return k;
}

/** A label plainName could have written: printable ASCII, no dot, no backslash. */
function isPlainLabel(l: Buffer): boolean {
  for (const c of l) if (PLAIN_BYTE[c] === 0) return false;
  return l.length > 0;
}

/** A growable buffer writer with name compression (case-insensitive suffix map). */
export class Writer {
  buf: Buffer;
  pos = 0;
  /** Compression targets written by labelsName: suffix keys of length-prefixed, case-folded wire labels → offset. */
  private comp = new Map<string, number>();
  /** Compression targets written by plainName: lower-cased presentation suffixes (with the final dot) → offset. */
  private compPlain = new Map<string, number>();

  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Empties the writer for another message (its buffer is kept). */
  reset(): void {
    this.pos = 0;
    this.comp.clear();
    this.compPlain.clear();
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const nb = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Writes a string of byte-valued characters (RData 'ip') as those bytes. */
  octets(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos + i] = s.charCodeAt(i);
    this.pos += s.length;
  }
  /** Writes a presentation-format name, compressed against the names written before unless `compress` is false. */
  name(name: string, compress = true): void {
    if (!this.plainName(name, compress)) this.labelsName(name, compress);
  }

  /**
   * The fast path for names made only of printable ASCII without escapes or
   * empty labels (every name kube2sky writes): labels are cut from the string
   * directly and the compression keys are lower-cased suffixes of it, kept in
   * their own map. False, having written nothing, for any other name.
   */
  private plainName(name: string, compress: boolean): boolean {
    const n = name.length;
    if (n === 0 || name === '.' || name.charCodeAt(0) === 0x2e) return false;
    const end = name.charCodeAt(n - 1) === 0x2e ? n - 1 : n;
    let wireLen = 1;
    let labelStart = 0;
    for (let i = 0; i <= end; i++) {
      const c = i < end ? name.charCodeAt(i) : 0x2e;
      if (c === 0x2e) {
        const len = i - labelStart;
        if (len === 0) return false;
        if (len > 63) throw new WireError(`label longer than 63 bytes in ${name}`, null);
        wireLen += 1 + len;
        labelStart = i + 1;
      } else if (c <= 0x20 || c >= 0x7f || c === 0x5c) {
        return false;
      }
    }
    if (wireLen > 255) throw new WireError(`name longer than 255 bytes: ${name}`, null);
    const lc = compress ? (end === n ? name + '.' : name).toLowerCase() : '';
    this.ensure(wireLen);
    const buf = this.buf;
    labelStart = 0;
    for (let i = 0; i <= end; i++) {
      if (i < end && name.charCodeAt(i) !== 0x2e) continue;
      if (compress) {
        const key = labelStart === 0 ? lc : lc.slice(labelStart);
        const at = this.compPlain.get(key);
        if (at !== undefined) {
          buf.writeUInt16BE(0xc000 | at, this.pos);
          this.pos += 2;
          return true;
        }
        if (this.pos < 0x3fff) this.compPlain.set(key, this.pos);
      }
      buf[this.pos++] = i - labelStart;
      for (let j = labelStart; j < i; j++) buf[this.pos++] = name.charCodeAt(j);
      labelStart = i + 1;
    }
    buf[this.pos++] = 0;
    return true;
  }

  /** The general path: any name, through its wire labels. */
  private labelsName(name: string, compress: boolean): void {
    const labels = nameToLabels(name);
    let wireLen = 1;
    for (const l of labels) {
      if (l.length > 63) throw new WireError(`label longer than 63 bytes in ${name}`, null);
      wireLen += 1 + l.length;
    }
    if (wireLen > 255) throw new WireError(`name longer than 255 bytes: ${name}`, null);
    // A suffix made only of plain labels is keyed as plainName keys it (lower-cased text with
    // the final dot, in compPlain), so both paths share it. Any other suffix is keyed by its
    // length-prefixed wire labels (so `a\.b.c` and `a.b.c` differ), ASCII letters folded, in comp:
    // DNS names compare case-insensitively in ASCII only.
    const keys: string[] = [];
    const plain: boolean[] = [];
    if (compress) {
      let text = '';
      let tail = '';
      let allPlain = true;
      for (let i = labels.length - 1; i >= 0; i--) {
        allPlain = allPlain && isPlainLabel(labels[i]);
        plain[i] = allPlain;
        if (allPlain) {
          text = labels[i].toString('latin1').toLowerCase() + '.' + text;
          keys[i] = text;
        } else {
          keys[i] = labelKey(labels[i]) + tail;
        }
        tail = labelKey(labels[i]) + tail;
      }
    }
    for (let i = 0; i < labels.length; i++) {
      if (compress) {
        const map = plain[i] ? this.compPlain : this.comp;
        const at = map.get(keys[i]);
        if (at !== undefined) {
          this.u16(0xc000 | at);
          return;
        }
        if (this.pos < 0x3fff) map.set(keys[i], this.pos);
      }
      const l = labels[i];
      this.u8(l.length);
      this.bytes(l);
    }
    this.u8(0);
  }
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function writeRData(w: Writer, rr: RR): void {
  const lenAt = w.pos;
  w.u16(0);
  const start = w.pos;
  const d = rr.data;
  switch (d.t) {
    case 'ip':
      w.octets(d.octets);
      break;
    case 'name':
      w.name(d.name);
      break;
    case 'srv':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      w.name(d.target, false); // RFC 2782: SRV targets are not compressed
      break;
    case 'mx':
      w.u16(d.preference);
      w.name(d.exchange);
      break;
    case 'txt':
      for (const s of d.strings) {
        if (s.length > 255) throw new WireError(`TXT string of ${s.length} bytes (at most 255) in ${rr.name}`, null);
        w.u8(s.length);
        w.bytes(s);
      }
      break;
    case 'soa':
      w.name(d.mname);
      w.name(d.rname);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      break;
    case 'raw':
      w.bytes(d.bytes);
      break;
  }
  w.buf.writeUInt16BE(w.pos - start, lenAt);
}

function writeRR(w: Writer, rr: RR): void {
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  writeRData(w, rr);
}

export interface Encoded {
  buf: Buffer;
  /** TC was set because the answers did not fit. */
  truncated: boolean;
  /** The additional section was dropped to fit. */
  droppedAdditional: boolean;
  /** Offsets of every answer RR (start), plus the end of the answer section. */
  answerOffsets: number[];
}

/** An OPT record's TTL field: extended rcode, EDNS version and the DO bit. */
export function optTtl(extRcode: number, version: number, doBit: boolean): number {
  return (((extRcode & 0xff) << 24) | ((version & 0xff) << 16) | (doBit ? 0x8000 : 0)) >>> 0;
}

/** The OPT record of a reply, as bytes. */
function optRecord(edns: Edns): Buffer {
  let len = 0;
  for (const o of edns.options) len += 4 + o.data.length;
  const b = Buffer.allocUnsafe(11 + len);
  b[0] = 0;
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(edns.udpSize & 0xffff, 3);
  b.writeUInt32BE(optTtl(edns.extRcode, edns.version, edns.do), 5);
  b.writeUInt16BE(len, 9);
  let p = 11;
  for (const o of edns.options) {
    b.writeUInt16BE(o.code, p);
    b.writeUInt16BE(o.data.length, p + 2);
    o.data.copy(b, p + 4);
    p += 4 + o.data.length;
  }
  return b;
}

/** The writer every message is encoded in (encoding is synchronous; the result is copied out). */
const scratch = new Writer(4096);

/**
 * The request a reply answers, for encodeMessage's fast path: its bytes (the
 * question is copied from them, case and all), where its question ends, the
 * question name as parsed, and the zone's SOA pre-encoded.
 */
export interface FastContext {
  raw: Buffer;
  questionEnd: number;
  qname: string;
  soa: ZoneSoa | null;
}

/**
 * Encodes a message and fits it into `limit` bytes: when it is too large the
 * additional section is dropped first (no TC); if still too large, TC is set
 * and the largest prefix of the answer section that fits is kept (authority
 * and additional dropped), for a signed answer the largest that ends with an
 * RRSIG. The OPT record, if any, is always kept.
 * Returns null if even the header, question and OPT do not fit.
 *
 * With `fast`, the two shapes nearly every cluster query gets — address
 * records for the question name, or no answer and the zone's SOA — are
 * written directly (encodeReply) when they fit.
 */
export function encodeMessage(msg: OutMessage, limit = 65535, fast?: FastContext): Encoded | null {
  if (fast && msg.question.length === 1 && msg.question[0].name === fast.qname) {
    const e = msg.edns;
    const ttl = e ? optTtl(e.extRcode, e.version, e.do) : 0;
    const common = e === null || e.options.length === 0 ? encodeReply(fast, fast.soa, msg.header.id, headerFlags(msg.header), msg, e ? e.udpSize : -1, ttl, limit) : null;
    if (common) return common;
  }
  const w = scratch;
  w.reset();
  w.u16(msg.header.id);
  w.u16(headerFlags(msg.header));
  w.u16(msg.question.length);
  w.u16(msg.answer.length);
  w.u16(msg.authority.length);
  w.u16(msg.additional.length + (msg.edns ? 1 : 0));
  for (const q of msg.question) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  const answerOffsets: number[] = [];
  for (const rr of msg.answer) {
    answerOffsets.push(w.pos);
    writeRR(w, rr);
  }
  answerOffsets.push(w.pos);
  for (const rr of msg.authority) writeRR(w, rr);
  const additionalAt = w.pos;
  for (const rr of msg.additional) writeRR(w, rr);
  const optBytes = msg.edns ? optRecord(msg.edns) : null;
  const optLen = optBytes ? optBytes.length : 0;
  const full = w.result();
  if (full.length + optLen <= limit) {
    const buf = optBytes ? Buffer.concat([full, optBytes]) : Buffer.from(full);
    return { buf, truncated: false, droppedAdditional: false, answerOffsets };
  }
  if (additionalAt + optLen <= limit) {
    const buf = Buffer.concat(optBytes ? [full.subarray(0, additionalAt), optBytes] : [full.subarray(0, additionalAt)]);
    buf.writeUInt16BE(optBytes ? 1 : 0, 10);
    return { buf, truncated: false, droppedAdditional: true, answerOffsets };
  }
  // A signed answer is cut only after an RRSIG: no RRset leaves without its signature (SkyDNS cut anywhere).
  const signed = msg.answer.some((rr) => rr.type === TYPE.RRSIG);
  let keep = msg.answer.length;
  while (keep > 0 && (answerOffsets[keep] + optLen > limit || (signed && msg.answer[keep - 1].type !== TYPE.RRSIG))) keep--;
  if (answerOffsets[keep] + optLen > limit) return null;
  const buf = Buffer.concat(optBytes ? [full.subarray(0, answerOffsets[keep]), optBytes] : [full.subarray(0, answerOffsets[keep])]);
  buf.writeUInt16BE(buf.readUInt16BE(2) | 0x0200, 2);
  buf.writeUInt16BE(keep, 6);
  buf.writeUInt16BE(0, 8);
  buf.writeUInt16BE(optBytes ? 1 : 0, 10);
  return { buf, truncated: true, droppedAdditional: true, answerOffsets: answerOffsets.slice(0, keep + 1) };
}

/**
 * The zone's SOA record as negative answers carry it, pre-encoded: its owner
 * is the zone name, which an in-zone question ends with, so the owner and the
 * zone-name tails of MNAME and RNAME are pointers into the question.
 */
export class ZoneSoa {
  /** Wire length of the zone name. */
  private readonly zoneWire: number;
  /** MNAME's labels before the zone name (no terminator). */
  private readonly mnameHead: Buffer;
  /** RNAME's labels before the zone name. */
  private readonly rnameHead: Buffer;

  /** `zone` lower case and fully qualified, not the root. Throws WireError for names that cannot be encoded. */
  constructor(readonly zone: string, readonly mname: string, readonly rname: string) {
    if (zone === '.' || zone !== zone.toLowerCase()) throw new WireError(`zone ${zone}: want a lower-case name below the root`, null);
    const wireOf = (labels: Buffer[]) => Buffer.concat(labels.flatMap((l) => [Buffer.from([l.length]), l]));
    const zoneLabels = nameToLabels(zone);
    this.zoneWire = wireOf(zoneLabels).length + 1;
    const head = (name: string): Buffer | null => {
      const lower = name.toLowerCase();
      if (lower !== zone && !lower.endsWith('.' + zone)) return null;
      const labels = nameToLabels(name);
      return wireOf(labels.slice(0, labels.length - zoneLabels.length));
    };
    for (const n of [zone, mname, rname]) for (const l of nameToLabels(n)) if (l.length > 63 || l.length === 0) throw new WireError(`bad label in ${n}`, null);
    // A name outside the zone would compress against whatever the question holds; the general path does that.
    const m = head(mname);
    if (m === null) throw new WireError(`SOA MNAME ${mname} is not in zone ${zone}`, null);
    const r = head(rname);
    if (r === null) throw new WireError(`SOA RNAME ${rname} is not in zone ${zone}`, null);
    this.mnameHead = m;
    this.rnameHead = r;
    if (this.zoneWire > 255 || m.length + this.zoneWire > 255 || r.length + this.zoneWire > 255) throw new WireError('SOA names longer than 255 bytes', null);
  }

  /** Whether rr is this zone's SOA (any TTL, serial and timers). */
  matches(rr: RR): boolean {
    return rr.type === TYPE.SOA && rr.name === this.zone && rr.data.t === 'soa' && rr.data.mname === this.mname && rr.data.rname === this.rname;
  }

  /** Bytes of the record. */
  size(): number {
    return 12 + this.mnameHead.length + 2 + this.rnameHead.length + 2 + 20;
  }

  /** The last record write() encoded, and its bytes (the zone pointers still to be set). */
  private lastRR: RR | null = null;
  private lastBytes: Buffer = Buffer.alloc(0);

  /**
   * Writes rr (which matches()) at `at`, for a question name of `qnameWire`
   * bytes at offset 12 that ends with the zone. The record's bytes are made
   * once for each record object (negative answers share one an hour:
   * Resolver.negativeAuthority) and copied; only the three pointers to the
   * zone name in the question are set per reply.
   */
  write(b: Buffer, at: number, rr: RR, qnameWire: number): number {
    if (rr !== this.lastRR) {
      const bytes = Buffer.alloc(this.size());
      this.encode(bytes, 0, rr, this.zoneWire);
      this.lastBytes = bytes;
      this.lastRR = rr;
    }
    const bytes = this.lastBytes;
    const n = bytes.length;
    b.set(bytes, at);
    const ptr = 0xc000 | (12 + qnameWire - this.zoneWire);
    const hi = ptr >> 8;
    const lo = ptr & 0xff;
    b[at] = hi;
    b[at + 1] = lo;
    const m = at + 12 + this.mnameHead.length;
    b[m] = hi;
    b[m + 1] = lo;
    const r = m + 2 + this.rnameHead.length;
    b[r] = hi;
    b[r + 1] = lo;
    return at + n;
  }

  /** The record's bytes at `at` (what write() copies). */
  private encode(b: Buffer, at: number, rr: RR, qnameWire: number): number {
    const d = rr.data as Extract<RData, { t: 'soa' }>;
    const zoneAt = 0xc000 | (12 + qnameWire - this.zoneWire);
    let p = at;
    b.writeUInt16BE(zoneAt, p);
    b.writeUInt16BE(TYPE.SOA, p + 2);
    b.writeUInt16BE(rr.class, p + 4);
    b.writeUInt32BE(rr.ttl >>> 0, p + 6);
    const rdAt = p + 10;
    p += 12;
    // copyBytes: Buffer#copy at an offset makes a view per call (see copyBytes).
    copyBytes(this.mnameHead, 0, this.mnameHead.length, b, p);
    p += this.mnameHead.length;
    b.writeUInt16BE(zoneAt, p);
    p += 2;
    copyBytes(this.rnameHead, 0, this.rnameHead.length, b, p);
    p += this.rnameHead.length;
    b.writeUInt16BE(zoneAt, p);
    p += 2;
    b.writeUInt32BE(d.serial >>> 0, p);
    b.writeUInt32BE(d.refresh >>> 0, p + 4);
    b.writeUInt32BE(d.retry >>> 0, p + 8);
    b.writeUInt32BE(d.expire >>> 0, p + 12);
    b.writeUInt32BE(d.minimum >>> 0, p + 16);
    p += 20;
    b.writeUInt16BE(p - rdAt - 2, rdAt);
    return p;
  }

  /** Whether a lower-case name is the zone or below it. */
  holds(lowerName: string): boolean {
    return inZone(lowerName, this.zone);
  }
}

/**
 * The fast path of encodeMessage for a question written out in full (`q`:
 * the request's bytes, where its question ends, its name as parsed and, when
 * known, folded to lower case): answer
 * records that are all A/AAAA owned by the question name (a pointer to it),
 * no additional records, and no authority or just the zone's SOA. It takes
 * the reply's parts as numbers and the sections as they are, so the query
 * path builds no message, header or question objects for it: `flags` is the
 * header's flags word, `optUdp` the OPT record's payload size (-1: no OPT)
 * and `optTtl` its TTL field (extended rcode, version, DO). Null for any
 * other message, or one that does not fit (the general path then fits it).
 */
export function encodeReply(
  q: { readonly raw: Buffer; readonly questionEnd: number; readonly qname: string; readonly qnameLower?: string },
  zoneSoa: ZoneSoa | null,
  id: number,
  flags: number,
  sections: { readonly answer: readonly RR[]; readonly authority: readonly RR[]; readonly additional: readonly RR[] },
  optUdp: number,
  optTtl: number,
  limit: number,
): Encoded | null {
  const { answer, authority } = sections;
  if (sections.additional.length !== 0) return null;
  const qEnd = q.questionEnd;
  let size = qEnd + (optUdp >= 0 ? 11 : 0);
  for (let i = 0; i < answer.length; i++) {
    const rr = answer[i];
    if (rr.name !== q.qname || rr.data.t !== 'ip') return null;
    const len = rr.data.octets.length;
    if (!((rr.type === TYPE.A && len === 4) || (rr.type === TYPE.AAAA && len === 16))) return null;
    size += 12 + len;
  }
  let soa: RR | null = null;
  if (authority.length !== 0) {
    if (authority.length !== 1 || !zoneSoa || !zoneSoa.matches(authority[0]) || !zoneSoa.holds(q.qnameLower ?? lowerName(q.qname))) return null;
    soa = authority[0];
    size += zoneSoa.size();
  }
  if (size > limit) return null;
  const b = Buffer.allocUnsafe(size);
  copyBytes(q.raw, 0, qEnd, b, 0);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(answer.length, 6);
  b.writeUInt16BE(authority.length, 8);
  b.writeUInt16BE(optUdp >= 0 ? 1 : 0, 10);
  let p = qEnd;
  const answerOffsets: number[] = new Array(answer.length + 1);
  for (let i = 0; i < answer.length; i++) {
    const rr = answer[i];
    answerOffsets[i] = p;
    p = writeAddressRR(b, p, rr.type, rr.class, rr.ttl >>> 0, (rr.data as Extract<RData, { t: 'ip' }>).octets);
  }
  answerOffsets[answer.length] = p;
  if (soa) p = zoneSoa!.write(b, p, soa, qEnd - 4 - 12);
  if (optUdp >= 0) p = writeOptRR(b, p, optUdp & 0xffff, optTtl >>> 0);
  return { buf: b, truncated: false, droppedAdditional: false, answerOffsets };
}

/**
 * The most a reply may carry: over TCP 65535; over UDP the client's EDNS0
 * buffer, never more than we advertise (-udp-max-payload, RFC 6891 §6.2.5),
 * taken down to a size class — 512, 1024 or -udp-max-payload — and 512
 * without EDNS0. The limit is part of the answer-cache key: with classes, a
 * client cannot get the same long answer computed afresh by offering each
 * buffer size in turn (a reply smaller than the client allows is always
 * valid; a buffer between two classes may see TC a little earlier).
 */
export function replyLimit(tcp: boolean, ednsSize: number | null, maxPayload: number): number {
  if (tcp) return 65535;
  if (ednsSize === null || ednsSize < 1024) return 512;
  return ednsSize >= maxPayload ? maxPayload : Math.min(1024, maxPayload);
}

/**
 * A query for one question (RD set), with an OPT record of payload size
 * `udpSize` and `options` when `udpSize` is non-zero. Throws WireError for a
 * name that cannot be encoded.
 */
export function encodeQuery(name: string, qtype: number, id: number, udpSize = 0, options: EdnsOption[] = []): Buffer {
  return encodeMessage({
    header: { id, qr: false, opcode: OPCODE_QUERY, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    question: [{ name, type: qtype, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
    edns: udpSize ? { udpSize, extRcode: 0, version: 0, do: false, options } : null,
  })!.buf;
}

// ---------------------------------------------------------------- header bits of a message in hand
// Every change to the header of an encoded message is made here (the rest of the query path
// reads and writes messages through these), at offset `at` of the buffer.

/** Sets the message ID. */
export function setId(b: Uint8Array, id: number, at = 0): void {
  b[at] = (id >>> 8) & 0xff;
  b[at + 1] = id & 0xff;
}

/** Sets TC: the message was truncated. */
export function setTC(b: Uint8Array, at = 0): void {
  b[at + 2] |= 0x02;
}

/** Sets RA: recursion available. */
export function setRA(b: Uint8Array, at = 0): void {
  b[at + 3] |= 0x80;
}

/** A cached reply made an answer to `raw`: the request's ID, RD and CD bits (the rest of the header is the reply's). */
export function takeRequestBits(b: Uint8Array, raw: Uint8Array, at = 0): void {
  b[at] = raw[0];
  b[at + 1] = raw[1];
  b[at + 2] = (b[at + 2] & ~0x01) | (raw[2] & 0x01);
  b[at + 3] = (b[at + 3] & ~0x10) | (raw[3] & 0x10);
}

/** QR: the message is a response. */
export function isResponse(b: Uint8Array): boolean {
  return (b[2] & 0x80) !== 0;
}

/** TC: the message is truncated. */
export function isTruncated(b: Uint8Array): boolean {
  return (b[2] & 0x02) !== 0;
}

/** The 4-bit rcode of the header. */
export function rcodeOf(b: Uint8Array): number {
  return b[3] & 0x0f;
}

/** Empties the answer, authority and additional sections' counts (a message cut after its question). */
export function clearRecordCounts(b: Buffer): void {
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(0, 8);
  b.writeUInt16BE(0, 10);
}

/** A minimal error reply echoing the question when it could be read. */
export function errorReply(raw: Buffer, rcode: number, questionEnd: number | null): Buffer {
  const end = questionEnd ?? 12;
  const out = Buffer.from(raw.subarray(0, end));
  const f = raw.readUInt16BE(2);
  // keep ID, opcode, RD, CD; set QR; clear AA TC RA AD Z; set rcode
  out.writeUInt16BE(0x8000 | (f & 0x7900) | (f & 0x0010) | (rcode & 0xf), 2);
  out.writeUInt16BE(questionEnd === null ? 0 : 1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/** Canonical comparison key of an RR's data (TTL excluded), for de-duplication. */
export function rdataKey(rr: RR): string {
  const d = rr.data;
  switch (d.t) {
    case 'ip':
      return Buffer.from(d.octets, 'latin1').toString('hex');
    case 'name':
      return d.name.toLowerCase();
    case 'srv':
      return `${d.priority} ${d.weight} ${d.port} ${d.target.toLowerCase()}`;
    case 'mx':
      return `${d.preference} ${d.exchange.toLowerCase()}`;
    case 'txt':
      return d.strings.map((s) => `${s.length}:${s.toString('hex')}`).join(' ');
    case 'soa':
      return `${d.mname.toLowerCase()} ${d.rname.toLowerCase()} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'raw':
      return d.bytes.toString('hex');
  }
}
