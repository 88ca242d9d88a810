/**
 * skydns's etcd watch: one gRPC Watch stream (etcdserverpb.Watch/Watch)
 * over node's own HTTP/2 client, its messages coded by lib/etcd/proto.ts.
 *
 * Why not etcd3's watch: it runs on skydns's query thread, and at 100,000
 * services etcd3, gRPC-js and protobufjs spent ~75 % of each watch response's
 * time there (message objects, 64-bit integers as strings, BigNumber revision
 * bookkeeping, promise-chained stream plumbing); no DNS question is answered
 * meanwhile. This reader hands each event to the store as it decodes it
 * (README, Dependencies). Everything else stays on etcd3: reads, leases,
 * transactions, kube2sky.
 *
 * What it keeps from a full client:
 * - endpoints tried in turn, plain or TLS (CA, client certificate and key);
 * - user and password: a token from etcdserverpb.Auth/Authenticate on each
 *   connection, sent as the `token` header;
 * - keep-alive: an HTTP/2 PING every `keepaliveMs` while the stream is open,
 *   the connection dropped when one goes unanswered for `keepaliveTimeoutMs`
 *   (etcd 3.4 accepts a ping every 5 s on a connection with a stream);
 * - reconnection with backoff, resuming after the last response applied
 *   whole (or after the revision of etcd's last progress notification), so no
 *   change is lost or applied out of order;
 * - `hasleader`: etcd ends the call when its member loses the cluster's
 *   leader, instead of leaving a stream that says nothing;
 * - a watch that etcd cancels (its start revision compacted, a permission
 *   refused) is reported, not resumed: the caller re-reads.
 */
import http2 from 'node:http2';
import { isIP } from 'node:net';
import { Backoff } from '../backoff.js';
import { GrpcDeframer, ProtoError, WatchSink, authenticateRequest, grpcFrame, readAuthenticateResponse, readWatchResponse, watchCreateRequest } from './proto.js';

/** How to reach etcd: what createEtcdClient is given, files read. */
export interface EtcdConnection {
  /** http://host:port or https://host:port, all of one scheme. */
  hosts: string[];
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer } | null;
  auth: { username: string; password: string } | null;
}

/** What the watch tells its owner. Each call is made synchronously as the stream is read. */
export interface WatchHandler extends WatchSink {
  /** After the events of one response (`events` of them), with the header's revision. */
  response(revision: string, events: number): void;
  /** The watch is established (again). */
  connected(): void;
  /** The connection is lost or could not be made; the watch is retrying. */
  disconnected(reason: string): void;
  /** etcd cancelled the watch; it does not resume (the caller re-reads and watches anew). */
  cancelled(reason: string): void;
}

export interface EtcdWatchOptions {
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  /** How long connecting (TCP, then TLS) may take; after that, keep-alive pings watch the connection. */
  dialTimeoutMs?: number;
  /** Per-message ceiling of what etcd sends. */
  maxMessageBytes?: number;
}

class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The grpc-status and grpc-message of response headers or trailers, null if there is none. */
function grpcStatus(headers: http2.IncomingHttpHeaders): GrpcStatusError | null {
  const raw = headers['grpc-status'];
  if (raw === undefined) return null;
  const code = Number(raw);
  let text = String(headers['grpc-message'] ?? '');
  try {
    text = decodeURIComponent(text);
  } catch {
    // left as sent
  }
  return new GrpcStatusError(code, text || `gRPC status ${code}`);
}

/** HTTP/2 flow-control windows (stream and connection) asked of etcd. */
const WINDOW_BYTES = 16 * 1024 * 1024;

export class EtcdWatch {
  private session: http2.ClientHttp2Session | null = null;
  private token: string | null = null;
  /** The revision a resumed watch starts from: one past the last response applied whole. */
  private next: number;
  /** The highest event revision of the response being read. */
  private seen = 0;
  private hostIndex = 0;
  private closed = false;
  /** The connection being made or used; a callback from an older one is ignored. */
  private generation = 0;
  private readonly backoff = new Backoff(100, 2000);
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly keepaliveMs: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly key: Buffer;
  private readonly rangeEnd: Buffer;
  /** The handler, with each event's revision noted on the way. */
  private readonly sink: WatchSink;

  constructor(
    private readonly conn: EtcdConnection,
    key: Buffer,
    rangeEnd: Buffer,
    startRevision: number,
    private readonly handler: WatchHandler,
    opts: EtcdWatchOptions = {},
  ) {
    if (conn.hosts.length === 0) throw new Error('no etcd endpoint given');
    this.key = key;
    this.rangeEnd = rangeEnd;
    this.next = startRevision;
    this.keepaliveMs = opts.keepaliveMs ?? 10_000;
    this.keepaliveTimeoutMs = opts.keepaliveTimeoutMs ?? 5_000;
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 3_000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 256 * 1024 * 1024;
    this.sink = {
      event: (put, k, value, lease, modRevision) => {
        if (this.closed) return;
        handler.event(put, k, value, lease, modRevision);
        if (modRevision > this.seen) this.seen = modRevision;
      },
    };
  }

  /** The revision a resumed watch would start from. */
  get nextRevision(): number {
    return this.next;
  }

  start(): void {
    this.connect();
  }

  /** Ends the watch: no call is made to the handler after this. */
  close(): void {
    this.closed = true;
    this.generation++;
    this.teardown();
  }

  private teardown(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
    const s = this.session;
    this.session = null;
    if (s && !s.destroyed) s.destroy();
  }

  /** A failure of connection `gen`: reported, then a new connection after the backoff delay. */
  private fail(gen: number, reason: string): void {
    if (gen !== this.generation || this.closed) return;
    this.generation++;
    this.teardown();
    this.hostIndex = (this.hostIndex + 1) % this.conn.hosts.length;
    this.handler.disconnected(reason);
    const delay = this.backoff.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private connect(): void {
    const gen = ++this.generation;
    const host = this.conn.hosts[this.hostIndex];
    const tls = this.conn.tls;
    let session: http2.ClientHttp2Session;
    try {
      // No SNI for an IP address (RFC 6066); the certificate is still checked against the address.
      const servername = isIP(new URL(host).hostname.replace(/^\[|\]$/g, '')) ? '' : undefined;
      // Windows wider than HTTP/2's 64 KiB, so that a watch catching up is not held to a trickle.
      const settings = { initialWindowSize: WINDOW_BYTES };
      session = http2.connect(host, tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername, settings } : { settings });
    } catch (err) {
      queueMicrotask(() => this.fail(gen, `${host}: ${(err as Error).message}`));
      return;
    }
    this.session = session;
    const dial = setTimeout(() => this.fail(gen, `${host}: no connection within ${this.dialTimeoutMs} ms`), this.dialTimeoutMs);
    dial.unref();
    session.on('error', (err) => this.fail(gen, `${host}: ${err.message}`));
    session.on('goaway', (code) => this.fail(gen, `${host}: etcd closed the connection (HTTP/2 GOAWAY, code ${code})`));
    session.on('close', () => this.fail(gen, `${host}: connection closed`));
    session.once('connect', () => {
      clearTimeout(dial);
      if (gen !== this.generation) return;
      try {
        session.setLocalWindowSize(WINDOW_BYTES);
      } catch {
        // the default window still works
      }
      this.startPings(gen, session, host);
      this.token = null;
      if (this.conn.auth) this.authenticate(gen, session, host);
      else this.openWatch(gen, session, host);
    });
  }

  private startPings(gen: number, session: http2.ClientHttp2Session, host: string): void {
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation) return;
      const timeout = setTimeout(() => this.fail(gen, `${host}: keep-alive ping unanswered for ${this.keepaliveTimeoutMs} ms`), this.keepaliveTimeoutMs);
      timeout.unref();
      try {
        session.ping((err) => {
          clearTimeout(timeout);
          if (err) this.fail(gen, `${host}: keep-alive ping: ${err.message}`);
        });
      } catch (err) {
        clearTimeout(timeout);
        this.fail(gen, `${host}: keep-alive ping: ${(err as Error).message}`);
      }
    }, this.keepaliveMs);
    this.pingTimer.unref();
  }

  /**
   * A gRPC call on connection `gen`, or null when the session cannot take one
   * (closing, or gone: reported as a failure of `gen`).
   */
  private request(gen: number, session: http2.ClientHttp2Session, host: string, path: string): http2.ClientHttp2Stream | null {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      // etcd ends the call when its member has no leader (it would otherwise go quiet).
      hasleader: 'true',
    };
    if (this.token !== null) headers.token = this.token;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers);
    } catch (err) {
      this.fail(gen, `${host}: ${(err as Error).message}`);
      return null;
    }
    stream.on('response', (h) => {
      const code = Number(h[':status']);
      if (code !== 200) this.fail(gen, `${host}: ${path}: HTTP status ${code}, not a gRPC answer`);
    });
    return stream;
  }

  /** etcdserverpb.Auth/Authenticate: a token for this connection's calls. */
  private authenticate(gen: number, session: http2.ClientHttp2Session, host: string): void {
    const auth = this.conn.auth!;
    const req = this.request(gen, session, host, '/etcdserverpb.Auth/Authenticate');
    if (!req) return;
    const parts: Buffer[] = [];
    let status: GrpcStatusError | null = null;
    req.on('response', (h) => (status ??= grpcStatus(h)));
    req.on('trailers', (h) => (status ??= grpcStatus(h)));
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', (err) => this.fail(gen, `${host}: authenticating as ${auth.username}: ${err.message}`));
    req.on('close', () => {
      if (gen !== this.generation) return;
      if (!status) return this.fail(gen, `${host}: authenticating as ${auth.username}: no gRPC status`);
      if (status.code !== 0) return this.fail(gen, `${host}: authenticating as ${auth.username}: ${status.message}`);
      try {
        const body = Buffer.concat(parts);
        let token = '';
        new GrpcDeframer((b, s, e) => (token = readAuthenticateResponse(b.subarray(s, e)))).push(body);
        this.token = token;
      } catch (err) {
        return this.fail(gen, `${host}: authenticating as ${auth.username}: ${(err as Error).message}`);
      }
      this.openWatch(gen, session, host);
    });
    req.end(grpcFrame(authenticateRequest(auth.username, auth.password)));
  }

  private openWatch(gen: number, session: http2.ClientHttp2Session, host: string): void {
    const stream = this.request(gen, session, host, '/etcdserverpb.Watch/Watch');
    if (!stream) return;
    let status: GrpcStatusError | null = null;
    const deframer = new GrpcDeframer((buf, start, end) => this.message(gen, host, buf, start, end), this.maxMessageBytes);
    stream.on('response', (h) => (status ??= grpcStatus(h)));
    stream.on('trailers', (h) => (status ??= grpcStatus(h)));
    stream.on('data', (chunk: Buffer) => {
      if (gen !== this.generation) return;
      try {
        deframer.push(chunk);
      } catch (err) {
        const what = err instanceof ProtoError ? 'an unreadable watch response' : 'applying a watch response';
        this.fail(gen, `${host}: ${what}: ${(err as Error).message}`);
      }
    });
    stream.on('error', (err) => this.fail(gen, `${host}: watch stream: ${err.message}`));
    stream.on('close', () => {
      if (gen !== this.generation) return;
      const s = status as GrpcStatusError | null;
      this.fail(gen, s ? `${host}: etcd ended the watch: ${s.message} (gRPC status ${s.code})` : `${host}: the watch stream closed`);
    });
    // The stream stays open for writing: closing our side would end the call.
    stream.write(grpcFrame(watchCreateRequest(this.key, this.rangeEnd, this.next)));
  }

  private message(gen: number, host: string, buf: Buffer, start: number, end: number): void {
    if (gen !== this.generation) return;
    // A response is checked whole before any of its events is applied (readWatchResponse), and
    // `next` moves past it only once all of them are in: the events of one revision (one
    // transaction) are never split, and a catch-up response of many revisions that fails half-way
    // is sent again from its start (applying a put or a delete twice leaves the same tree).
    this.seen = 0;
    const info = readWatchResponse(buf, start, end, this.sink);
    if (gen !== this.generation) return; // closed by the handler meanwhile
    if (this.seen >= this.next) this.next = this.seen + 1;
    if (info.canceled) {
      const reason = info.compactRevision > 0
        ? `revision ${this.next} has been compacted (etcd keeps revisions from ${info.compactRevision})`
        : info.cancelReason || 'cancelled by etcd';
      this.closed = true;
      this.generation++;
      this.teardown();
      this.handler.cancelled(reason);
      return;
    }
    if (info.created) {
      this.backoff.reset();
      this.handler.connected();
      return;
    }
    // No events, not created, not cancelled: a progress notification, which etcd sends only to a
    // watch that has caught up. Every change up to its revision has been delivered, so a resumed
    // watch may start after it (and a watch on a quiet prefix does not fall behind compaction).
    const revision = Number(info.revision);
    if (info.events === 0 && revision >= this.next) this.next = revision + 1;
    this.handler.response(info.revision, info.events);
  }
}
