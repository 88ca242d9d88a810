// Real etcd (Debian etcd-server 3.4) for integration tests, plus etcdctl-based
// helpers to seed/inspect data "as an operator would" (and etcdPutMany, through the client
// library, for what etcdctl cannot carry). Loopback only.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { type EtcdMember, etcdArgs, etcdEnv, etcdHealthUrl, etcdHealthy } from '../../lib/stack/etcd.js';
import { freeTcpPorts } from './ports.js';
import { type Program, sleep, spawnProgram } from './proc.js';

export interface EtcdProcess {
  /** Client URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Client port. */
  readonly port: number;
  /** Peer port. */
  readonly peerPort: number;
  /** PID of the current etcd process (changes after restart()). */
  readonly pid: number;
  readonly dataDir: string;
  readonly name: string;
  /** Last (up to) 200 lines of etcd's stdout+stderr. */
  logTail(): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), then remove the data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; the data dir is kept (for restart()). */
  kill(): Promise<void>;
  /** Start again on the SAME ports and data dir and wait until healthy. Stops a running instance first (SIGTERM). */
  restart(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Member name (default "etcd-test"). */
  name?: string;
  /** Health wait timeout in ms (default 20000). */
  timeoutMs?: number;
  /**
   * Serve clients over TLS only (https:// URL) and require a client
   * certificate signed by caFile. Health is then polled on a plain-HTTP
   * metrics listener.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** A member of a cluster (see startEtcdCluster): its client and peer ports, and every member's name=peerURL. */
  member?: { port: number; peerPort: number; initialCluster: string };
}

const LOG_TAIL_LINES = 200;
const HEALTH_TIMEOUT_MS = 20000;

/**
 * Spawn a fresh single-member etcd on free loopback client/peer ports with a
 * new temp data dir, and wait (polling /health) until it is healthy.
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  const name = opts.name ?? 'etcd-test';
  const timeoutMs = opts.timeoutMs ?? HEALTH_TIMEOUT_MS;
  const [freePort, freePeerPort, metricsPort] = await freeTcpPorts(3) as [number, number, number];
  const port = opts.member?.port ?? freePort;
  const peerPort = opts.member?.peerPort ?? freePeerPort;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kube-dns-etcd-'));
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const member: EtcdMember = {
    name,
    dataDir,
    clientUrl: url,
    peerUrl,
    initialCluster: opts.member?.initialCluster,
    tls: opts.tls ? { ...opts.tls, metricsUrl: `http://127.0.0.1:${metricsPort}` } : undefined,
  };
  const args = etcdArgs(member);
  const healthUrl = etcdHealthUrl(member);
  let current: Program | undefined;
  let removed = false;
  const logTail = () => (current ? current.output().split('\n').slice(-LOG_TAIL_LINES).join('\n') : '');

  const launch = async (): Promise<void> => {
    const prog = spawnProgram('etcd', args, { name: `etcd ${name}`, fullEnv: etcdEnv() });
    if (prog.pid < 0) {
      await prog.exited;
      throw new Error(`failed to spawn etcd: ${prog.output().trim() || 'unknown error'} (is etcd-server installed? run: node scripts/ensure.mjs)`);
    }
    current = prog;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!prog.running()) {
        await sleep(50); // let the pipes drain
        const info = await prog.exited;
        throw new Error(`etcd exited before becoming healthy (code ${info.code}, signal ${info.signal}); log tail:\n${logTail()}`);
      }
      if (await etcdHealthy(healthUrl)) return;
      if (Date.now() >= deadline) {
        await prog.kill();
        throw new Error(`etcd at ${url} not healthy after ${timeoutMs}ms; log tail:\n${logTail()}`);
      }
      await sleep(100);
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = current;
    if (p === undefined) return;
    if (signal === 'SIGKILL') await p.kill();
    else await p.stop();
  };

  try {
    await launch();
  } catch (err) {
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    port,
    peerPort,
    name,
    dataDir,
    get pid(): number {
      return current?.pid ?? -1;
    },
    logTail,
    async stop(): Promise<void> {
      await halt('SIGTERM');
      if (!removed) {
        removed = true;
        await fs.rm(dataDir, { recursive: true, force: true });
      }
    },
    async kill(): Promise<void> {
      await halt('SIGKILL');
    },
    async restart(): Promise<void> {
      if (removed) throw new Error('etcd was stopped (data dir removed); cannot restart');
      await halt('SIGTERM');
      await launch();
    },
  };
}

export interface EtcdCluster {
  readonly members: EtcdProcess[];
  /** Every member's client URL, comma-separated (for -machines / --etcd-server). */
  readonly endpoints: string;
  /** Stops every member and removes the data dirs. */
  stop(): Promise<void>;
}

/**
 * A new etcd cluster of n members on loopback, each with its own ports and data dir; resolves
 * when every member is healthy (a member is healthy once the cluster has a leader).
 */
export async function startEtcdCluster(n = 3, opts: { timeoutMs?: number } = {}): Promise<EtcdCluster> {
  const ports = await freeTcpPorts(n * 2);
  const names = Array.from({ length: n }, (_, i) => `member${i}`);
  const initialCluster = names.map((m, i) => `${m}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
  const started = await Promise.allSettled(
    names.map((name, i) => startEtcd({ name, timeoutMs: opts.timeoutMs ?? 30_000, member: { port: ports[2 * i], peerPort: ports[2 * i + 1], initialCluster } })),
  );
  const members = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(members.map((m) => m.stop()));
    throw failed.reason;
  }
  return {
    members,
    endpoints: members.map((m) => m.url).join(','),
    async stop(): Promise<void> {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}

// ---------------------------------------------------------------------------
// etcdctl helpers (ETCDCTL_API=3)
// ---------------------------------------------------------------------------

function etcdctl(url: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'etcdctl',
      ['--endpoints', url, '--dial-timeout=3s', '--command-timeout=10s', ...args],
      { env: { ...etcdEnv(), ETCDCTL_API: '3' }, maxBuffer: 64 * 1024 * 1024, timeout: 30000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`etcdctl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** `etcdctl put -- key value` (value may be empty or start with '-'). */
export async function etcdPut(url: string, key: string, value: string): Promise<void> {
  const out = await etcdctl(url, ['put', '--', key, value]);
  if (out.trim() !== 'OK') throw new Error(`etcdctl put ${key}: unexpected output ${JSON.stringify(out)}`);
}

/** `etcdctl del [--prefix] -- key`; resolves with the number of keys deleted. */
export async function etcdDel(url: string, key: string, opts: { prefix?: boolean } = {}): Promise<number> {
  const out = await etcdctl(url, ['del', ...(opts.prefix ? ['--prefix'] : []), '--', key]);
  const n = Number.parseInt(out.trim(), 10);
  if (!Number.isFinite(n)) throw new Error(`etcdctl del ${key}: unexpected output ${JSON.stringify(out)}`);
  return n;
}

interface EtcdctlJsonKv {
  key?: string;
  value?: string;
}

/**
 * `etcdctl get --prefix -w json -- prefix`: every key under `prefix` (exact
 * bytes, decoded as UTF-8), sorted by key as etcd returns them. An empty
 * prefix returns all keys.
 */
export async function etcdGetPrefix(url: string, prefix: string): Promise<Array<{ key: string; value: string }>> {
  const out = await etcdctl(url, ['get', '--prefix', '-w', 'json', '--', prefix]);
  const parsed: unknown = JSON.parse(out);
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`etcdctl get: unexpected output ${out}`);
  const kvs = (parsed as { kvs?: unknown }).kvs;
  if (kvs === undefined) return [];
  if (!Array.isArray(kvs)) throw new Error(`etcdctl get: unexpected kvs in ${out}`);
  return (kvs as EtcdctlJsonKv[]).map((kv) => ({
    key: Buffer.from(kv.key ?? '', 'base64').toString('utf8'),
    value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
  }));
}

/** Value of a single key, or undefined if absent. */
export async function etcdGet(url: string, key: string): Promise<string | undefined> {
  const out = await etcdctl(url, ['get', '-w', 'json', '--', key]);
  const parsed = JSON.parse(out) as { kvs?: EtcdctlJsonKv[] };
  const kv = parsed.kvs?.[0];
  return kv === undefined ? undefined : Buffer.from(kv.value ?? '', 'base64').toString('utf8');
}

/** etcd's default --max-txn-ops, and a byte budget under its default 1.5 MiB request limit. */
const TXN_OPS = 128;
const TXN_BYTES = 1024 * 1024;

/**
 * Puts many keys through the client library (a value too large for etcdctl's command line, or
 * tens of thousands of keys), in transactions of at most 128 puts and about 1 MiB (a larger
 * value goes alone), one after another.
 */
export async function etcdPutMany(url: string, entries: Iterable<readonly [string, string]>): Promise<void> {
  const client = new Etcd3({ hosts: url });
  try {
    let ops: { request_put: { key: Buffer; value: Buffer } }[] = [];
    let bytes = 0;
    const flush = async () => {
      if (ops.length > 0) await client.kv.txn({ compare: [], success: ops, failure: [] });
      ops = [];
      bytes = 0;
    };
    for (const [k, v] of entries) {
      const put = { request_put: { key: Buffer.from(k), value: Buffer.from(v) } };
      const size = put.request_put.key.length + put.request_put.value.length;
      if (ops.length >= TXN_OPS || (ops.length > 0 && bytes + size > TXN_BYTES)) await flush();
      ops.push(put);
      bytes += size;
    }
    await flush();
  } finally {
    client.close();
  }
}
