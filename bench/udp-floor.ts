#!/usr/bin/env node
/**
 * The benchmark's "Node floor": the least work a Node.js UDP DNS server can do
 * per query on this machine. It answers every query with the question copied
 * back and one fixed A record (10.0.0.1, TTL 30, owner compressed to the
 * question) — a reply of the same size as skydns's — without looking anything
 * up. Its qps is the ceiling for any single-threaded Node server here (one
 * recvmsg, one sendmsg and dgram's per-packet JavaScript, with the same
 * synchronous address pass-through as skydns's socket); skydns's qps divided
 * by it shows how much of the gap to knot is skydns's own work.
 *
 * Usage: node dist/bench/udp-floor.js <port> [host]   (host defaults to 127.0.0.1)
 */
import dgram from 'node:dgram';
import { literalLookup } from '../lib/skydns/server.js';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: udp-floor <port> [host]\n');
  process.exit(2);
}
if (host !== '::1' && !host.startsWith('127.')) {
  process.stderr.write(`udp-floor: refusing to listen on ${host}: loopback only\n`);
  process.exit(2);
}

// Name pointer to offset 12, type A, class IN, TTL 30, RDLENGTH 4, 10.0.0.1.
const RECORD = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);

const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20, lookup: literalLookup });
sock.on('message', (msg, rinfo) => {
  // Only well-formed single-question queries without other records: header + question.
  if (msg.length < 17 || (msg[2] & 0x80) !== 0 || msg.readUInt16BE(4) !== 1) return;
  let p = 12;
  while (p < msg.length && msg[p] !== 0) p += msg[p] + 1;
  const end = p + 5;
  if (end > msg.length) return;
  const out = Buffer.allocUnsafe(end + RECORD.length);
  msg.copy(out, 0, 0, end);
  out[2] = 0x84 | (msg[2] & 0x01); // QR, AA, RD copied
  out[3] = 0;
  out.writeUInt16BE(1, 6); // ANCOUNT
  out.writeUInt32BE(0, 8); // NSCOUNT, ARCOUNT
  RECORD.copy(out, end);
  sock.send(out, rinfo.port, rinfo.address);
});
sock.on('error', (err) => process.stderr.write(`udp-floor: ${err.message}\n`));
sock.bind(port, host, () => process.stdout.write(`udp-floor listening on ${host}:${sock.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => sock.close(() => process.exit(0)));
