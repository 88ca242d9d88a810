/**
 * UDP and TCP listeners for the DNS handler. TCP: RFC 1035 length framing,
 * pipelined queries (RFC 7766), a bound on concurrent connections (a new
 * client takes the slot of the one idle longest), an idle timeout between
 * messages, a deadline for each message from its first byte, and
 * back-pressure against clients that do not read their answers.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DnsHandler, Transport, isPromise } from './handler.js';
import { LogThrottle } from './log-throttle.js';
import type { Metrics } from './metrics.js';
import type { Logger } from './resolver.js';
import { BatchUdp, PORT_ZERO, SlotTransport, type UdpIo, loadUdpIo } from './udp-batch.js';

export interface ServerOptions {
  host: string;
  port: number;
  maxTcpConns: number;
  /** Close a TCP client that sends no message for this long (-tcp-idle-timeout). */
  tcpIdleMs: number;
  /** Close a TCP client whose message is not whole this long after its first byte (-tcp-io-timeout). */
  tcpIoMs: number;
  /** Bind the UDP socket exclusively (false lets cluster workers share it). */
  exclusive?: boolean;
  /** UDP socket I/O (see -udp-io); default auto. */
  udpIo?: 'auto' | 'batch' | 'dgram';
  /** Where datagrams dropped for their source port are counted (malformed_requests_total{reason="source-port-0"}). */
  metrics?: Metrics | null;
}

const MAX_PIPELINE = 64;

/**
 * dgram resolves the destination of every send() with dns.lookup, which for an
 * IP literal still re-checks the string and defers the send to the next tick.
 * We only ever answer the literal address a query came from (rinfo.address),
 * so pass it straight through: the answer is sent synchronously (≈ 8 % more
 * answers per second at saturation, measured with dnsperf on loopback).
 */
export function literalLookup(
  address: string,
  _family: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}
const MAX_TCP_BACKLOG_BYTES = 1 << 20;

/**
 * Where a TCP client stands: between messages, in the middle of one, or
 * waiting for its own answers (see DnsServer.settle).
 */
type TcpState = 'idle' | 'reading' | 'busy';

const NO_BYTES = Buffer.alloc(0);

/** The state a client's buffer and answers in flight put it in. */
function stateOf(c: TcpClient): TcpState {
  const b = c.buf;
  if (b.length === 0) return c.pending > 0 ? 'busy' : 'idle';
  // The pipeline is full (reading is paused), or whole messages wait for room in it: the client is not the slow one.
  if (c.pending >= MAX_PIPELINE || (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0))) return 'busy';
  return 'reading';
}

/** One TCP client: its bytes not yet framed into messages, its answers in flight, its state and timer. */
class TcpClient {
  readonly remote: string;
  readonly transport: Transport;
  buf: Buffer = NO_BYTES;
  pending = 0;
  closed = false;
  state: TcpState = 'idle';
  /** When it last sent a message or got an answer (Date.now()); connecting counts. The idle clock runs from here. */
  activeAt: number;
  /** When it last went from idle to busy or back. */
  since: number;
  timer: NodeJS.Timeout | null = null;
  onTimer: () => void = () => undefined;

  constructor(readonly sock: net.Socket, now: number) {
    this.remote = `${sock.remoteAddress}:${sock.remotePort}`;
    this.transport = { tcp: true, remote: this.remote };
    this.activeAt = now;
    this.since = now;
  }
}

/** A UDP client as the handler sees it; its address text is made only when a log line needs it. */
class UdpTransport implements Transport {
  readonly tcp = false;
  constructor(private readonly rinfo: dgram.RemoteInfo) {}
  get remote(): string {
    return `${this.rinfo.address}:${this.rinfo.port}`;
  }
}

export class DnsServer {
  private udp: dgram.Socket | null = null;
  private batch: BatchUdp | null = null;
  /** Which UDP I/O serves (after listen()), and why. */
  udpMode: { mode: 'batch' | 'dgram'; why: string } = { mode: 'dgram', why: '' };
  private tcp: net.Server | null = null;
  /** The TCP clients, idle or not, each set in the order its clients entered it or were last active: the first gives up its slot next. */
  private idleClients = new Set<TcpClient>();
  private busyClients = new Set<TcpClient>();
  private closing = false;
  private tcpEvicted = 0;
  private tcpIoTimeouts = 0;
  private udpFromPortZero = 0;
  private readonly evictLog = new LogThrottle();
  private readonly ioLog = new LogThrottle();
  private readonly portZeroLog = new LogThrottle();

  constructor(private readonly handler: DnsHandler, private readonly opts: ServerOptions, private readonly log: Logger) {}

  /** The UDP I/O -udp-io asks for and can have: the native module, or null and why not. */
  private udpIo(): { io: UdpIo | null; why: string } {
    return (this.opts.udpIo ?? 'auto') === 'dgram' ? { io: null, why: '-udp-io=dgram' } : loadUdpIo();
  }

  /**
   * A client as the UDP listener hands it to the handler (the same class), for
   * the warm-up: run with the transports real queries bring, the optimised
   * query path is not thrown away at the first real query (lib/skydns/warm.ts).
   */
  warmTransport(): Transport {
    const io = this.udpIo().io;
    return io ? new SlotTransport(Buffer.alloc(io.ADDR)) : new UdpTransport({ address: '127.0.0.1', family: 'IPv4', port: 0, size: 0 });
  }

  async listen(): Promise<void> {
    const { host, port } = this.opts;
    const want = this.opts.udpIo ?? 'auto';
    const loaded = this.udpIo();
    if (loaded.io === null && want === 'batch') throw new Error(`-udp-io=batch: ${loaded.why}`);
    if (loaded.io !== null) {
      const b = new BatchUdp(loaded.io, this.handler, this.log, this.opts.metrics ?? null);
      // Cluster workers each bind a socket of their own to the port (SO_REUSEPORT); the kernel spreads clients over them.
      b.listen(host, port, !(this.opts.exclusive ?? true));
      this.batch = b;
      this.udpMode = { mode: 'batch', why: loaded.why };
    } else {
      await this.listenDgram(host, port);
      this.udpMode = { mode: 'dgram', why: loaded.why };
    }

    const tcp = net.createServer({ noDelay: true }, (sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host, port, exclusive: this.opts.exclusive ?? true }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.log.error(`tcp ${host}:${port}: ${err.message}`));
    this.tcp = tcp;
  }

  private async listenDgram(host: string, port: number): Promise<void> {
    const type = host.includes(':') ? 'udp6' : 'udp4';
    const udp = dgram.createSocket({ type, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20, lookup: literalLookup });
    udp.on('message', (msg, rinfo) => {
      // No answer can go back to port 0 (dgram's send throws for it): a forged or broken sender.
      if (rinfo.port === 0) {
        this.fromPortZero(rinfo.address);
        return;
      }
      const out = this.handler.answer(msg, new UdpTransport(rinfo));
      if (out === null) return;
      if (!isPromise(out)) {
        udp.send(out, rinfo.port, rinfo.address);
        return;
      }
      out.then((b) => {
        // An answer ready after close() is dropped, as BatchUdp.sendLater does: send on the closed socket would throw.
        if (b && !this.closing) udp.send(b, rinfo.port, rinfo.address);
      });
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: host, port, exclusive: this.opts.exclusive ?? true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.log.error(`udp ${host}:${port}: ${err.message}`));
    this.udp = udp;
  }

  /** A datagram from source port 0 is dropped and counted (Node's dgram path). */
  private fromPortZero(address: string): void {
    this.udpFromPortZero++;
    this.opts.metrics?.malformed.inc(PORT_ZERO);
    const held = this.portZeroLog.take();
    if (held >= 0) this.log.warn(`udp: datagram from ${address}:0 dropped: no answer can be sent to port 0${this.portZeroLog.moreText(held)}`);
  }

  /** The actual UDP port (useful with port 0). */
  get port(): number {
    if (this.batch) return this.batch.port;
    const a = this.udp?.address();
    return a ? a.port : this.opts.port;
  }

  /** Counts of client behaviour that cost a client its connection or its datagram. */
  stats(): { tcpEvicted: number; tcpIoTimeouts: number; udpFromPortZero: number } {
    return { tcpEvicted: this.tcpEvicted, tcpIoTimeouts: this.tcpIoTimeouts, udpFromPortZero: this.udpFromPortZero + (this.batch?.fromPortZero ?? 0) };
  }

  /**
   * A new client takes a slot; when all -tcp-max-conns are taken, the client
   * idle longest gives up its slot (or, when none is idle, the one busy
   * longest), so that clients holding connections open cannot lock others out.
   */
  private onConnection(sock: net.Socket): void {
    const c = new TcpClient(sock, Date.now());
    if (this.idleClients.size + this.busyClients.size >= this.opts.maxTcpConns) this.evictFor(c);
    c.onTimer = () => this.expire(c);
    this.idleClients.add(c);
    this.arm(c, this.opts.tcpIdleMs);
    sock.on('error', () => undefined);
    sock.on('close', () => this.drop(c));
    sock.on('data', (d: Buffer) => {
      c.buf = c.buf.length === 0 ? d : Buffer.concat([c.buf, d]);
      const took = this.pump(c);
      this.settle(c, took, took);
    });
  }

  private evictFor(newcomer: TcpClient): void {
    const victim = this.idleClients.values().next().value ?? this.busyClients.values().next().value;
    if (victim === undefined) return;
    this.tcpEvicted++;
    const held = this.evictLog.take();
    if (held >= 0) {
      const what = victim.state === 'idle' ? 'idle' : victim.state === 'reading' ? 'reading a message' : 'waiting for its answers';
      this.log.info(`tcp: all ${this.opts.maxTcpConns} connection slots taken (-tcp-max-conns): closed ${victim.remote} (${what} for ${Date.now() - (victim.state === 'idle' ? victim.activeAt : victim.since)} ms) to serve ${newcomer.remote}${this.evictLog.moreText(held)}`);
    }
    this.drop(victim);
  }

  /** The timer of a client's state ran out: between messages (-tcp-idle-timeout) or within one (-tcp-io-timeout). */
  private expire(c: TcpClient): void {
    c.timer = null;
    if (c.closed) return;
    if (c.state === 'reading') {
      this.tcpIoTimeouts++;
      const held = this.ioLog.take();
      if (held >= 0) {
        const b = c.buf;
        const have = b.length >= 2 ? `${b.length - 2} of its ${b.readUInt16BE(0)} bytes` : `${b.length} of the 2 length bytes`;
        this.log.warn(`tcp client ${c.remote}: message not complete ${this.opts.tcpIoMs} ms after its first byte (${have}); connection closed (-tcp-io-timeout)${this.ioLog.moreText(held)}`);
      }
    }
    this.drop(c);
  }

  /** Closes a client's connection and frees its slot at once (the socket's 'close' event comes later). */
  private drop(c: TcpClient): void {
    if (c.closed) return;
    c.closed = true;
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    this.idleClients.delete(c);
    this.busyClients.delete(c);
    c.sock.destroy();
  }

  private arm(c: TcpClient, ms: number): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = setTimeout(c.onTimer, ms);
  }

  /**
   * Where a client stands after its bytes were framed or an answer left:
   * idle (nothing buffered, nothing in flight: -tcp-idle-timeout runs from
   * its last message or answer, so bytes that make no message, such as empty
   * frames, do not keep it open), reading (part of a message:
   * -tcp-io-timeout runs from its first byte, and more bytes do not extend
   * it) or busy (waiting for its own answers: no timer, the upstream
   * timeouts bound that). `took`: a whole message was taken, so the next one
   * starts its own clock; `active`: that, or an answer went out, so the idle
   * clock starts again and the client goes to the back of the eviction order.
   */
  private settle(c: TcpClient, took: boolean, active: boolean): void {
    if (c.closed) return;
    const next = stateOf(c);
    if (next === c.state && !took && !active) return;
    const now = Date.now();
    const wasIdle = c.state === 'idle';
    if (active) c.activeAt = now;
    if (active || (next === 'idle') !== wasIdle) {
      // Insertion order is the eviction order: a client that entered its set last, or was active last, goes last.
      (wasIdle ? this.idleClients : this.busyClients).delete(c);
      (next === 'idle' ? this.idleClients : this.busyClients).add(c);
      if ((next === 'idle') !== wasIdle) c.since = now;
    }
    const prev = c.state;
    c.state = next;
    if (next === 'idle') this.arm(c, c.activeAt + this.opts.tcpIdleMs - now);
    else if (next === 'reading') {
      if (took || prev !== 'reading') this.arm(c, this.opts.tcpIoMs);
    } else if (c.timer) {
      clearTimeout(c.timer);
      c.timer = null;
    }
  }

  /** Answers the whole messages buffered, as far as the pipeline allows; true if it took a non-empty one. */
  private pump(c: TcpClient): boolean {
    let took = false;
    while (c.buf.length >= 2 && c.pending < MAX_PIPELINE) {
      const len = c.buf.readUInt16BE(0);
      if (c.buf.length < 2 + len) break;
      const msg = Buffer.from(c.buf.subarray(2, 2 + len));
      c.buf = c.buf.subarray(2 + len);
      // An empty frame is no message: it neither gets an answer nor counts as activity.
      if (len === 0) continue;
      took = true;
      const now = this.handler.answer(msg, c.transport);
      if (now === null) {
        if (len < 12) {
          this.drop(c);
          return took;
        }
        continue;
      }
      if (!isPromise(now)) {
        if (!this.reply(c, now)) return took;
        continue;
      }
      c.pending++;
      now.then(
        (out) => this.answered(c, out, len),
        () => undefined,
      );
    }
    if (c.pending >= MAX_PIPELINE) c.sock.pause();
    return took;
  }

  /** An answer that needed the network is ready. */
  private answered(c: TcpClient, out: Buffer | null, len: number): void {
    c.pending--;
    if (c.closed) return;
    if (out) {
      if (!this.reply(c, out)) return;
    } else if (len < 12) {
      this.drop(c);
      return;
    }
    if (c.sock.isPaused() && c.pending < MAX_PIPELINE) c.sock.resume();
    const took = this.pump(c);
    this.settle(c, took, true);
  }

  /** Writes one framed answer; false (and the client closed) when the client does not read its answers. */
  private reply(c: TcpClient, out: Buffer): boolean {
    const framed = Buffer.allocUnsafe(2 + out.length);
    framed.writeUInt16BE(out.length, 0);
    out.copy(framed, 2);
    c.sock.write(framed);
    if (c.sock.writableLength > MAX_TCP_BACKLOG_BYTES) {
      this.log.warn(`tcp client ${c.remote} does not read its answers; closing`);
      this.drop(c);
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const c of [...this.idleClients, ...this.busyClients]) this.drop(c);
    this.batch?.close();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
  }
}
