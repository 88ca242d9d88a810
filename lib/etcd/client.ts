/**
 * The etcd v3 client shared by skydns and kube2sky, built from the legacy
 * URL flags (`-machines`, `--etcd-server`), with optional TLS and auth.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, IOptions } from 'etcd3';
import { ExponentialBackoff, IBackoff, noop } from 'cockatiel';
import type { EtcdConnection } from './watch.js';

export interface EtcdClientOptions {
  /** Endpoint URLs (http:// or https://). */
  urls: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** Per-call deadline in ms (default 5000). */
  callTimeoutMs?: number;
}

export class EtcdConfigError extends Error {}

/**
 * An etcd client error as one log line. gRPC's connection errors carry the TLS
 * library's text after a newline and end in an empty "Resolution note".
 */
export function etcdErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\.?\s*Resolution note:\s*$/, '')
    .trim();
}

function readOrThrow(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EtcdConfigError(`cannot read etcd ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Turns URLs into the host:port list the gRPC client wants; all must share one scheme. */
export function etcdHosts(urls: string[]): { hosts: string[]; tls: boolean } {
  if (urls.length === 0) throw new EtcdConfigError('no etcd endpoint given');
  let tls: boolean | null = null;
  const hosts: string[] = [];
  for (const raw of urls) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new EtcdConfigError(`etcd endpoint "${raw}" is not a URL (write http://host:port or https://host:port)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new EtcdConfigError(`etcd endpoint "${raw}": scheme must be http or https (write http://host:port or https://host:port)`);
    const isTls = u.protocol === 'https:';
    if (tls !== null && tls !== isTls) throw new EtcdConfigError('etcd endpoints mix http and https');
    tls = isTls;
    const port = u.port || (isTls ? '443' : '80');
    hosts.push(`${u.protocol}//${u.hostname}:${port}`);
  }
  return { hosts, tls: tls ?? false };
}

/**
 * The endpoints, TLS material and user of `opts`, files read: what both
 * createEtcdClient and skydns's watch (lib/etcd/watch.ts) connect with.
 */
export function etcdConnection(opts: EtcdClientOptions): EtcdConnection {
  const { hosts, tls } = etcdHosts(opts.urls);
  let material: EtcdConnection['tls'] = null;
  if (tls || opts.caFile || opts.certFile) {
    if (!opts.caFile) throw new EtcdConfigError('etcd TLS needs a CA certificate file');
    material = {
      ca: readOrThrow(opts.caFile, 'CA certificate'),
      ...(opts.certFile ? { cert: readOrThrow(opts.certFile, 'client certificate') } : {}),
      ...(opts.keyFile ? { key: readOrThrow(opts.keyFile, 'client key') } : {}),
    };
  }
  return { hosts, tls: material, auth: opts.username ? { username: opts.username, password: opts.password ?? '' } : null };
}

export function createEtcdClient(opts: EtcdClientOptions, conn: EtcdConnection = etcdConnection(opts)): Etcd3 {
  const options: IOptions = {
    hosts: conn.hosts,
    dialTimeout: 3000,
    grpcOptions: {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      // Keep-alive pings only while a call is open (an etcd3 watch or lease keep-alive stream;
      // skydns's own watch, lib/etcd/watch.ts, pings on its connection alike): a ping
      // unanswered for 5 s closes the connection, so a dead or frozen etcd is noticed within
      // 15 s on a stream that carries nothing. etcd 3.4 enforces, by default
      // (--grpc-keepalive-min-time=5s, PermitWithoutStream=false): pings at least 5 s apart
      // while a stream is open, and on a connection without one at most one per 2 hours (grpc-go's
      // fixed floor); the third ping too many gets GOAWAY too_many_pings and the connection
      // closed. Pinging without calls every 10 s (as before) had kube2sky's idle connection
      // thrown out after ~40 s. Without a call there is nothing to watch over: the next unary
      // call has its own deadline.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
    },
    // A deadline per unary call; never on streams (a watch or keep-alive stream lives for hours).
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + (opts.callTimeoutMs ?? 5000) }),
    faultHandling: {
      // Retries are ours (skydns re-lists, kube2sky's writer backs off); a circuit
      // breaker here would hide a restarted etcd for seconds.
      host: () => noop,
      global: noop,
      // etcd3 1.1 calls .next() on this itself (its type says IBackoff, it wants the factory).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>,
    },
  };
  if (conn.tls) {
    options.credentials = {
      rootCertificate: conn.tls.ca,
      ...(conn.tls.cert ? { certChain: conn.tls.cert } : {}),
      ...(conn.tls.key ? { privateKey: conn.tls.key } : {}),
    };
  }
  if (conn.auth) options.auth = { username: conn.auth.username, password: conn.auth.password };
  return new Etcd3(options);
}

/** The first `end` key after every key with this prefix (etcd's prefix range end). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]++;
      return out;
    }
  }
  return Buffer.from([0]);
}

export interface KV {
  key: string;
  value: string;
  lease: string;
}

/** What one page of listPrefix aims to carry: well below gRPC's 64 MiB receive limit. */
export const PAGE_BYTES = 8 * 1024 * 1024;

function tooLarge(err: unknown): boolean {
  // gRPC RESOURCE_EXHAUSTED (8): "Received message larger than max (… vs. 67108864)".
  const e = err as { code?: number; message?: string; details?: string };
  return e?.code === 8 || /larger than max|RESOURCE_EXHAUSTED/i.test(`${e?.message ?? ''} ${e?.details ?? ''}`);
}

/**
 * Reads every key under `prefix` at one revision, in pages sized by bytes:
 * the next page asks for as many keys as the last page's average size lets fit
 * in PAGE_BYTES (at most `maxKeys`), and a page that still came back too large
 * for gRPC is asked again with a quarter of the keys. So any amount of data
 * etcd holds is read (a key and its value are at most etcd's request limit,
 * 1.5 MiB by default). Returns the keys and the revision read.
 */
export async function listPrefix(client: Etcd3, prefix: string, maxKeys = 5000): Promise<{ kvs: KV[]; revision: string }> {
  const end = prefixEnd(prefix);
  let start: Buffer = Buffer.from(prefix);
  let revision = '0';
  let limit = Math.min(maxKeys, 1000);
  const kvs: KV[] = [];
  for (;;) {
    let res;
    try {
      res = await client.kv.range({
        key: start,
        range_end: end,
        limit,
        revision: revision === '0' ? undefined : revision,
      });
    } catch (err) {
      if (!tooLarge(err) || limit === 1) throw err;
      limit = Math.max(1, Math.floor(limit / 4));
      continue;
    }
    if (revision === '0') revision = String(res.header.revision);
    let bytes = 0;
    for (const kv of res.kvs) {
      bytes += kv.key.length + kv.value.length;
      kvs.push({ key: kv.key.toString(), value: kv.value.toString(), lease: String(kv.lease ?? '0') });
    }
    if (!res.more || res.kvs.length === 0) break;
    const perKey = Math.max(1, bytes / res.kvs.length);
    limit = Math.max(1, Math.min(maxKeys, Math.floor(PAGE_BYTES / perKey)));
    const last = res.kvs[res.kvs.length - 1].key;
    start = Buffer.concat([last, Buffer.from([0])]);
  }
  return { kvs, revision };
}
