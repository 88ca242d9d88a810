/**
 * WATCH streams: chunked newline-delimited JSON events, resumed from a
 * resourceVersion out of the store's history (or starting with ADDED events
 * for everything current), BOOKMARK events, timeouts, and the real server's
 * 200 + ERROR 410 Expired event for a resourceVersion older than the history.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Log } from '../log.js';
import { type Status, failure } from './errors.js';
import type { StoreEvent } from './history.js';
import { RESOURCES, type ResourceName } from './resources.js';
import { type Selectors, matches } from './selectors.js';
import type { Store } from './store.js';
import { type IncludeObject, toTable } from './table.js';
import type { KubeObject } from './types.js';

export interface WatchParams {
  resource: ResourceName;
  /** Only objects of this namespace (namespaced URLs). */
  namespace?: string;
  selectors: Selectors;
  /** "" or "0": start with ADDED events for the current objects. */
  resourceVersion: string;
  allowBookmarks: boolean;
  /** sendInitialEvents=true (watch-list): initial ADDED events, then a bookmark marking their end. */
  sendInitialEvents?: boolean;
  /** Close the stream after this long. */
  timeoutMs: number;
  /** Encode objects as single-row Tables (kubectl get -w). */
  table?: { include: IncludeObject };
}

export interface WatchHubOptions {
  /** Period of BOOKMARK events for watches that allow them. */
  bookmarkIntervalMs: number;
  log?: Log;
  /** Buffered bytes after which a watcher that does not read is dropped. */
  maxBufferedBytes?: number;
}

type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

interface ActiveWatch {
  res: ServerResponse;
  params: WatchParams;
  close(): void;
}

export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/**
 * The JSON line of a store event's object, made once and shared by every watcher that sends
 * it with that type (with 20 watchers, one JSON.stringify per change instead of 20).
 */
const lines = new WeakMap<StoreEvent, { type: WatchType; line: string }>();

export class WatchHub {
  private readonly active = new Set<ActiveWatch>();
  private held = false;
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly opts: WatchHubOptions,
  ) {}

  /** Number of open watch streams. */
  get count(): number {
    return this.active.size;
  }

  /** Ends every open watch stream cleanly (as an API server restart or a load balancer would). Returns how many. */
  closeAll(): number {
    const all = [...this.active];
    for (const w of all) w.close();
    return all.length;
  }

  /** Makes new watch requests wait (no response yet) until `release()`. */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    const all = [...this.waiting];
    this.waiting.clear();
    for (const start of all) start();
  }

  serve(req: IncomingMessage, res: ServerResponse, params: WatchParams): void {
    if (!this.held) {
      this.start(req, res, params);
      return;
    }
    const start = (): void => {
      if (!res.destroyed && !res.writableEnded) this.start(req, res, params);
    };
    this.waiting.add(start);
    res.on('close', () => this.waiting.delete(start));
  }

  private start(req: IncomingMessage, res: ServerResponse, params: WatchParams): void {
    const { store } = this;
    const info = RESOURCES[params.resource];
    const log = this.opts.log;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    req.socket.setNoDelay(true);

    let firstTable = true;
    const encode = (type: WatchType, object: KubeObject | Status): string => {
      let obj: unknown = object;
      if (params.table && type !== 'ERROR' && type !== 'BOOKMARK') {
        obj = toTable(params.resource, info.kind, [object as KubeObject], { resourceVersion: (object as KubeObject).metadata.resourceVersion }, {
          include: params.table.include,
          now: new Date(),
          noHeaders: !firstTable,
        });
        firstTable = false;
      }
      return JSON.stringify({ type, object: obj }) + '\n';
    };

    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe: () => void = () => undefined;
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.active.delete(watch);
    };
    const watch: ActiveWatch = {
      res,
      params,
      close: () => {
        cleanup();
        if (!res.writableEnded) res.end();
      },
    };
    const send = (type: WatchType, object: KubeObject | Status, ev?: StoreEvent): void => {
      if (closed) return;
      let line: string;
      if (ev !== undefined && object === ev.object && !params.table) {
        const hit = lines.get(ev);
        if (hit !== undefined && hit.type === type) line = hit.line;
        else {
          line = encode(type, object);
          lines.set(ev, { type, line });
        }
      } else line = encode(type, object);
      res.write(line);
      if (res.writableLength > (this.opts.maxBufferedBytes ?? 64 * 1024 * 1024)) {
        log?.warn(`watch ${req.url ?? ''}: client is not reading; closing the stream`);
        cleanup();
        res.destroy();
      }
    };
    const bookmark = (annotations?: Record<string, string>): void => {
      const metadata: Record<string, unknown> = { resourceVersion: store.resourceVersion };
      if (annotations) metadata.annotations = annotations;
      send('BOOKMARK', { kind: info.kind, apiVersion: info.apiVersion, metadata } as KubeObject);
    };

    const inScope = (o: KubeObject): boolean => params.namespace === undefined || !info.namespaced || o.metadata.namespace === params.namespace;
    const deliver = (ev: StoreEvent): void => {
      if (ev.resource !== params.resource) return;
      const now = inScope(ev.object) && matches(params.selectors, ev.object);
      const before = ev.oldObject !== undefined && inScope(ev.oldObject) && matches(params.selectors, ev.oldObject);
      if (ev.type === 'ADDED') {
        if (now) send('ADDED', ev.object, ev);
      } else if (ev.type === 'DELETED') {
        if (before || now) send('DELETED', ev.object, ev);
      } else if (now && before) send('MODIFIED', ev.object, ev);
      else if (now) send('ADDED', ev.object, ev);
      else if (before) {
        const old = ev.oldObject as KubeObject;
        send('DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(ev.resourceVersion) } });
      }
    };

    res.on('close', cleanup);
    this.active.add(watch);

    const rv = params.resourceVersion;
    if (rv === '' || rv === '0' || params.sendInitialEvents) {
      for (const o of store.list(params.resource, { namespace: params.namespace, selectors: params.selectors }).items) send('ADDED', o);
      if (params.sendInitialEvents && params.allowBookmarks) bookmark({ [INITIAL_EVENTS_END]: 'true' });
    } else {
      const n = Number(rv);
      const events = store.eventsSince(n);
      if (events === null) {
        send('ERROR', failure(410, 'Expired', `too old resource version: ${rv} (${store.oldestResourceVersion})`));
        watch.close();
        return;
      }
      for (const ev of events) deliver(ev);
    }
    if (closed) return;
    unsubscribe = store.subscribe(deliver);

    if (params.allowBookmarks && this.opts.bookmarkIntervalMs > 0) {
      const tick = (): void => {
        if (closed) return;
        bookmark();
        timers[0] = setTimeout(tick, this.opts.bookmarkIntervalMs);
      };
      timers[0] = setTimeout(tick, this.opts.bookmarkIntervalMs);
    }
    if (params.timeoutMs > 0) timers.push(setTimeout(() => watch.close(), params.timeoutMs));
  }
}
