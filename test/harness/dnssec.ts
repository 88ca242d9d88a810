// DNSSEC test tools: keys from BIND's dnssec-keygen, and the answers of two
// real validators — BIND's delv and Unbound's unbound-host — given a trust
// anchor for the zone and pointed at a server on loopback. Plus a proxy that
// alters or strips signatures on the way, to show the validators catch it.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { RR, TYPE, decodeMessage, encodeMessage } from '../../lib/skydns/wire.js';

function run(cmd: string, args: string[], timeoutMs = 15000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

export interface TestKey {
  /** Base name: <dir>/K<zone>.+<alg>+<tag>; .key and .private beside it. */
  base: string;
  tag: number;
  algorithm: number;
  /** The DNSKEY line of the .key file: owner, class, type and rdata. */
  dnskey: { owner: string; flags: number; protocol: number; algorithm: number; key: string };
}

/** Makes a key pair with dnssec-keygen in `dir`. */
export async function makeKey(dir: string, algorithm: 'ECDSAP256SHA256' | 'ECDSAP384SHA384' | 'RSASHA256' | 'ED25519', zone = 'cluster.local', ksk = false): Promise<TestKey> {
  const args = ['-q', '-K', dir, '-a', algorithm, '-n', 'ZONE', ...(algorithm === 'RSASHA256' ? ['-b', '2048'] : []), ...(ksk ? ['-f', 'KSK'] : []), zone];
  const r = await run('dnssec-keygen', args);
  if (r.code !== 0) throw new Error(`dnssec-keygen ${args.join(' ')}: ${r.out}`);
  const name = r.out.trim().split('\n').pop()!.trim();
  const base = path.join(dir, name);
  return readKey(base);
}

/** Reads the DNSKEY of a key pair's .key file. */
export function readKey(base: string): TestKey {
  const text = fs.readFileSync(`${base}.key`, 'utf8');
  const line = text.split('\n').find((l) => l.trim() !== '' && !l.startsWith(';'))!;
  const f = line.trim().split(/\s+/);
  const at = f.indexOf('DNSKEY');
  const dnskey = { owner: f[0], flags: Number(f[at + 1]), protocol: Number(f[at + 2]), algorithm: Number(f[at + 3]), key: f.slice(at + 4).join('') };
  const m = /\+(\d+)\+(\d+)$/.exec(base)!;
  return { base, tag: Number(m[2]), algorithm: Number(m[1]), dnskey };
}

export interface Validation {
  /** The validator proved the answer (positive or negative) from the anchor. */
  secure: boolean;
  /** The validator judged the answer bogus (or could not validate it at all). */
  failed: boolean;
  out: string;
}

/**
 * Asks BIND's delv (a validating stub) for name/type at 127.0.0.1:port with
 * `key` as the zone's trust anchor (+root=<zone>: validation starts there).
 */
export async function delv(port: number, key: TestKey, name: string, type = 'A', opts: { tcp?: boolean; dir: string } = { dir: '.' }): Promise<Validation> {
  const zone = key.dnskey.owner.replace(/\.$/, '');
  const anchor = path.join(opts.dir, `delv-anchor-${key.tag}.conf`);
  fs.writeFileSync(anchor, `trust-anchors {\n  "${zone}." static-key ${key.dnskey.flags} ${key.dnskey.protocol} ${key.dnskey.algorithm} "${key.dnskey.key}";\n};\n`);
  const args = ['@127.0.0.1', '-p', String(port), '-a', anchor, `+root=${zone}`, ...(opts.tcp ? ['+tcp'] : []), '+nomultiline', name, type];
  const r = await run('delv', args);
  const secure = /^; (negative response, )?fully validated/m.test(r.out);
  const failed = !secure && /resolution failed|validation failure|no valid|insecurity proof failed|broken trust chain|bogus/i.test(r.out);
  return { secure, failed: failed || (!secure && r.code !== 0), out: `delv ${args.join(' ')}\n${r.out}` };
}

/**
 * Asks Unbound's unbound-host (a validating resolver library) for name/type,
 * with the zone as a stub zone at 127.0.0.1:port and `key` as its anchor.
 */
export async function unboundHost(port: number, key: TestKey, name: string, type = 'A', opts: { dir: string }): Promise<Validation> {
  const conf = path.join(opts.dir, `unbound-${key.tag}-${port}.conf`);
  fs.writeFileSync(
    conf,
    [
      'server:',
      '  do-not-query-localhost: no',
      '  module-config: "validator iterator"',
      `  trust-anchor: "${key.dnskey.owner} DNSKEY ${key.dnskey.flags} ${key.dnskey.protocol} ${key.dnskey.algorithm} ${key.dnskey.key}"`,
      'stub-zone:',
      `  name: "${key.dnskey.owner}"`,
      `  stub-addr: 127.0.0.1@${port}`,
      '',
    ].join('\n'),
  );
  const args = ['-C', conf, '-v', '-t', type, name];
  const r = await run('unbound-host', args);
  const secure = /\(secure\)/.test(r.out);
  const failed = /\(BOGUS|security failure|validation failure/i.test(r.out) || (!secure && r.code !== 0);
  return { secure, failed, out: `unbound-host ${args.join(' ')}\n${r.out}` };
}

export type Tamper = 'flip-signature' | 'drop-signatures';

/** A UDP proxy in front of a server that alters what it relays: one bit of each RRSIG's signature, or every RRSIG (except the DNSKEY set's). */
export async function tamperingProxy(target: number, mode: Tamper): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const pending = new Map<number, { port: number; address: string }>();
  sock.on('message', (msg, rinfo) => {
    if (rinfo.port !== target) {
      pending.set(msg.readUInt16BE(0), { port: rinfo.port, address: rinfo.address });
      sock.send(msg, target, '127.0.0.1');
      return;
    }
    const to = pending.get(msg.readUInt16BE(0));
    if (!to) return;
    const m = decodeMessage(msg);
    // The DNSKEY set's own signature is left alone, so the key validates and the answer's signatures are what fail.
    const answerSig = (rr: RR) => rr.type === TYPE.RRSIG && rr.data.t === 'raw' && rr.data.bytes.readUInt16BE(0) !== TYPE.DNSKEY;
    const alter = (rrs: RR[]): RR[] => {
      if (mode === 'drop-signatures') return rrs.filter((rr) => !answerSig(rr));
      for (const rr of rrs) {
        // The signature is the end of the RRSIG's rdata.
        if (answerSig(rr) && rr.data.t === 'raw') rr.data.bytes[rr.data.bytes.length - 1] ^= 0x01;
      }
      return rrs;
    };
    const out = encodeMessage({ ...m, answer: alter(m.answer), authority: alter(m.authority), additional: alter(m.additional) });
    if (out) sock.send(out.buf, to.port, to.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, close: () => sock.close() };
}
