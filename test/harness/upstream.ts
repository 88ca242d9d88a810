// A small upstream DNS server for forwarding tests: UDP and TCP on loopback,
// answering from a table, with switchable failure modes. It stands in for the
// node's recursive resolver (which tests cannot reach) — not for any part of
// this project.
import dgram from 'node:dgram';
import net from 'node:net';
import { CLASS, Message, RCODE, RR, TYPE, decodeMessage, encodeMessage } from '../../lib/skydns/wire.js';

export type Mode = 'answer' | 'servfail' | 'drop' | 'truncate' | 'refused';

export interface UpstreamServer {
  port: number;
  /** Queries received: `${transport} ${name} ${type}`. */
  log: string[];
  mode: Mode;
  /** Records by lower-case `${name}|${type}`. */
  records: Map<string, RR[]>;
  add(name: string, type: number, rr: Omit<RR, 'name' | 'type' | 'class'> & { class?: number }): void;
  close(): Promise<void>;
}

function reply(upstream: UpstreamServer, msg: Buffer, tcp: boolean): Buffer | null {
  const q = decodeMessage(msg);
  const question = q.question[0];
  upstream.log.push(`${tcp ? 'tcp' : 'udp'} ${question.name} ${question.type}`);
  if (upstream.mode === 'drop') return null;
  const rrs = upstream.records.get(`${question.name.toLowerCase()}|${question.type}`) ?? [];
  const known = [...upstream.records.keys()].some((k) => k.startsWith(question.name.toLowerCase() + '|'));
  const rcode = upstream.mode === 'servfail' ? RCODE.SERVFAIL : upstream.mode === 'refused' ? RCODE.REFUSED : known ? RCODE.NOERROR : RCODE.NXDOMAIN;
  const truncated = upstream.mode === 'truncate' && !tcp;
  const enc = encodeMessage({
    header: { id: q.header.id, qr: true, opcode: 0, aa: false, tc: truncated, rd: q.header.rd, ra: true, ad: false, cd: q.header.cd, rcode },
    question: q.question,
    answer: rcode === RCODE.NOERROR && !truncated ? rrs : [],
    authority: [],
    additional: [],
    edns: q.edns ? { udpSize: 1232, extRcode: 0, version: 0, do: q.edns.do, options: [] } : null,
  });
  return enc ? enc.buf : null;
}

export async function startUpstream(): Promise<UpstreamServer> {
  // UDP and TCP on one port number: the UDP socket takes a free port, and the TCP side is tried on
  // it; when that TCP port is someone's (an ephemeral port of another connection: etcd's clients
  // take them too, so it happened in a full test run), both are let go and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await upstreamOnOnePort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

async function upstreamOnOnePort(): Promise<UpstreamServer> {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const port = udp.address().port;
  const tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const out = reply(server, Buffer.from(msg), true);
        if (out) {
          const hdr = Buffer.alloc(2);
          hdr.writeUInt16BE(out.length);
          sock.write(Buffer.concat([hdr, out]));
        }
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  const server: UpstreamServer = {
    port,
    log: [],
    mode: 'answer',
    records: new Map(),
    add(name, type, rr) {
      const key = `${name.toLowerCase()}|${type}`;
      const list = this.records.get(key) ?? [];
      list.push({ name, type, class: rr.class ?? CLASS.IN, ttl: rr.ttl, data: rr.data });
      this.records.set(key, list);
    },
    close: () =>
      new Promise<void>((resolve) => {
        udp.close();
        tcp.close(() => resolve());
      }),
  };
  udp.on('message', (msg, rinfo) => {
    try {
      const out = reply(server, msg, false);
      if (out) udp.send(out, rinfo.port, rinfo.address);
    } catch {
      /* ignore garbage */
    }
  });
  return server;
}

/** What a scripted upstream does with its n-th question (counting from 1): the reply's rcode, TC, question name, or no reply. */
export type Behaviour = (q: Message, n: number) => { rcode?: number; tc?: boolean; question?: string; silent?: boolean; also?: 'wrong-question-first' };

/**
 * A UDP upstream whose every reply is scripted by `behave`; an answer is 192.0.2.<k> (k tells
 * servers apart). Keeps every question it was asked, decoded (EDNS0 options included).
 */
export async function startScriptedUpstream(k: number, behave: Behaviour = () => ({})): Promise<{ port: number; asked: Message[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const asked: Message[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = decodeMessage(msg);
    asked.push(q);
    const b = behave(q, asked.length);
    if (b.silent) return;
    const reply = (name: string) =>
      encodeMessage({
        header: { ...q.header, qr: true, ra: true, tc: b.tc ?? false, rcode: b.rcode ?? RCODE.NOERROR },
        question: [{ ...q.question[0], name }],
        answer: b.rcode ? [] : [{ name, type: TYPE.A, class: CLASS.IN, ttl: 300, data: { t: 'ip', octets: String.fromCharCode(192, 0, 2, k) } }],
        authority: [],
        additional: [],
        edns: q.edns ? { udpSize: 1232, extRcode: 0, version: 0, do: q.edns.do, options: [] } : null,
      })!.buf;
    if (b.also === 'wrong-question-first') sock.send(reply('other.example.'), rinfo.port, rinfo.address);
    sock.send(reply(b.question ?? q.question[0].name), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, asked, close: () => sock.close() };
}

/** A loopback port with nothing on it (the kernel answers port unreachable). */
export async function closedPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export { TYPE };
