/**
 * Forwarding to upstream nameservers (spec/skydns.md §4.1–4.4, §4.7):
 * the client's own request relayed over the client's transport, the first
 * server chosen by ID (ns-rotate) or always the first, a SERVFAIL retried once
 * on the same server, transport errors walking on to the next server.
 * Also the internal lookups used to chase out-of-zone CNAME/SRV/MX targets.
 *
 * Two things SkyDNS did not do: each UDP exchange uses a connected socket, so
 * a closed port (ICMP port unreachable, ECONNREFUSED) moves on to the next
 * server at once instead of after -rtimeout; and a server that failed is tried
 * after the others for FAILED_SERVER_MS, instead of first on every query.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { splitHostPort } from './config.js';
import { Writer, decodeMessage, RR, RCODE, TYPE, CLASS, WireError } from './wire.js';
import type { Logger, Upstream } from './resolver.js';

export interface Server {
  host: string;
  port: number;
}

export function parseServers(list: string[]): Server[] {
  return list.map((s) => splitHostPort(s));
}

export class ExchangeError extends Error {}

/** How long a server that failed (no answer, refused, unreachable) is tried after the others. */
export const FAILED_SERVER_MS = 30_000;

/**
 * One UDP exchange: send, wait for a reply with the same ID from that server.
 * The socket is connected to the server (a fresh source port each time), so
 * the kernel reports a closed port as an error at once.
 */
export function exchangeUdp(server: Server, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const id = msg.readUInt16BE(0);
    let done = false;
    const finish = (err: Error | null, buf?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(buf!);
    };
    const timer = setTimeout(() => finish(new ExchangeError(`udp ${server.host}:${server.port}: i/o timeout after ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => finish(new ExchangeError(`udp ${server.host}:${server.port}: ${err.message}`)));
    sock.on('message', (buf) => {
      if (buf.length < 12 || buf.readUInt16BE(0) !== id) return;
      finish(null, buf);
    });
    sock.connect(server.port, server.host, () => {
      if (done) return;
      sock.send(msg, (err) => {
        if (err) finish(new ExchangeError(`udp ${server.host}:${server.port}: ${err.message}`));
      });
    });
  });
}

/** One TCP exchange with 2-byte length framing. */
export function exchangeTcp(server: Server, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server.host, port: server.port });
    let chunks: Buffer[] = [];
    let have = 0;
    let done = false;
    const finish = (err: Error | null, buf?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(buf!);
    };
    const timer = setTimeout(() => finish(new ExchangeError(`tcp ${server.host}:${server.port}: i/o timeout after ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => finish(new ExchangeError(`tcp ${server.host}:${server.port}: ${err.message}`)));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (d) => {
      chunks.push(d);
      have += d.length;
      if (have < 2) return;
      const all = Buffer.concat(chunks);
      chunks = [all];
      const need = all.readUInt16BE(0);
      if (have >= 2 + need) finish(null, all.subarray(2, 2 + need));
    });
    sock.on('end', () => finish(new ExchangeError(`tcp ${server.host}:${server.port}: connection closed before a full reply`)));
  });
}

export interface ForwarderOptions {
  servers: Server[];
  timeoutMs: number;
  nsRotate: boolean;
  log: Logger;
}

export class Forwarder implements Upstream {
  private inflight = new Map<string, Promise<Buffer | null>>();
  /** "host:port" of servers that failed lately → until when they are tried last. */
  private failedUntil = new Map<string, number>();

  constructor(private readonly opts: ForwarderOptions) {}

  get servers(): Server[] {
    return this.opts.servers;
  }

  private async exchange(server: Server, msg: Buffer, tcp: boolean, timeoutMs: number): Promise<Buffer> {
    return tcp ? exchangeTcp(server, msg, timeoutMs) : exchangeUdp(server, msg, timeoutMs);
  }

  /** Whether the server failed within the last FAILED_SERVER_MS. */
  isDemoted(server: Server, now = Date.now()): boolean {
    const key = `${server.host}:${server.port}`;
    const until = this.failedUntil.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.failedUntil.delete(key);
    return false;
  }

  /** The order to try servers in: from `first` on, round the list, servers that failed lately after the rest. */
  order(servers: Server[], first: number): Server[] {
    const n = servers.length;
    const now = Date.now();
    const good: Server[] = [];
    const bad: Server[] = [];
    for (let k = 0; k < n; k++) {
      const s = servers[(first + k) % n];
      (this.isDemoted(s, now) ? bad : good).push(s);
    }
    return bad.length === 0 ? good : [...good, ...bad];
  }

  /**
   * The retry walk: start at `first` (servers that failed lately go last), a
   * SERVFAIL reply is retried once on the same server and then relayed, a
   * transport error moves to the next server; at most N+1 attempts, and none
   * after `deadline` (each waits at most until then). Returns null when every
   * attempt failed.
   */
  async walk(servers: Server[], first: number, msg: Buffer, tcp: boolean, deadline = Infinity): Promise<Buffer | null> {
    const n = servers.length;
    if (n === 0) return null;
    const order = this.order(servers, first % n);
    for (let attempt = 0; attempt <= n; attempt++) {
      const server = order[attempt % n];
      const timeoutMs = Math.min(this.opts.timeoutMs, deadline - Date.now());
      if (timeoutMs <= 0) break;
      try {
        let reply = await this.exchange(server, msg, tcp, timeoutMs);
        this.failedUntil.delete(`${server.host}:${server.port}`);
        if ((reply[3] & 0x0f) === RCODE.SERVFAIL) {
          try {
            reply = await this.exchange(server, msg, tcp, Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now())));
          } catch {
            /* keep the first SERVFAIL */
          }
        }
        return reply;
      } catch (err) {
        this.opts.log.debug(`forward: ${(err as Error).message}`);
        this.failedUntil.set(`${server.host}:${server.port}`, Date.now() + FAILED_SERVER_MS);
      }
    }
    return null;
  }

  /**
   * Relays a client's request (same ID, flags and EDNS0) over the client's
   * transport. Identical in-flight requests share one upstream exchange.
   * Returns the reply with the client's ID, or null when every server failed.
   */
  async forward(raw: Buffer, tcp: boolean, flightKey: string): Promise<Buffer | null> {
    const id = raw.readUInt16BE(0);
    const key = `${tcp ? 't' : 'u'}|${flightKey}`;
    let p = this.inflight.get(key);
    if (!p) {
      const first = this.opts.nsRotate ? id % Math.max(1, this.opts.servers.length) : 0;
      p = this.walk(this.opts.servers, first, raw, tcp).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const reply = await p;
    if (!reply) return null;
    const out = Buffer.from(reply);
    out.writeUInt16BE(id, 0);
    return out;
  }

  /**
   * Internal lookup (new ID, RD, EDNS0 with the client's size and DO), over
   * UDP, all attempts within one -rtimeout: the client that waits for the
   * chased CNAME target gets the CNAME alone rather than time out.
   */
  async lookup(name: string, qtype: number, opts: { do: boolean; bufsize: number }): Promise<RR[] | null> {
    const id = randomInt(0, 65536);
    const w = new Writer(512);
    w.u16(id);
    w.u16(0x0100);
    w.u16(1);
    w.u16(0);
    w.u16(0);
    w.u16(1);
    w.name(name, false);
    w.u16(qtype);
    w.u16(CLASS.IN);
    w.u8(0);
    w.u16(TYPE.OPT);
    w.u16(Math.max(512, opts.bufsize));
    w.u32(opts.do ? 0x8000 : 0);
    w.u16(0);
    const msg = Buffer.from(w.result());
    const first = this.opts.nsRotate ? id % Math.max(1, this.opts.servers.length) : 0;
    const reply = await this.walk(this.opts.servers, first, msg, false, Date.now() + this.opts.timeoutMs);
    if (!reply) return null;
    try {
      const m = decodeMessage(reply);
      if (m.header.rcode !== RCODE.NOERROR) return null;
      return m.answer;
    } catch (err) {
      if (err instanceof WireError) {
        this.opts.log.warn(`upstream lookup of ${name}: malformed reply: ${err.message}`);
        return null;
      }
      throw err;
    }
  }
}
