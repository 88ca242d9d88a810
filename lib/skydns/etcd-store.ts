/**
 * The skydns record store: the RecordTree kept current from etcd. The etcd
 * side — the first full read of `/<prefix>/`, the watch from that revision,
 * retries, re-reads after a cancelled watch, leases — is an EtcdFeed
 * (etcd-feed.ts); this class applies what the feed sends to the tree, in
 * order, and keeps what readers ask for: `synced`, the connection state and
 * staleness, the revision, leases' remaining time.
 *
 * skydns runs the feed on a thread of its own (EtcdStore.onThread), so the
 * query thread only applies changes (parse the value, update the tree, drop
 * the cached answers they alter) and never decodes etcd's responses. Tests
 * may run it in the same thread (new EtcdStore(client, …)): same feed, same
 * messages, delivered by a function call instead of a message port.
 */
import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Etcd3 } from 'etcd3';
import type { EtcdClientOptions } from '../etcd/client.js';
import { RecordTree } from './tree.js';
import type { Logger } from './resolver.js';
import { Backoff } from '../backoff.js';
import { EtcdFeed, type FeedMessage } from './etcd-feed.js';
import type { FeedThreadData } from './etcd-feed-thread.js';

export interface StoreState {
  synced: boolean;
  connected: boolean;
  /** Epoch ms since when the store has been disconnected (0 when connected). */
  disconnectedSince: number;
  revision: string;
  records: number;
  invalid: number;
}

/**
 * The etcd thread's young generation, MiB. Its heap is its own, but V8's flags
 * are the process's, and skydns's --min-semi-space-size=16 (for the query
 * thread) would give it 32 MiB to fill: 20 MB more resident at 300 services
 * (191 against 172 MB with this limit). At 6, V8's helper threads touched
 * ~200 fresh pages a second with the thread idle, and the query thread's p99
 * at 5,000 services went from 0.13–0.15 to 0.63–0.65 ms; at 12, none.
 */
const FEED_YOUNG_MB = 12;

/** How long stop() waits for the etcd thread to close its client before ending it. */
const THREAD_STOP_MS = 2000;

export class EtcdStore extends EventEmitter {
  readonly tree: RecordTree;
  synced = false;
  connected = false;
  disconnectedSince = Date.now();
  revision = '0';
  lastListMs = 0;
  private stopped = false;
  /** Epoch ms at which each lease expires, as etcd last reported it. */
  private readonly leases = new Map<string, number>();
  /** The feed when it runs on this thread. */
  private feed: EtcdFeed | null = null;
  /** The feed's thread when it runs on one. */
  private thread: Worker | null = null;
  private readonly threadBackoff = new Backoff(200, 5000);
  private firstSync: (() => void) | null = null;
  /** The pages of a full read under way (see FeedMessage). */
  private pages: string[][] = [];
  /** What the feed sent before start(): applied by start(), in order. */
  private early: FeedMessage[] | null = [];

  /** A store whose feed runs on this thread, on the given client (tests). */
  constructor(client: Etcd3, prefix: string, log: Logger);
  constructor(source: Etcd3 | EtcdClientOptions, prefix: string, log: Logger, onThread: true);
  constructor(
    private readonly source: Etcd3 | EtcdClientOptions,
    readonly prefix: string,
    private readonly log: Logger,
    private readonly onThread = false,
  ) {
    super();
    this.tree = new RecordTree(prefix);
    if (onThread) this.spawn();
  }

  /**
   * A store whose feed runs on a thread of its own, with a client of its own
   * built from these options (skydns). The thread starts now, so that it
   * boots and connects while the caller does the rest of its start-up (about
   * a quarter of a second here); what it reads is applied from start() on.
   */
  static onThread(client: EtcdClientOptions, prefix: string, log: Logger): EtcdStore {
    return new EtcdStore(client, prefix, log, true);
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

  /** Starts syncing; resolves once the first full read is in the tree (retries forever until stop()). */
  async start(): Promise<void> {
    const synced = new Promise<void>((resolve) => (this.firstSync = resolve));
    const early = this.early ?? [];
    this.early = null;
    for (const m of early) this.apply(m);
    if (!this.onThread) {
      this.feed = new EtcdFeed(this.source as Etcd3, this.prefix, (m) => this.apply(m));
      await this.feed.start();
    }
    await synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.firstSync?.();
    this.firstSync = null;
    await this.feed?.stop();
    const t = this.thread;
    this.thread = null;
    if (t) {
      const ended = new Promise<void>((r) => t.once('exit', () => r()));
      t.postMessage('stop');
      const timer = setTimeout(() => void t.terminate(), THREAD_STOP_MS);
      await ended;
      clearTimeout(timer);
    }
  }

  private spawn(): void {
    const data: FeedThreadData = { client: this.source as EtcdClientOptions, prefix: this.prefix };
    // gc() in the thread's global scope (it collects after each full read: etcd-feed-thread.ts). Set
    // here, on this thread, before the thread starts: V8's flags are the process's.
    v8.setFlagsFromString('--expose-gc');
    const t = new Worker(new URL('./etcd-feed-thread.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: FEED_YOUNG_MB } });
    this.thread = t;
    t.on('message', (m: FeedMessage) => {
      if (t === this.thread) this.apply(m);
    });
    t.on('error', (err) => this.log.error(`etcd: the thread reading etcd failed: ${err.stack ?? err.message}`));
    t.on('exit', (code) => {
      if (t !== this.thread || this.stopped) return;
      this.thread = null;
      const delay = this.threadBackoff.next();
      this.log.error(`etcd: the thread reading etcd ended (exit code ${code}); answering from the last snapshot of ${this.tree.size} records, starting another in ${delay} ms`);
      this.markDisconnected('the thread reading etcd ended');
      setTimeout(() => {
        if (!this.stopped) this.spawn();
      }, delay).unref();
    });
  }

  /** Applies one message of the feed, in the order sent. */
  private apply(m: FeedMessage): void {
    if (this.stopped) return;
    if (this.early) {
      this.early.push(m);
      return;
    }
    try {
      switch (m.t) {
        case 'begin':
          this.pages = [];
          break;
        case 'page':
          this.pages.push(m.kvs);
          break;
        case 'reset': {
          const pages = this.pages;
          this.pages = [];
          this.reset(pages, m.revision, m.listMs);
          break;
        }
        case 'events': {
          const ev = m.ev;
          for (let i = 0; i < ev.length; i += 4) {
            if (ev[i] === 'd') this.tree.delete(ev[i + 1]);
            else this.ingest(ev[i + 1], ev[i + 2], ev[i + 3]);
          }
          if (m.revision) this.revision = m.revision;
          this.markConnected();
          if (ev.length) this.emit('change');
          break;
        }
        case 'leases':
          for (let i = 0; i < m.set.length; i += 2) this.leases.set(m.set[i] as string, m.set[i + 1] as number);
          for (const id of m.gone) this.leases.delete(id);
          break;
        case 'connected':
          this.markConnected();
          break;
        case 'disconnected':
          this.markDisconnected(m.reason);
          break;
        case 'log':
          this.log[m.level](m.text);
          break;
      }
    } catch (err) {
      this.log.error(`etcd: could not apply an update from etcd (${(err as Error).stack ?? String(err)})`);
    }
  }

  /** Makes the tree hold exactly the keys read (in one turn: no question sees a tree half read). */
  private reset(pages: string[][], revision: string, listMs: number): void {
    this.lastListMs = listMs;
    this.tree.clear();
    let keys = 0;
    for (const kvs of pages) {
      for (let i = 0; i < kvs.length; i += 3) this.ingest(kvs[i], kvs[i + 1], kvs[i + 2]);
      keys += kvs.length / 3;
    }
    this.revision = revision;
    this.threadBackoff.reset();
    const first = !this.synced;
    this.markConnected();
    this.synced = true;
    this.log.info(`etcd: read ${keys} keys under /${this.prefix}/ at revision ${revision} in ${listMs} ms${this.tree.invalid ? ` (${this.tree.invalid} invalid)` : ''}`);
    if (first) {
      this.emit('synced');
      this.firstSync?.();
      this.firstSync = null;
    }
    this.emit('change');
  }

  private ingest(key: string, value: string, lease = '0'): void {
    const e = this.tree.put(key, value, lease);
    if (e?.error) this.log.warn(`etcd: ${e.error} (the record is skipped in answers)`);
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

  /** Remaining seconds of a lease, as last checked (null if unknown). */
  leaseTTL = (lease: string): number | null => {
    const expiresAt = this.leases.get(lease);
    if (expiresAt === undefined) return null;
    return Math.max(0, (expiresAt - Date.now()) / 1000);
  };
}
