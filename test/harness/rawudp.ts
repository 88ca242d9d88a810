// Datagrams from source port 0, sent through a raw socket by test/harness/rawudp.c
// (compiled here once per test process with the C compiler the native module
// needs too). Needs root (CAP_NET_RAW): otherwise, and without a compiler,
// rawUdpSender() says why, for the test's skip reason.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SOURCE = path.join(root, 'test', 'harness', 'rawudp.c');

export interface RawUdpSender {
  /** Sends `count` copies of `payload` to 127.0.0.1:port from source port 0. */
  send(port: number, payload: Buffer, count?: number): void;
}

/** The sender, or the reason there is none on this machine. */
export function rawUdpSender(): RawUdpSender | string {
  if (process.platform !== 'linux') return `raw sockets as used here are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'sending from source port 0 needs a raw socket, which needs root (CAP_NET_RAW)';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rawudp-'));
  const bin = path.join(dir, 'rawudp');
  const cc = process.env.CC || 'cc';
  const built = spawnSync(cc, ['-O1', '-o', bin, SOURCE], { encoding: 'utf8' });
  if (built.error || built.status !== 0) return `cannot compile ${SOURCE} with ${cc}: ${built.error?.message ?? built.stderr.trim()}`;
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    send(port, payload, count = 1) {
      const r = spawnSync(bin, ['127.0.0.1', String(port), payload.toString('hex'), String(count)], { encoding: 'utf8', timeout: 10_000 });
      if (r.error || r.status !== 0) throw new Error(`rawudp: ${r.error?.message ?? r.stderr.trim()}`);
    },
  };
}
