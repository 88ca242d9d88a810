// Raw UDP on loopback for tests that time or shape datagrams themselves (dig would add its own
// start-up to every figure, and cannot send malformed packets).
import dgram from 'node:dgram';

/** Sends one datagram from a fresh socket and waits for one reply: it (or null after timeoutMs) and the milliseconds it took. */
export async function udpExchange(port: number, msg: Buffer, timeoutMs = 3000): Promise<{ reply: Buffer | null; ms: number }> {
  const sock = dgram.createSocket('udp4');
  try {
    const t0 = performance.now();
    const reply = await new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(msg, port, '127.0.0.1');
    });
    return { reply, ms: performance.now() - t0 };
  } finally {
    sock.close();
  }
}

/** A UDP socket on 127.0.0.1 that takes queries and never answers, noting each one's source port and ID. */
export async function silentUpstream(): Promise<{ port: number; seen: Array<{ port: number; id: number }>; close(): void }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const seen: Array<{ port: number; id: number }> = [];
  sock.on('message', (m, rinfo) => {
    if (m.length >= 12) seen.push({ port: rinfo.port, id: m.readUInt16BE(0) });
  });
  return { port: sock.address().port, seen, close: () => sock.close() };
}
