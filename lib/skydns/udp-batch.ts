/**
 * skydns's UDP listener on the batched I/O module (native/udpio.c): the
 * kernel hands over up to 64 queries per system call (recvmmsg), they are
 * answered in one pass here, and the replies leave in one system call
 * (sendmmsg). Node's dgram costs a system call, a callback and a new
 * ArrayBuffer per datagram in each direction; on loopback this does ~3.5×
 * the datagrams per CPU second (bench/README.md).
 *
 * The datagrams of a batch sit in a receive area that the next batch
 * overwrites: the handler gets a view of its slot, valid while it runs
 * synchronously, and copies the request before any asynchronous work
 * (DnsHandler.detach). A reply that is not ready at once is sent on its own
 * (sendto) when it is, to the sender's address copied for it.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { DnsHandler, Transport, isPromise } from './handler.js';
import { LogThrottle } from './log-throttle.js';
import type { Metrics } from './metrics.js';
import type { Logger } from './resolver.js';

/** The native module's functions (native/udpio.c). */
export interface UdpIo {
  readonly BATCH: number;
  readonly SLOT: number;
  readonly ADDR: number;
  open(host: string, port: number, v6: boolean, reusePort: boolean, bufBytes: number): number;
  localPort(fd: number): number;
  start(fd: number, holder: BatchBuffers, onBatch: (count: number) => void): object;
  sendTo(handle: object, buf: Buffer, addr: Buffer, addrLen: number): number;
  addrLen(handle: object, i: number): number;
  stats(handle: object): { received: number; sent: number; dropped: number; truncated: number; batches: number };
  stop(handle: object): void;
  closeFd(fd: number): void;
}

interface BatchBuffers {
  recv: Buffer;
  send: Buffer;
  lens: Buffer;
  addrs: Buffer;
}

/** Where the module is built (scripts/build-native.mjs): native/udpio.node at the package root. */
export const MODULE_PATH = fileURLToPath(new URL('../../../native/udpio.node', import.meta.url));

let loaded: { io: UdpIo | null; why: string } | null = null;

/** The native module, or null and the reason it cannot be used. Loaded once. */
export function loadUdpIo(): { io: UdpIo | null; why: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { io: null, why: `recvmmsg/sendmmsg are Linux system calls; this is ${process.platform}` });
  try {
    const io = createRequire(import.meta.url)(MODULE_PATH) as UdpIo;
    if (typeof io.start !== 'function' || io.BATCH < 1) return (loaded = { io: null, why: `${MODULE_PATH} is not the module this skydns expects` });
    return (loaded = { io, why: `${MODULE_PATH}` });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? `${MODULE_PATH} is not built (node scripts/build-native.mjs)` : `${MODULE_PATH}: ${e.message.split('\n')[0]}`;
    return (loaded = { io: null, why });
  }
}

/** The malformed_requests_total reason of a datagram from source port 0. */
export const PORT_ZERO = 'source-port-0';

const LITTLE = os.endianness() === 'LE';
const VIEWS_PER_SLOT = 64;

/** "ip:port" of the sockaddr at `o` (sockaddr_in or sockaddr_in6, as the kernel wrote it). */
export function formatSockaddr(a: Buffer, o: number): string {
  const family = LITTLE ? a[o] | (a[o + 1] << 8) : (a[o] << 8) | a[o + 1];
  const port = (a[o + 2] << 8) | a[o + 3];
  if (family === 2) return `${a[o + 4]}.${a[o + 5]}.${a[o + 6]}.${a[o + 7]}:${port}`;
  if (family === 10) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((a[o + 8 + i] << 8) | a[o + 9 + i]).toString(16));
    return `[${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]:${port}`;
  }
  return `family-${family}:${port}`;
}

/** The client of the datagram being answered; its address text is made only when a log line asks. */
export class SlotTransport implements Transport {
  readonly tcp = false;
  at = 0;
  constructor(private readonly addrs: Buffer) {}
  get remote(): string {
    return formatSockaddr(this.addrs, this.at);
  }
}

export class BatchUdp {
  private fd = -1;
  private handle: object | null = null;
  private closed = false;
  private readonly bufs: BatchBuffers;
  private readonly lens: Int32Array;
  private readonly transport: SlotTransport;
  /**
   * Views of the receive area, by slot and length, made once and reused: a
   * datagram costs no new object (the handler must not keep its view beyond
   * the call, see DnsHandler.answer). At most VIEWS_PER_SLOT lengths per slot.
   */
  private readonly views: Map<number, Buffer>[];
  /** Datagrams dropped because they came from port 0 (no reply can go there). */
  fromPortZero = 0;
  private readonly portZeroLog = new LogThrottle();

  constructor(private readonly io: UdpIo, private readonly handler: DnsHandler, private readonly log: Logger, private readonly metrics: Metrics | null = null) {
    const { BATCH, SLOT, ADDR } = io;
    this.bufs = {
      recv: Buffer.alloc(BATCH * SLOT),
      send: Buffer.alloc(BATCH * SLOT),
      lens: Buffer.alloc(BATCH * 2 * 4),
      addrs: Buffer.alloc(BATCH * ADDR),
    };
    this.lens = new Int32Array(this.bufs.lens.buffer, this.bufs.lens.byteOffset, BATCH * 2);
    this.transport = new SlotTransport(this.bufs.addrs);
    this.views = Array.from({ length: BATCH }, () => new Map<number, Buffer>());
  }

  private view(i: number, len: number): Buffer {
    const m = this.views[i];
    let v = m.get(len);
    if (v === undefined) {
      if (m.size >= VIEWS_PER_SLOT) m.clear();
      const o = i * this.io.SLOT;
      v = this.bufs.recv.subarray(o, o + len);
      m.set(len, v);
    }
    return v;
  }

  /** Binds host:port (reusePort: several processes share it, each with a socket of its own) and starts answering. */
  listen(host: string, port: number, reusePort: boolean): void {
    this.fd = this.io.open(host, port, host.includes(':'), reusePort, 4 << 20);
    try {
      this.handle = this.io.start(this.fd, this.bufs, this.onBatch);
    } catch (err) {
      this.io.closeFd(this.fd);
      throw err;
    }
  }

  get port(): number {
    return this.fd >= 0 ? this.io.localPort(this.fd) : 0;
  }

  stats(): ReturnType<UdpIo['stats']> | null {
    return this.handle ? this.io.stats(this.handle) : null;
  }

  /** Answers datagrams 0..count-1 of the receive area; a reply ready at once goes into the same slot of the send area. */
  private readonly onBatch = (count: number): void => {
    const { BATCH, SLOT, ADDR } = this.io;
    const { send, addrs } = this.bufs;
    const lens = this.lens;
    // One clock reading for the batch (Date.now() boxes its result: a heap number per call).
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const len = lens[i];
      if (len < 0) {
        this.log.debug(`udp ${formatSockaddr(addrs, i * ADDR)}: datagram larger than ${SLOT} bytes dropped`);
        continue;
      }
      // sin_port and sin6_port are both at offset 2, in network order: 0 is no port to answer to.
      if (addrs[i * ADDR + 2] === 0 && addrs[i * ADDR + 3] === 0) {
        this.dropFromPortZero(i);
        continue;
      }
      const o = i * SLOT;
      this.transport.at = i * ADDR;
      let out: number | Buffer | null | Promise<Buffer | null>;
      try {
        // A cached reply is written straight into this datagram's send slot.
        out = this.handler.answerInto(this.view(i, len), this.transport, send, o, SLOT, now);
      } catch (err) {
        // answer() never throws; if it ever did, one query must not stop the batch.
        this.log.error(`udp: answering ${this.transport.remote}: ${(err as Error).message}`);
        continue;
      }
      // The length to send from this slot (0: none) is written at one place for every kind of
      // reply: a branch of its own would hold the first write of a cached reply, and code
      // optimised while only computed replies came (the cache still empty, just after start)
      // would be thrown away there (lib/skydns/warm.ts).
      let reply = 0;
      if (typeof out === 'number') reply = out;
      else if (out === null) reply = 0;
      else if (!isPromise(out)) {
        if (out.length <= SLOT) {
          out.copy(send, o);
          reply = out.length;
        } else this.sendLater(out, Buffer.from(addrs.subarray(i * ADDR, (i + 1) * ADDR)), this.io.addrLen(this.handle!, i));
      } else this.whenReady(out, i);
      lens[BATCH + i] = reply;
    }
  };

  /** Counts a datagram from port 0 and says so, at most once in a while (clients can send these at will). */
  private dropFromPortZero(i: number): void {
    this.fromPortZero++;
    this.metrics?.malformed.inc(PORT_ZERO);
    const held = this.portZeroLog.take();
    if (held >= 0) this.log.warn(`udp: datagram from ${formatSockaddr(this.bufs.addrs, i * this.io.ADDR)} dropped: no answer can be sent to port 0${this.portZeroLog.moreText(held)}`);
  }

  /**
   * Sends a reply that needs the network to the sender of datagram i, when it
   * is ready. A method of its own: a closure written in onBatch's loop would
   * make V8 allocate a context for every datagram, answered at once or not.
   */
  private whenReady(out: Promise<Buffer | null>, i: number): void {
    const { ADDR } = this.io;
    const addr = Buffer.from(this.bufs.addrs.subarray(i * ADDR, (i + 1) * ADDR));
    const addrLen = this.io.addrLen(this.handle!, i);
    out.then((b) => {
      if (b) this.sendLater(b, addr, addrLen);
    });
  }

  private sendLater(b: Buffer, addr: Buffer, addrLen: number): void {
    if (this.closed || !this.handle) return;
    const rc = this.io.sendTo(this.handle, b, addr, addrLen);
    if (rc < 0) this.log.debug(`udp ${formatSockaddr(addr, 0)}: reply not sent (errno ${-rc})`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handle) this.io.stop(this.handle);
    else if (this.fd >= 0) this.io.closeFd(this.fd);
  }
}
