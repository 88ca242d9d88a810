/**
 * The skydns record store: reads the whole `/<prefix>/` subtree once (etcd3),
 * then follows an etcd watch from that revision (lib/etcd/watch.ts, which
 * hands over each event as it decodes it), keeping the RecordTree current.
 * If etcd is unreachable it retries with backoff; if the watch is cancelled
 * (compaction) it re-lists. Readers see `synced` and staleness.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { etcdErrorText, listPrefix, prefixEnd } from '../etcd/client.js';
import { EtcdConnection, EtcdWatch } from '../etcd/watch.js';
import { RecordTree } from './tree.js';
import type { Logger } from './resolver.js';
import { Backoff } from '../backoff.js';

export interface StoreState {
  synced: boolean;
  connected: boolean;
  /** Epoch ms since when the store has been disconnected (0 when connected). */
  disconnectedSince: number;
  revision: string;
  records: number;
  invalid: number;
}

interface LeaseInfo {
  expiresAt: number;
  checkedAt: number;
}

export class EtcdStore extends EventEmitter {
  readonly tree: RecordTree;
  synced = false;
  connected = false;
  disconnectedSince = Date.now();
  revision = '0';
  lastListMs = 0;
  private watcher: EtcdWatch | null = null;
  private stopped = false;
  private relisting = false;
  private leases = new Map<string, LeaseInfo>();
  private leaseTimer: NodeJS.Timeout | null = null;
  /** Delays between re-reads after cancelled watches: none for the first in a minute, then 1 s doubling to 30 s. */
  private readonly cancelBackoff = new Backoff(1000, 30_000);
  private lastCancelMs = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly conn: EtcdConnection,
    readonly prefix: string,
    private readonly log: Logger,
  ) {
    super();
    this.tree = new RecordTree(prefix);
  }

  state(): StoreState {
    return {
      synced: this.synced,
      connected: this.connected,
      disconnectedSince: this.connected ? 0 : this.disconnectedSince,
      revision: this.revision,
      records: this.tree.size,
      invalid: this.tree.invalid,
    };
  }

  /** Seconds since the last moment the mirror was known current (0 while connected). */
  stalenessSeconds(): number {
    return this.connected ? 0 : (Date.now() - this.disconnectedSince) / 1000;
  }

  /** Starts syncing; resolves once the first full read succeeded (retries forever until stop()). */
  async start(): Promise<void> {
    this.leaseTimer = setInterval(() => void this.refreshLeases(), 1000);
    this.leaseTimer.unref();
    await this.resync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.watcher?.close();
    this.watcher = null;
  }

  private markDisconnected(reason: string): void {
    if (this.connected) {
      this.connected = false;
      this.disconnectedSince = Date.now();
      this.log.warn(`etcd: lost connection (${reason}); answering from the last snapshot of ${this.tree.size} records`);
      this.emit('state');
    }
  }

  private markConnected(): void {
    if (!this.connected) {
      const was = this.disconnectedSince;
      this.connected = true;
      if (this.synced) this.log.info(`etcd: connection restored after ${((Date.now() - was) / 1000).toFixed(1)}s`);
      this.emit('state');
    }
  }

  /** Full read of the prefix (with retries), then a watch from the read revision. */
  private async resync(): Promise<void> {
    if (this.relisting) return;
    this.relisting = true;
    try {
      const backoff = new Backoff(200, 5000);
      for (;;) {
        if (this.stopped) return;
        try {
          const t0 = Date.now();
          const { kvs, revision } = await listPrefix(this.client, `/${this.prefix}/`);
          this.lastListMs = Date.now() - t0;
          this.tree.clear();
          for (const kv of kvs) this.ingest(kv.key, kv.value, kv.lease);
          this.revision = revision;
          const first = !this.synced;
          this.markConnected();
          this.synced = true;
          this.log.info(`etcd: read ${kvs.length} keys under /${this.prefix}/ at revision ${revision} in ${this.lastListMs} ms${this.tree.invalid ? ` (${this.tree.invalid} invalid)` : ''}`);
          this.watchFrom(revision);
          if (first) this.emit('synced');
          this.emit('change');
          return;
        } catch (err) {
          this.markDisconnected(etcdErrorText(err));
          const delay = backoff.next();
          if (!this.synced) this.log.warn(`etcd: cannot read /${this.prefix}/ (${etcdErrorText(err)}); retrying in ${delay} ms`);
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    } finally {
      this.relisting = false;
    }
  }

  private ingest(key: string, value: string, lease: string): void {
    const e = this.tree.put(key, value, lease);
    if (e?.error) this.log.warn(`etcd: ${e.error} (the record is skipped in answers)`);
    if (lease !== '0' && !this.leases.has(lease)) {
      this.leases.set(lease, { expiresAt: 0, checkedAt: 0 });
      void this.checkLease(lease);
    }
  }

  private watchFrom(revision: string): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.stopped) return;
    const prefix = `/${this.prefix}/`;
    const w = new EtcdWatch(this.conn, Buffer.from(prefix), prefixEnd(prefix), Number(revision) + 1, {
      event: (put, key, value, lease) => {
        if (put) this.ingest(key, value, lease);
        else this.tree.delete(key);
      },
      response: (rev, events) => {
        if (rev !== '0') this.revision = rev;
        this.markConnected();
        if (events) this.emit('change');
      },
      connected: () => this.markConnected(),
      disconnected: (reason) => this.markDisconnected(reason),
      cancelled: (reason) => {
        if (w !== this.watcher) return;
        this.watcher = null;
        // A watch cancelled again soon after the last (a permission etcd refuses each time) is not
        // re-read at once: each re-read is the whole prefix.
        const now = Date.now();
        const again = now - this.lastCancelMs < 60_000;
        this.lastCancelMs = now;
        if (!again) this.cancelBackoff.reset();
        const delay = again ? this.cancelBackoff.next() : 0;
        this.log.warn(`etcd: watch cancelled (${reason}); re-reading /${this.prefix}/${delay ? ` in ${delay} ms` : ''}`);
        this.markDisconnected(reason);
        if (delay === 0) void this.resync();
        else setTimeout(() => void this.resync(), delay).unref();
      },
    });
    this.watcher = w;
    w.start();
  }

  /** Remaining seconds of a lease, as last checked (null if unknown). */
  leaseTTL = (lease: string): number | null => {
    const info = this.leases.get(lease);
    if (!info || info.expiresAt === 0) return null;
    return Math.max(0, (info.expiresAt - Date.now()) / 1000);
  };

  private async checkLease(lease: string): Promise<void> {
    const info = this.leases.get(lease);
    if (!info) return;
    info.checkedAt = Date.now();
    try {
      const res = await this.client.leaseClient.leaseTimeToLive({ ID: lease });
      const ttl = Number(res.TTL);
      if (ttl < 0) this.leases.delete(lease);
      else info.expiresAt = Date.now() + ttl * 1000;
    } catch (err) {
      this.log.debug(`etcd: lease ${lease} TTL check failed: ${(err as Error).message}`);
    }
  }

  /** Leases are refreshed (keep-alive may extend them) every second while referenced. */
  private async refreshLeases(): Promise<void> {
    if (this.leases.size === 0 || !this.connected) return;
    const now = Date.now();
    const checks: Promise<void>[] = [];
    for (const [lease, info] of this.leases) {
      if (now - info.checkedAt >= 1000 && checks.length < 256) checks.push(this.checkLease(lease));
    }
    await Promise.all(checks);
  }
}
