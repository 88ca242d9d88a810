/**
 * The etcd side of kube2sky: holds the desired records of every API object,
 * what etcd is known to hold under the keys kube2sky owns, and writes only the
 * difference, in transactions of at most `batch` operations, up to `parallel`
 * of them in flight at once (no key is in two at a time). Puts always go
 * before deletes (a delete starts only when no put is pending or in flight),
 * so an update never opens a window in which a name that exists has no record;
 * and the keys an object stopped wanting go in the same transaction as that
 * object's puts, so a record that changes shape (a Service switched to or from
 * ExternalName: one key at the service's name, or keys below it) is replaced
 * at one etcd revision.
 * Failed writes are retried with backoff for as long as it takes; nothing is
 * dropped and the process never exits because of etcd.
 */
import { EventEmitter } from 'node:events';
import type { Etcd3, ICompare } from 'etcd3';
import { etcdErrorText, listPrefix } from '../etcd/client.js';
import { Backoff } from '../backoff.js';
import type { Logger } from '../log.js';
import type { Records } from './records.js';


export interface WriterHooks {
  /** A key reached etcd: seconds since the API event that asked for it. */
  programmed?(seconds: number): void;
  written?(op: 'put' | 'delete', n: number): void;
  etcdError?(): void;
  /** etcd refused a write because its fence no longer held (see WriterOptions.fence): the writer has stopped. */
  fenced?(): void;
}

export interface WriterOptions {
  /** Key prefixes to read when reconciling. */
  prefixes: string[];
  /** Whether a key found in etcd (with its value) belongs to kube2sky and may be deleted. */
  owns(key: string, value: string): boolean;
  /** etcd's --max-txn-ops is 128 by default. */
  batch?: number;
  /** Transactions in flight at once (default 4). */
  parallel?: number;
  /** Give up one attempt after this long (the mutation timeout). */
  attemptTimeoutMs?: number;
  log: Logger;
  hooks?: WriterHooks;
  /**
   * Conditions every write transaction carries (leader election: the leader's key still
   * exists as it was won). A transaction whose conditions fail writes nothing, and the
   * writer stops for good: it no longer has the right to write.
   */
  fence?: () => ICompare[];
}

/** A write etcd refused because the writer's fence no longer held. */
export class FenceError extends Error {}

export class RecordWriter extends EventEmitter {
  /** objKey → that object's records. */
  private byObject = new Map<string, Records>();
  /** etcd key → (objKey → value): several objects may want one key (hostNetwork pods, shared IPs). */
  private desired = new Map<string, Map<string, string>>();
  /** What etcd holds under the owned prefixes, as far as we know. */
  private applied = new Map<string, string>();
  /** Keys an object stopped wanting, by object, until they are deleted or wanted again; and the object of each. */
  private retired = new Map<string, Set<string>>();
  private retiredBy = new Map<string, string>();
  /** Keys to look at, with the time of the earliest event that touched them. */
  private dirty = new Map<string, number>();
  private running = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private reconcileWanted = false;
  private loadedOnce = false;
  /** Deletes of keys no object wants happen only after the initial lists are in (reconcile). */
  deletesAllowed = false;
  /** The last etcd operation succeeded. */
  etcdOk = true;
  lastError = '';
  lastSuccess = 0;
  private readonly batch: number;
  private readonly parallel: number;
  /** Keys in a transaction that has not landed yet. */
  private inFlight = new Set<string>();
  /** Transactions in flight, and how many of them carry puts. */
  private flights = 0;
  private putFlights = 0;
  /** The first error of a transaction that landed since the loop last looked. */
  private failure: Error | null = null;
  /** Transactions that came back (either way); wakes the loop. */
  private landings = 0;
  private landed: (() => void) | null = null;

  constructor(private readonly client: Etcd3, private readonly opts: WriterOptions) {
    super();
    this.batch = opts.batch ?? 128;
    this.parallel = Math.max(1, opts.parallel ?? 4);
  }

  /** Number of distinct keys wanted. */
  get size(): number {
    return this.desired.size;
  }

  /** etcd transactions sent and not yet answered. */
  get transactionsInFlight(): number {
    return this.flights;
  }

  /** Nothing waits to be written. */
  get idle(): boolean {
    return !this.hasWork();
  }

  desiredValue(key: string): string | undefined {
    const owners = this.desired.get(key);
    if (!owners || owners.size === 0) return undefined;
    let best: string | undefined;
    for (const v of owners.values()) if (best === undefined || v < best) best = v;
    return best;
  }

  /** Replaces the records of one object. */
  set(objKey: string, records: Records, eventTime = Date.now()): void {
    const old = this.byObject.get(objKey);
    if (records.size === 0) this.byObject.delete(objKey);
    else this.byObject.set(objKey, records);
    if (old) {
      for (const [k, v] of old) {
        if (records.get(k) === v) continue;
        const owners = this.desired.get(k);
        owners?.delete(objKey);
        if (owners && owners.size === 0) this.desired.delete(k);
        if (!records.has(k)) this.retire(objKey, k);
        this.touch(k, eventTime);
      }
    }
    for (const [k, v] of records) {
      if (old?.get(k) === v) continue;
      this.unretire(k);
      let owners = this.desired.get(k);
      if (!owners) this.desired.set(k, (owners = new Map()));
      owners.set(objKey, v);
      this.touch(k, eventTime);
    }
    this.kick();
  }

  remove(objKey: string, eventTime = Date.now()): void {
    this.set(objKey, new Map(), eventTime);
  }

  /** All object keys with records (for reconciling against the API caches). */
  objects(): string[] {
    return [...this.byObject.keys()];
  }

  private retire(objKey: string, key: string): void {
    this.unretire(key);
    let set = this.retired.get(objKey);
    if (!set) this.retired.set(objKey, (set = new Set()));
    set.add(key);
    this.retiredBy.set(key, objKey);
  }

  private unretire(key: string): void {
    const o = this.retiredBy.get(key);
    if (o === undefined) return;
    this.retiredBy.delete(key);
    const set = this.retired.get(o);
    set?.delete(key);
    if (set?.size === 0) this.retired.delete(o);
  }

  private touch(key: string, t: number): void {
    const prev = this.dirty.get(key);
    if (prev === undefined || t < prev) this.dirty.set(key, t);
  }

  /** Asks the worker to re-read etcd's owned keys and repair every difference. */
  requestReconcile(): void {
    this.reconcileWanted = true;
    this.kick();
  }

  /**
   * Allows deletes (the API's initial lists are in). If etcd's owned keys were
   * already read, what we hold is exact (every write since went through us), so
   * the stale keys are known without reading them again.
   */
  enableDeletes(): void {
    this.deletesAllowed = true;
    for (const k of this.applied.keys()) if (!this.desired.has(k)) this.touch(k, Date.now());
    if (this.loadedOnce) this.kick();
    else this.requestReconcile();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
  }

  /** New work: wake the loop whether it sleeps idle or waits for a landing (it may start another transaction). */
  private kick(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
    const l = this.landed;
    this.landed = null;
    l?.();
  }

  /** Resolves once nothing is left to write (or after `timeoutMs`, returning false). */
  async drained(timeoutMs = Infinity): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.hasWork()) {
      if (Date.now() > end) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.off('flushed', done);
          this.off('idle', done);
          resolve();
        };
        this.on('flushed', done);
        this.on('idle', done);
      });
    }
    return true;
  }

  private hasWork(): boolean {
    if (this.reconcileWanted) return true;
    for (const [k] of this.dirty) if (this.needsOp(k) !== null) return true;
    return false;
  }

  private needsOp(key: string): 'put' | 'delete' | null {
    const want = this.desiredValue(key);
    const have = this.applied.get(key);
    if (want !== undefined) return want === have ? null : 'put';
    if (have !== undefined && this.deletesAllowed) return 'delete';
    return null;
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(50, 5000);
    while (!this.stopped) {
      try {
        if (this.reconcileWanted && this.flights === 0) {
          this.reconcileWanted = false;
          await this.loadActual();
        }
        // A reconcile waits until every transaction in flight has landed.
        while (!this.reconcileWanted && this.flights < this.parallel && this.launch());
        if (this.flights === 0) {
          this.etcdOk = true;
          this.lastSuccess = Date.now();
          backoff.reset();
          this.emit('idle');
          if (!this.hasWork()) await new Promise<void>((r) => (this.wake = r));
          continue;
        }
        const before = this.landings;
        await new Promise<void>((r) => (this.landed = r));
        if (this.landings === before) continue; // woken by new work, nothing landed yet
        if (this.failure) {
          const err = this.failure;
          this.failure = null;
          throw err;
        }
        this.etcdOk = true;
        this.lastSuccess = Date.now();
        backoff.reset();
        this.emit('flushed');
      } catch (err) {
        const msg = etcdErrorText(err);
        const delay = backoff.next();
        if (this.etcdOk || msg !== this.lastError) this.opts.log.warn(`etcd write failed (${msg}); retrying in ${delay} ms`);
        this.etcdOk = false;
        this.lastError = msg;
        this.opts.hooks?.etcdError?.();
        this.emit('error-state');
        await new Promise<void>((r) => setTimeout(r, delay));
        // Transactions that failed during the wait are retried now; their keys are still dirty.
        this.failure = null;
      }
    }
  }

  /** Reads the owned prefixes from etcd; what we believed is replaced by what is there. */
  private async loadActual(): Promise<void> {
    const actual = new Map<string, string>();
    for (const prefix of this.opts.prefixes) {
      const { kvs } = await this.withTimeout(listPrefix(this.client, prefix), `read ${prefix}`);
      for (const kv of kvs) if (this.opts.owns(kv.key, kv.value)) actual.set(kv.key, kv.value);
    }
    const now = Date.now();
    for (const k of this.applied.keys()) if (!actual.has(k)) this.touch(k, now);
    for (const [k, v] of actual) if (this.applied.get(k) !== v || !this.desired.has(k)) this.touch(k, now);
    for (const k of this.desired.keys()) if (!actual.has(k)) this.touch(k, now);
    this.applied = actual;
    this.loadedOnce = true;
  }

  private withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = this.opts.attemptTimeoutMs ?? 10_000;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what}: no answer from etcd within ${ms} ms`)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /**
   * Starts one transaction of pending puts (or, when no put is pending or in
   * flight, deletes) over keys not already in flight. False if there was none
   * to start.
   */
  private launch(): boolean {
    const puts: string[] = [];
    const deletes: string[] = [];
    // Deletes that ride with the puts of the object that dropped them (same revision).
    const withPuts = new Set<string>();
    for (const [k] of this.dirty) {
      if (this.inFlight.has(k) || withPuts.has(k)) continue; // looked at again when its transaction lands
      const op = this.needsOp(k);
      if (op === null) {
        if (this.desiredValue(k) !== undefined || this.deletesAllowed || !this.applied.has(k)) {
          this.dirty.delete(k);
          if (this.desiredValue(k) === undefined && !this.applied.has(k)) this.unretire(k);
        }
        continue;
      }
      if (op === 'put') {
        const room = this.batch - puts.length - withPuts.size - 1;
        const linked = this.retiredWith(k, withPuts);
        // Keep an object's puts and drops together when they fit; more drops than a
        // transaction holds go the ordinary way, after the puts.
        if (puts.length > 0 && linked.length > room) break;
        puts.push(k);
        for (const d of linked.slice(0, room)) withPuts.add(d);
        if (puts.length + withPuts.size >= this.batch) break;
      } else if (deletes.length < this.batch) deletes.push(k);
    }
    // Other deletes only once every put is done: a replacement record is always in place first.
    const keys = puts.length > 0 ? [...puts, ...withPuts] : this.putFlights === 0 ? deletes : [];
    if (keys.length === 0) return false;
    const isPut = puts.length > 0;
    const values = keys.map((k) => this.desiredValue(k));
    const success = keys.map((k, i) =>
      values[i] !== undefined
        ? { request_put: { key: Buffer.from(k), value: Buffer.from(values[i]!) } }
        : { request_delete_range: { key: Buffer.from(k) } },
    );
    for (const k of keys) this.inFlight.add(k);
    this.flights++;
    if (isPut) this.putFlights++;
    const compare = this.opts.fence?.() ?? [];
    this.withTimeout(this.client.kv.txn({ compare, success, failure: [] }), `write ${keys.length} keys`).then(
      (res) => {
        if (res.succeeded) return this.land(keys, values, isPut, null);
        // Only a fence can make the transaction fail: nothing was written, and nothing more may be.
        this.stopped = true;
        this.land(keys, values, isPut, new FenceError(`etcd refused ${keys.length} writes: the fence (${compare.length} conditions) no longer holds`));
        this.opts.hooks?.fenced?.();
      },
      (err: unknown) => this.land(keys, values, isPut, err instanceof Error ? err : new Error(String(err))),
    );
    return true;
  }

  /** Keys the owners of `key` stopped wanting that are to be deleted now and are in no transaction yet. */
  private retiredWith(key: string, taken: Set<string>): string[] {
    const out: string[] = [];
    if (this.retired.size === 0) return out;
    for (const objKey of this.desired.get(key)?.keys() ?? []) {
      for (const d of this.retired.get(objKey) ?? []) {
        if (!taken.has(d) && !this.inFlight.has(d) && this.needsOp(d) === 'delete') out.push(d);
      }
    }
    return out;
  }

  /** A transaction came back: record what etcd now holds (on success) and wake the loop. */
  private land(keys: string[], values: (string | undefined)[], isPut: boolean, err: Error | null): void {
    this.flights--;
    this.landings++;
    if (isPut) this.putFlights--;
    for (const k of keys) this.inFlight.delete(k);
    if (err) {
      this.failure ??= err;
    } else {
      const now = Date.now();
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const v = values[i];
        if (v === undefined) {
          this.applied.delete(k);
          this.unretire(k);
        } else this.applied.set(k, v);
        const t = this.dirty.get(k);
        if (this.desiredValue(k) === v) {
          this.dirty.delete(k);
          if (t !== undefined) this.opts.hooks?.programmed?.((now - t) / 1000);
        } else {
          // The key changed again while the write was in flight: write it again.
          this.touch(k, t ?? now);
        }
        this.opts.log.debug(v === undefined ? `Removing ${k}` : `Setting DNS record: ${k} -> ${v}`);
      }
      this.opts.hooks?.written?.(isPut ? 'put' : 'delete', keys.length);
    }
    const w = this.landed;
    this.landed = null;
    w?.();
  }
}
