/**
 * Forwarding to upstream nameservers (docs/skydns.md §4.1–4.4):
 * the client's own request relayed over the client's transport, the first
 * server chosen by ID (ns-rotate) or always the first, a SERVFAIL retried once
 * on the same server, transport errors walking on to the next server.
 * Also the internal lookups used to chase out-of-zone CNAME/SRV/MX targets.
 *
 * Beyond SkyDNS: UDP exchanges go over connected sockets, so a closed port
 * (ICMP port unreachable, ECONNREFUSED) moves on to the next server at once
 * instead of after -rtimeout; a few such sockets per server are shared by many
 * exchanges under random IDs and replaced now and then (UdpLink); a server
 * that failed is tried after the others for FAILED_SERVER_MS, instead of first
 * on every query; and at most -max-forwards walks are outstanding at once
 * (beyond, REFUSED at once), so a silent upstream cannot pile up sockets and
 * memory without bound.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { splitHostPort } from './config.js';
import { Writer, decodeMessage, RR, RCODE, TYPE, CLASS, WireError, isResponse, rcodeOf, setId } from './wire.js';
import type { Metrics } from './metrics.js';
import type { Logger, Upstream } from './resolver.js';
import { RateLimitedLine } from './log-throttle.js';

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

/** Connected UDP sockets in use at once per upstream server; each exchange takes one of them at random. */
export const SOCKETS_PER_SERVER = 4;
/**
 * A socket takes no new exchange after this many, or once it is this old, and
 * is closed when its last exchange settles: the source port keeps changing
 * (with the random ID, what a spoofed reply must guess), while a socket still
 * serves many exchanges instead of costing a descriptor each.
 */
export const SOCKET_MAX_USES = 100;
export const SOCKET_MAX_AGE_MS = 10_000;

/** The question section of a one-question message with its name written out in full (no compression pointer), or null. */
function questionOf(msg: Buffer): Buffer | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  let p = 12;
  while (p < msg.length && msg[p] !== 0) {
    if (msg[p] > 63) return null;
    p += msg[p] + 1;
  }
  return p + 5 <= msg.length ? msg.subarray(12, p + 5) : null;
}

/** Whether `reply` answers a query whose question section is `question`: QR set, and the same question (name case aside), or none with an error rcode. */
export function replyMatches(reply: Buffer, question: Buffer | null): boolean {
  if (reply.length < 12 || !isResponse(reply)) return false;
  if (question === null) return true;
  const qdcount = reply.readUInt16BE(4);
  // Some servers leave the question out of an error reply (FORMERR, NOTIMP).
  if (qdcount === 0) return rcodeOf(reply) !== RCODE.NOERROR;
  if (qdcount !== 1 || reply.length < 12 + question.length) return false;
  for (let i = 0; i < question.length; i++) {
    const a = reply[12 + i];
    const b = question[i];
    // Length bytes are at most 63, below 'A': only letters fold.
    if (a !== b && !((a | 0x20) === (b | 0x20) && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7a)) return false;
  }
  return true;
}

interface Pending {
  question: Buffer | null;
  timer: NodeJS.Timeout;
  resolve(reply: Buffer): void;
  reject(err: Error): void;
}

/**
 * One UDP socket connected to one upstream server, shared by up to
 * SOCKET_MAX_USES exchanges, each under an ID no other outstanding exchange on
 * it has. Connected, so the kernel reports a closed port (ICMP port
 * unreachable) as ECONNREFUSED; that error is not tied to one exchange, and the
 * port is closed for all of them, so every exchange on the socket fails over
 * at once and the socket is dropped.
 */
export class UdpLink {
  private readonly sock: dgram.Socket;
  private readonly pending = new Map<number, Pending>();
  /** Queries written before the socket was connected (dgram cannot send on a connecting socket). */
  private queued: Buffer[] | null = [];
  private uses = 0;
  private retired = false;
  private closed = false;
  private readonly ageTimer: NodeJS.Timeout;

  constructor(
    readonly server: Server,
    private readonly hooks: { retired(link: UdpLink): void; closed(link: UdpLink): void; mismatch(server: Server, why: string): void },
  ) {
    this.sock = dgram.createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    this.sock.on('error', (err) => this.fail(err));
    this.sock.on('message', (buf) => this.receive(buf));
    this.sock.connect(server.port, server.host, () => this.connected());
    this.ageTimer = setTimeout(() => this.retire(), SOCKET_MAX_AGE_MS).unref();
  }

  /** Sends `msg` under a fresh random ID; settles with the reply (carrying that ID) or an ExchangeError. */
  exchange(msg: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(this.error('socket closed'));
    let id = randomInt(0, 65536);
    while (this.pending.has(id)) id = randomInt(0, 65536); // at most SOCKET_MAX_USES are taken
    const out = Buffer.from(msg);
    setId(out, id);
    const p = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, this.error(`i/o timeout after ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { question: questionOf(msg), timer, resolve, reject });
    });
    if (++this.uses >= SOCKET_MAX_USES) this.retire();
    if (this.queued) this.queued.push(out);
    else this.send(out);
    return p;
  }

  /** Takes no new exchange; closes once the outstanding ones settle. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    clearTimeout(this.ageTimer);
    this.hooks.retired(this);
    if (this.pending.size === 0) this.close();
  }

  /** Settles every outstanding exchange with `err` and closes the socket. */
  fail(err: Error): void {
    const e = err instanceof ExchangeError ? err : this.error(err.message);
    for (const id of [...this.pending.keys()]) this.settle(id, e);
    this.retire();
    this.close();
  }

  private error(why: string): ExchangeError {
    return new ExchangeError(`udp ${this.server.host}:${this.server.port}: ${why}`);
  }

  private connected(): void {
    const q = this.queued;
    this.queued = null;
    if (this.closed || !q) return;
    for (const out of q) this.send(out);
  }

  private send(out: Buffer): void {
    try {
      this.sock.send(out, (err) => {
        if (err) this.fail(err);
      });
    } catch (err) {
      this.fail(err as Error); // closed under us: never thrown to the caller
    }
  }

  private receive(buf: Buffer): void {
    if (buf.length < 12) return this.hooks.mismatch(this.server, `a ${buf.length}-byte datagram`);
    const id = buf.readUInt16BE(0);
    const p = this.pending.get(id);
    // An ID nothing waits for: most likely a reply that came after -rtimeout.
    if (!p) return;
    if (!replyMatches(buf, p.question)) return this.hooks.mismatch(this.server, 'a reply whose question is not the one asked');
    this.settle(id, null, buf);
  }

  private settle(id: number, err: Error | null, reply?: Buffer): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(reply!);
    if (this.retired && this.pending.size === 0) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.ageTimer);
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
    this.hooks.closed(this);
  }
}

/** One TCP exchange with 2-byte length framing; `signal` ends it early (the forwarder closing). */
export function exchangeTcp(server: Server, msg: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ExchangeError(`tcp ${server.host}:${server.port}: forwarder closed`));
    const sock = net.connect({ host: server.host, port: server.port });
    let chunks: Buffer[] = [];
    let have = 0;
    let done = false;
    const abort = () => finish(new ExchangeError(`tcp ${server.host}:${server.port}: forwarder closed`));
    const finish = (err: Error | null, buf?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      sock.destroy();
      if (err) reject(err);
      else resolve(buf!);
    };
    const timer = setTimeout(() => finish(new ExchangeError(`tcp ${server.host}:${server.port}: i/o timeout after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', abort);
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

/** Default of -max-forwards (see ForwarderOptions.maxOutstanding). */
export const DEFAULT_MAX_FORWARDS = 1000;
/** At most one line about refused forwards (and one about mismatched replies) this often. */
export const REFUSED_LOG_EVERY_MS = 5000;

/** What walk() and forward() give when maxOutstanding exchanges are outstanding already: nothing was sent. */
export const BUSY: unique symbol = Symbol('busy');
export type Busy = typeof BUSY;

export interface ForwarderOptions {
  servers: Server[];
  timeoutMs: number;
  nsRotate: boolean;
  log: Logger;
  /**
   * Retry walks (forwarded queries, stub-zone queries, CNAME-target lookups)
   * outstanding at once; one more is refused at once. A walk holds at most one
   * exchange, so this bounds the exchanges, their sockets and their memory
   * while the upstream is slow or silent. 0: no bound.
   */
  maxOutstanding?: number;
  /** Counts the walks refused by maxOutstanding. */
  metrics?: Metrics | null;
}

export class Forwarder implements Upstream {
  private inflight = new Map<string, Promise<Buffer | null | Busy>>();
  /** "host:port" of servers that failed lately → until when they are tried last. */
  private failedUntil = new Map<string, number>();
  /** "host:port" → the sockets new UDP exchanges with that server take. */
  private pools = new Map<string, UdpLink[]>();
  /** Every open UDP socket, those retired but still waiting for replies included. */
  private links = new Set<UdpLink>();
  /** Ends TCP exchanges when the forwarder closes. */
  private readonly closing = new AbortController();
  private walks = 0;
  private closed = false;
  private readonly maxOutstanding: number;
  private readonly refusedLine: RateLimitedLine;
  private readonly mismatchLine: RateLimitedLine;
  private lastMismatch = '';

  constructor(private readonly opts: ForwarderOptions) {
    this.maxOutstanding = opts.maxOutstanding ?? DEFAULT_MAX_FORWARDS;
    this.refusedLine = new RateLimitedLine(REFUSED_LOG_EVERY_MS, (n, s, first) =>
      opts.log.warn(
        first
          ? `forward: ${this.maxOutstanding} upstream exchanges outstanding (-max-forwards): new forwards get REFUSED until some finish; are the nameservers slow or silent?`
          : `forward: refused ${n} more forward${n === 1 ? '' : 's'} in the last ${s.toFixed(1)} s: ${this.maxOutstanding} upstream exchanges outstanding (-max-forwards)`,
      ),
    );
    this.mismatchLine = new RateLimitedLine(REFUSED_LOG_EVERY_MS, (n, s, first) =>
      opts.log.warn(`forward: dropped ${n} datagram${n === 1 ? '' : 's'} ${first ? '' : `in the last ${s.toFixed(1)} s `}that matched no outstanding query (last: ${this.lastMismatch})`),
    );
  }

  get servers(): Server[] {
    return this.opts.servers;
  }

  private exchange(server: Server, msg: Buffer, tcp: boolean, timeoutMs: number): Promise<Buffer> {
    if (tcp) return exchangeTcp(server, msg, timeoutMs, this.closing.signal);
    return this.link(server).exchange(msg, timeoutMs);
  }

  /** A socket for one more UDP exchange with `server`: a new one while the pool is short, else one of the pool at random. */
  private link(server: Server): UdpLink {
    const key = `${server.host}:${server.port}`;
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = []));
    if (pool.length < SOCKETS_PER_SERVER) {
      const link = new UdpLink(server, {
        retired: (l) => this.unpool(key, l),
        closed: (l) => this.links.delete(l),
        mismatch: (s, why) => {
          this.lastMismatch = `${why} from ${s.host}:${s.port}`;
          this.mismatchLine.note();
        },
      });
      pool.push(link);
      this.links.add(link);
      return link;
    }
    return pool[randomInt(0, pool.length)];
  }

  private unpool(key: string, link: UdpLink): void {
    const pool = this.pools.get(key);
    if (!pool) return;
    const i = pool.indexOf(link);
    if (i >= 0) pool.splice(i, 1);
    if (pool.length === 0) this.pools.delete(key);
  }

  /** Takes a walk slot, or counts and reports a refusal (false). */
  private admit(): boolean {
    if (this.maxOutstanding > 0 && this.walks >= this.maxOutstanding) {
      this.opts.metrics?.forwardsRefused.inc('');
      this.refusedLine.note();
      return false;
    }
    this.walks++;
    return true;
  }

  /**
   * Ends forwarding: every outstanding exchange settles at once (its walk
   * gives null, the client SERVFAIL), sockets are closed, and later walks give
   * null without sending anything. Safe to call more than once.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    for (const link of [...this.links]) link.fail(new ExchangeError('forwarder closed'));
    this.pools.clear();
    this.refusedLine.close();
    this.mismatchLine.close();
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
   * attempt failed (or the forwarder is closed), BUSY when maxOutstanding
   * walks are outstanding already.
   */
  async walk(servers: Server[], first: number, msg: Buffer, tcp: boolean, deadline = Infinity): Promise<Buffer | null | Busy> {
    if (this.closed || servers.length === 0) return null;
    if (!this.admit()) return BUSY;
    try {
      return await this.attempts(servers, first, msg, tcp, deadline);
    } finally {
      this.walks--;
    }
  }

  private async attempts(servers: Server[], first: number, msg: Buffer, tcp: boolean, deadline: number): Promise<Buffer | null> {
    const n = servers.length;
    const order = this.order(servers, first % n);
    for (let attempt = 0; attempt <= n; attempt++) {
      const server = order[attempt % n];
      const timeoutMs = Math.min(this.opts.timeoutMs, deadline - Date.now());
      if (timeoutMs <= 0 || this.closed) break;
      try {
        let reply = await this.exchange(server, msg, tcp, timeoutMs);
        this.failedUntil.delete(`${server.host}:${server.port}`);
        if (rcodeOf(reply) === RCODE.SERVFAIL && !this.closed) {
          try {
            reply = await this.exchange(server, msg, tcp, Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now())));
          } catch {
            /* keep the first SERVFAIL */
          }
        }
        return reply;
      } catch (err) {
        if (this.closed) break;
        this.opts.log.debug(`forward: ${(err as Error).message}`);
        this.failedUntil.set(`${server.host}:${server.port}`, Date.now() + FAILED_SERVER_MS);
      }
    }
    return null;
  }

  /**
   * Relays a client's request (same flags and EDNS0; over UDP under an ID of
   * our own) over the client's transport. Identical in-flight requests share
   * one upstream exchange. Returns the reply with the client's ID, null when
   * every server failed, or BUSY when too many exchanges are outstanding.
   */
  async forward(raw: Buffer, tcp: boolean, flightKey: string): Promise<Buffer | null | Busy> {
    const id = raw.readUInt16BE(0);
    const key = `${tcp ? 't' : 'u'}|${flightKey}`;
    let p = this.inflight.get(key);
    if (!p) {
      const first = this.opts.nsRotate ? id % Math.max(1, this.opts.servers.length) : 0;
      p = this.walk(this.opts.servers, first, raw, tcp).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const reply = await p;
    if (reply === null || reply === BUSY) return reply;
    const out = Buffer.from(reply);
    setId(out, id);
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
    if (reply === null || reply === BUSY) return null;
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
