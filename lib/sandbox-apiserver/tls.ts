/**
 * The sandbox API server's TLS certificate. kubectl (client-go) sends a bearer token only
 * over TLS (kubernetes/kubectl#744), so a server that requires a token must serve HTTPS.
 * Without certificate files it makes a self-signed one (ECDSA P-256), whose certificate
 * doubles as the CA a kubeconfig names, so clients verify the server rather than skip it.
 * Node can sign but not build certificates: the X.509 structure is written out here in DER.
 */
import { type KeyObject, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import { parseIp } from './ipalloc.js';

export interface ServingCert {
  certPem: string;
  keyPem: string;
}

/** DER: tag, length, contents. */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  let len: Buffer;
  if (body.length < 0x80) len = Buffer.from([body.length]);
  else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...parts: Buffer[]): Buffer => der(0x30, ...parts);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const v of rest) {
    const enc = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) enc.unshift((x & 0x7f) | 0x80);
    out.push(...enc);
  }
  return der(0x06, Buffer.from(out));
}

/** A positive INTEGER from big-endian bytes. */
function integer(b: Buffer): Buffer {
  return der(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** UTCTime YYMMDDHHMMSSZ (years 1950–2049). */
function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(s, 'ascii'));
}

/** The subjectAltName entries: dNSName [2] and iPAddress [7]. */
function altNames(names: readonly string[]): Buffer[] {
  return names.map((n) => {
    const family = isIP(n);
    if (family === 0) return der(0x82, Buffer.from(n, 'ascii'));
    if (family === 4) return der(0x87, Buffer.from(n.split('.').map(Number)));
    return der(0x87, ipv6Bytes(n));
  });
}

/** 16 address bytes from the value parseIp gives. */
function ipv6Bytes(s: string): Buffer {
  let v = parseIp(s)?.value ?? 0n;
  const out = Buffer.alloc(16);
  for (let i = 15; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

/** A self-signed certificate for `names` (DNS names and IP literals), valid from an hour ago for `days`. */
export function selfSignedCert(names: readonly string[], days = 365): ServingCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  // Positive, and the first octet never 0: a DER INTEGER must be minimal, and OpenSSL refuses
  // a certificate whose serial starts with a needless 00 ("illegal padding"), which masking
  // the top bit alone left to 1 certificate in 256.
  serial[0] = (serial[0] & 0x7f) | 0x40;
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from('kube-dns-ts sandbox apiserver')))));
  const now = Date.now();
  const extensions = der(
    0xa3,
    seq(
      // basicConstraints CA:TRUE (critical): the certificate is its own trust anchor.
      seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
      seq(oid('2.5.29.17'), der(0x04, seq(...altNames(names)))),
    ),
  );
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    seq(oid(ECDSA_SHA256)),
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + days * 86400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey as KeyObject);
  const cert = seq(tbs, seq(oid(ECDSA_SHA256)), der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/**
 * The serving certificate from `certFile`/`keyFile`; if neither file exists, a new
 * self-signed one written there (the key mode 0600), so a restarted server keeps the
 * certificate its clients trust.
 */
export function certFromFiles(certFile: string, keyFile: string, names: readonly string[]): { cert: ServingCert; created: boolean } {
  const exists = [certFile, keyFile].map((f) => fs.existsSync(f));
  if (exists[0] && exists[1]) return { cert: { certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8') }, created: false };
  if (exists[0] !== exists[1]) throw new Error(`--tls-cert-file ${certFile} and --tls-private-key-file ${keyFile}: only ${exists[0] ? certFile : keyFile} exists (give both, or neither to have them made)`);
  const cert = selfSignedCert(names);
  fs.writeFileSync(keyFile, cert.keyPem, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(certFile, cert.certPem, { flag: 'wx' });
  return { cert, created: true };
}
