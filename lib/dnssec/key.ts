/**
 * Loading a BIND-style DNSSEC key pair (`<base>.key` + `<base>.private`, as
 * dnssec-keygen, ldns-keygen and keymgr write them) and checking it fully at
 * start-up (docs/dnssec.md §2): SkyDNS accepted keys it could not sign with, or
 * whose halves did not belong together, and then served bogus or unsigned
 * answers (bug 9.5). Here every such problem is one KeyError naming the file.
 */
import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lowerName } from '../skydns/wire.js';

/** The algorithms this signer can sign with (docs/dnssec.md §2.2), number → mnemonic. */
export const SIGNING_ALGORITHMS: ReadonlyMap<number, string> = new Map([
  [5, 'RSASHA1'],
  [7, 'RSASHA1-NSEC3-SHA1'],
  [8, 'RSASHA256'],
  [10, 'RSASHA512'],
  [13, 'ECDSAP256SHA256'],
  [14, 'ECDSAP384SHA384'],
  [15, 'ED25519'],
]);

/** Mnemonics a `.key` file may use instead of the number (RFC 8624 list plus BIND's spellings). */
const ALGORITHM_MNEMONICS: ReadonlyMap<string, number> = new Map([
  ['RSAMD5', 1], ['DH', 2], ['DSA', 3], ['RSASHA1', 5], ['DSA-NSEC3-SHA1', 6], ['NSEC3DSA', 6],
  ['RSASHA1-NSEC3-SHA1', 7], ['NSEC3RSASHA1', 7], ['RSASHA256', 8], ['RSASHA512', 10],
  ['ECC-GOST', 12], ['ECDSAP256SHA256', 13], ['ECDSAP384SHA384', 14], ['ED25519', 15], ['ED448', 16],
  ['INDIRECT', 252], ['PRIVATEDNS', 253], ['PRIVATEOID', 254],
]);

/** A problem with a key file. The message is one line: "<path of the file concerned>: <what is wrong>". */
export class KeyError extends Error {
  /** The file the problem is in. */
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem.replace(/\s*\n\s*/g, ' ')}`);
    this.name = 'KeyError';
    this.path = path;
  }
}

export interface DnssecKey {
  /** The base name given, spaces turned back into '+' (files are base + '.key' / '.private'). */
  base: string;
  /** DNSKEY owner, lower case, absolute ('cluster.local.'). */
  owner: string;
  /** 256 or 257, taken as is. */
  flags: number;
  algorithm: number;
  /** RFC 4034 appendix B over the DNSKEY rdata (may be 0). */
  keyTag: number;
  /** DNSKEY rdata: flags(2) protocol(1)=3 algorithm(1) public key. */
  rdata: Buffer;
  privateKey: KeyObject;
}

// ---------------------------------------------------------------- algorithms

/** Digest each algorithm signs with; null for Ed25519, which hashes internally. */
function digestOf(algorithm: number): string | null {
  switch (algorithm) {
    case 5:
    case 7:
      return 'sha1';
    case 8:
    case 13:
      return 'sha256';
    case 10:
      return 'sha512';
    case 14:
      return 'sha384';
    default:
      return null;
  }
}

const isEcdsa = (algorithm: number): boolean => algorithm === 13 || algorithm === 14;
const isRsa = (algorithm: number): boolean => algorithm === 5 || algorithm === 7 || algorithm === 8 || algorithm === 10;

/**
 * Signs `data` the way RRSIGs of `algorithm` are signed: RSA PKCS#1 v1.5
 * (RFC 3110, 5702), ECDSA as r||s of fixed width (RFC 6605), Ed25519 (RFC 8080).
 */
export function signData(algorithm: number, key: KeyObject, data: Buffer): Buffer {
  if (isEcdsa(algorithm)) return sign(digestOf(algorithm), data, { key, dsaEncoding: 'ieee-p1363' });
  return sign(digestOf(algorithm), data, key);
}

/** Verifies a signature made by signData, with a public (or private) key. */
export function verifyData(algorithm: number, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (isEcdsa(algorithm)) return verify(digestOf(algorithm), data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return verify(digestOf(algorithm), data, key, signature);
}

/** RFC 4034 appendix B key tag over DNSKEY rdata (algorithm 1 is not supported, so its special case is not needed). */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

function supportedList(): string {
  return [...SIGNING_ALGORITHMS].map(([n, s]) => `${n} (${s})`).join(', ');
}

// ---------------------------------------------------------------- files

/** Reads a whole file; a missing or unreadable file is a KeyError naming it. */
function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' :
      e.code === 'EACCES' ? 'permission denied' :
      e.code === 'EISDIR' ? 'is a directory, not a key file' :
      e.code ? `cannot read (${e.code})` : `cannot read (${e.message})`;
    throw new KeyError(path, why);
  }
}

/** Strict base64 (whitespace already removed): RFC 4648 alphabet, padded to a multiple of 4. */
function decodeBase64(s: string): Buffer | null {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/**
 * The tokens of the first record of a zone-file text, with comments removed
 * and parenthesised continuation lines joined; `$TTL` lines skipped, `$ORIGIN`
 * noted (for a relative owner). `leadingBlank` says the record's line began
 * with white space (owner omitted).
 */
function firstRecord(text: string): { tokens: string[]; leadingBlank: boolean; origin: string | null } | null {
  let origin: string | null = null;
  let tokens: string[] = [];
  let leadingBlank = false;
  let depth = 0;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/;.*$/, '');
    if (depth === 0) {
      if (line.trim() === '') continue;
      const t = line.trim().split(/\s+/);
      if (t[0].toUpperCase() === '$TTL') continue;
      if (t[0].toUpperCase() === '$ORIGIN') {
        origin = t[1] ?? null;
        continue;
      }
      leadingBlank = /^\s/.test(line);
      tokens = [];
    }
    for (const piece of line.split(/([()])/)) {
      if (piece === '(') depth++;
      else if (piece === ')') depth = Math.max(0, depth - 1);
      else tokens.push(...piece.trim().split(/\s+/).filter((s) => s !== ''));
    }
    if (depth === 0) return { tokens, leadingBlank, origin };
  }
  return depth > 0 ? { tokens, leadingBlank, origin } : null;
}

/** Makes a presentation name absolute (appending the origin, or the root). */
function absolute(name: string, origin: string | null): string {
  if (name === '@') return origin ?? '.';
  if (name.endsWith('.') && !name.endsWith('\\.')) return name;
  if (origin === null || origin === '.') return name + '.';
  return name + '.' + origin;
}

const TTL_RE = /^([0-9]+[smhdw]?)+$/i;

interface PublicPart {
  owner: string;
  flags: number;
  algorithm: number;
  publicKey: Buffer;
  rdata: Buffer;
}

/** Reads the DNSKEY of a `.key` file: owner, optional TTL and class IN in either order, DNSKEY, rdata. */
function parseKeyFile(path: string, text: string): PublicPart {
  const rec = firstRecord(text);
  if (!rec || rec.tokens.length === 0) throw new KeyError(path, 'holds no DNSKEY record');
  if (rec.leadingBlank) throw new KeyError(path, 'the first record has no owner name');
  const t = rec.tokens;
  const owner = lowerName(absolute(t[0], rec.origin));
  let i = 1;
  for (let k = 0; k < 2 && i < t.length; k++) {
    if (TTL_RE.test(t[i]) || t[i].toUpperCase() === 'IN') i++;
    else if (/^(CH|CS|HS|CLASS[0-9]+)$/i.test(t[i])) throw new KeyError(path, `DNSKEY of class ${t[i]}, want IN`);
  }
  const type = t[i]?.toUpperCase();
  if (type === undefined) throw new KeyError(path, 'the first record has no type');
  if (type !== 'DNSKEY') throw new KeyError(path, `the first record is of type ${t[i]}, not DNSKEY`);
  const rd = t.slice(i + 1);
  if (rd.length < 4) throw new KeyError(path, 'DNSKEY record with too few fields (want flags, protocol, algorithm, public key)');
  if (!/^[0-9]+$/.test(rd[0]) || Number(rd[0]) > 0xffff) throw new KeyError(path, `DNSKEY flags ${rd[0]} is not a number 0-65535`);
  if (rd[1] !== '3') throw new KeyError(path, `DNSKEY protocol ${rd[1]}, want 3`);
  let algorithm: number;
  if (/^[0-9]+$/.test(rd[2]) && Number(rd[2]) <= 255) algorithm = Number(rd[2]);
  else {
    const a = ALGORITHM_MNEMONICS.get(rd[2].toUpperCase());
    if (a === undefined) throw new KeyError(path, `DNSKEY algorithm ${rd[2]} is not a number 0-255 or a known mnemonic`);
    algorithm = a;
  }
  const publicKey = decodeBase64(rd.slice(3).join(''));
  if (!publicKey) throw new KeyError(path, 'DNSKEY public key is not valid base64');
  const flags = Number(rd[0]);
  const head = Buffer.from([flags >> 8, flags & 0xff, 3, algorithm]);
  return { owner, flags, algorithm, publicKey, rdata: Buffer.concat([head, publicKey]) };
}

/** Reads the `Field: value` lines of a `.private` file (first occurrence of a field wins). */
function parsePrivateFile(path: string, text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.trim().startsWith(';')) continue;
    const m = /^\s*([A-Za-z0-9_-]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) throw new KeyError(path, `line "${line.trim().slice(0, 40)}" is not "Field: value"`);
    if (!fields.has(m[1].toLowerCase())) fields.set(m[1].toLowerCase(), m[2]);
  }
  const fmt = fields.get('private-key-format');
  if (fmt === undefined) throw new KeyError(path, 'no "Private-key-format" line: not a private key file');
  if (!/^v1\.[0-9]+$/.test(fmt)) throw new KeyError(path, `Private-key-format ${fmt}, want v1.x`);
  return fields;
}

/** A base64 field of a `.private` file, decoded; missing or bad base64 is a KeyError. */
function field(path: string, fields: Map<string, string>, name: string): Buffer {
  const v = fields.get(name.toLowerCase());
  if (v === undefined) throw new KeyError(path, `missing field ${name}`);
  const b = decodeBase64(v.replace(/\s+/g, ''));
  if (!b) throw new KeyError(path, `field ${name} is not valid base64`);
  return b;
}

/** base64url of a big-endian integer without leading zero bytes, as JWK wants it. */
function jwkInt(b: Buffer): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i).toString('base64url');
}

/** Left-pads (or rejects) a fixed-width integer such as an ECDSA scalar. */
function fixedWidth(path: string, name: string, b: Buffer, width: number): Buffer {
  let i = 0;
  while (b.length - i > width && b[i] === 0) i++;
  const v = b.subarray(i);
  if (v.length > width) throw new KeyError(path, `field ${name} is ${v.length} bytes, want at most ${width}`);
  return Buffer.concat([Buffer.alloc(width - v.length), v]);
}

/** The public key of an RSA DNSKEY (RFC 3110 §2): exponent length, exponent, modulus. */
function rsaPublic(path: string, pk: Buffer): { n: Buffer; e: Buffer } {
  if (pk.length < 3) throw new KeyError(path, 'RSA public key too short');
  let off = 1;
  let elen = pk[0];
  if (elen === 0) {
    elen = pk.readUInt16BE(1);
    off = 3;
  }
  if (elen === 0 || off + elen >= pk.length) throw new KeyError(path, 'RSA public key: exponent length runs past the key');
  return { e: pk.subarray(off, off + elen), n: pk.subarray(off + elen) };
}

/** JWKs of the public and private key, from the DNSKEY's public key and the `.private` fields. */
function jwks(pub: PublicPart, keyPath: string, privPath: string, fields: Map<string, string>): { pub: JsonWebKey; priv: JsonWebKey } {
  const alg = pub.algorithm;
  if (isRsa(alg)) {
    const { n, e } = rsaPublic(keyPath, pub.publicKey);
    const f = (name: string) => jwkInt(field(privPath, fields, name));
    const priv: JsonWebKey = {
      kty: 'RSA',
      n: f('Modulus'),
      e: f('PublicExponent'),
      d: f('PrivateExponent'),
      p: f('Prime1'),
      q: f('Prime2'),
      dp: f('Exponent1'),
      dq: f('Exponent2'),
      qi: f('Coefficient'),
    };
    return { pub: { kty: 'RSA', n: jwkInt(n), e: jwkInt(e) }, priv };
  }
  if (isEcdsa(alg)) {
    const width = alg === 13 ? 32 : 48;
    if (pub.publicKey.length !== 2 * width) throw new KeyError(keyPath, `ECDSA public key is ${pub.publicKey.length} bytes, want ${2 * width}`);
    const crv = alg === 13 ? 'P-256' : 'P-384';
    const x = pub.publicKey.subarray(0, width).toString('base64url');
    const y = pub.publicKey.subarray(width).toString('base64url');
    const d = fixedWidth(privPath, 'PrivateKey', field(privPath, fields, 'PrivateKey'), width).toString('base64url');
    return { pub: { kty: 'EC', crv, x, y }, priv: { kty: 'EC', crv, x, y, d } };
  }
  // Ed25519 (RFC 8080): 32-byte public key, 32-byte private seed.
  if (pub.publicKey.length !== 32) throw new KeyError(keyPath, `ED25519 public key is ${pub.publicKey.length} bytes, want 32`);
  const seed = field(privPath, fields, 'PrivateKey');
  if (seed.length !== 32) throw new KeyError(privPath, `field PrivateKey is ${seed.length} bytes, want 32`);
  const x = pub.publicKey.toString('base64url');
  return { pub: { kty: 'OKP', crv: 'Ed25519', x }, priv: { kty: 'OKP', crv: 'Ed25519', x, d: seed.toString('base64url') } };
}

/** The first number of the `Algorithm:` line ("13 (ECDSAP256SHA256)"). */
function privateAlgorithm(path: string, fields: Map<string, string>): number {
  const v = fields.get('algorithm');
  if (v === undefined) throw new KeyError(path, 'missing field Algorithm');
  const m = /^([0-9]+)\b/.exec(v);
  if (!m) throw new KeyError(path, `Algorithm "${v}" does not start with a number`);
  return Number(m[1]);
}

/** Message and signature check proving the private key belongs to the DNSKEY (bug 9.5). */
function checkPair(alg: number, priv: KeyObject, pub: KeyObject, keyPath: string, privPath: string): void {
  const probe = Buffer.from(`skydns key check ${keyPath}`);
  let ok: boolean;
  try {
    ok = verifyData(alg, pub, probe, signData(alg, priv, probe));
  } catch (err) {
    throw new KeyError(privPath, `not a usable ${SIGNING_ALGORITHMS.get(alg)} private key: cannot sign with it (${(err as Error).message})`);
  }
  if (!ok) throw new KeyError(privPath, `the private key does not belong to the public key in ${keyPath}`);
}

/**
 * Reads <base>.key and <base>.private, checks everything of docs/dnssec.md §2.1–2.3,
 * including that the private key belongs to the public key (a test message is
 * signed and verified with the DNSKEY's public key). `domain` is absolute;
 * compared case-insensitively. Spaces in `base` are turned back into '+'
 * (docs/dnssec.md §1). Throws KeyError.
 */
export function loadKey(base: string, domain: string): DnssecKey {
  const b = base.replace(/ /g, '+');
  const keyPath = b + '.key';
  const privPath = b + '.private';
  const pub = parseKeyFile(keyPath, readKeyFile(keyPath));
  const want = lowerName(absolute(domain, null));
  if (pub.owner !== want) throw new KeyError(keyPath, `DNSKEY owner ${pub.owner} does not match the domain ${want}`);
  if (!SIGNING_ALGORITHMS.has(pub.algorithm)) {
    const name = [...ALGORITHM_MNEMONICS].find(([, n]) => n === pub.algorithm)?.[0];
    throw new KeyError(keyPath, `DNSKEY algorithm ${pub.algorithm}${name ? ` (${name})` : ''} is not supported; supported: ${supportedList()}`);
  }
  if ((pub.flags & 0x0100) === 0) throw new KeyError(keyPath, `DNSKEY flags ${pub.flags} lack the Zone Key bit (256): validators ignore signatures by it`);
  const fields = parsePrivateFile(privPath, readKeyFile(privPath));
  const palg = privateAlgorithm(privPath, fields);
  if (palg !== pub.algorithm) throw new KeyError(privPath, `Algorithm ${palg} does not match the DNSKEY's algorithm ${pub.algorithm} in ${keyPath}`);
  const j = jwks(pub, keyPath, privPath, fields);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: j.pub, format: 'jwk' });
  } catch (err) {
    throw new KeyError(keyPath, `DNSKEY public key is not a valid ${SIGNING_ALGORITHMS.get(pub.algorithm)} key: ${(err as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: j.priv, format: 'jwk' });
  } catch (err) {
    throw new KeyError(privPath, `not a valid ${SIGNING_ALGORITHMS.get(pub.algorithm)} private key: ${(err as Error).message}`);
  }
  checkPair(pub.algorithm, privateKey, publicKey, keyPath, privPath);
  return {
    base: b,
    owner: pub.owner,
    flags: pub.flags,
    algorithm: pub.algorithm,
    keyTag: keyTag(pub.rdata),
    rdata: pub.rdata,
    privateKey,
  };
}
