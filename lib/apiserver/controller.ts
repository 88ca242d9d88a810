/**
 * The endpoints controller: keeps the Endpoints object of every Service that
 * has a selector equal to what `computeSubsets` says, writing only when the
 * result differs. Services without a selector (and ExternalName services)
 * keep whatever Endpoints the user writes. Deleting a Service deletes its
 * Endpoints. Runs synchronously inside the store's change notifications.
 */
import type { Log } from '../log.js';
import { ApiError } from './errors.js';
import { computeSubsets, endpointsLabels } from './endpoints.js';
import type { StoreEvent } from './history.js';
import { deepEqual } from './json.js';
import { selectorMatches } from './selectors.js';
import type { Store } from './store.js';
import type { Endpoints, KubeObject, Pod, Service } from './types.js';

type Index = Map<string, Map<string, Set<string>>>; // namespace → "key=value" → names

function addTo(index: Index, ns: string, pair: string, name: string): void {
  let byPair = index.get(ns);
  if (!byPair) index.set(ns, (byPair = new Map()));
  let names = byPair.get(pair);
  if (!names) byPair.set(pair, (names = new Set()));
  names.add(name);
}

function removeFrom(index: Index, ns: string, pair: string, name: string): void {
  const byPair = index.get(ns);
  const names = byPair?.get(pair);
  if (!byPair || !names) return;
  names.delete(name);
  if (names.size === 0) byPair.delete(pair);
  if (byPair.size === 0) index.delete(ns);
}

const pairs = (labels: Readonly<Record<string, string>> | undefined): string[] => Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);

function managedSelector(svc: Service): Record<string, string> | undefined {
  const sel = svc.spec?.selector;
  if ((svc.spec?.type ?? 'ClusterIP') === 'ExternalName' || !sel || Object.keys(sel).length === 0) return undefined;
  return sel;
}

export class EndpointsController {
  /** Pods by each of their labels. */
  private readonly pods: Index = new Map();
  /** Managed services by the first pair of their selector. */
  private readonly services: Index = new Map();
  private readonly selectors = new Map<string, Record<string, string>>();
  private unsubscribe: (() => void) | undefined;
  private writing = 0;
  /** Number of Endpoints writes (create, update, delete) made so far. */
  writes = 0;

  constructor(
    private readonly store: Store,
    private readonly log?: Log,
  ) {}

  /** Indexes the current objects, syncs every service, then follows changes. */
  start(): void {
    if (this.unsubscribe) return;
    for (const p of this.store.list('pods').items) this.indexPod(p, true);
    for (const s of this.store.list('services').items) this.indexService(s as Service);
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
    for (const s of this.store.list('services').items) this.syncService(s.metadata.namespace ?? '', s.metadata.name ?? '');
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private indexPod(pod: KubeObject, add: boolean): void {
    const ns = pod.metadata.namespace ?? '';
    for (const pair of pairs(pod.metadata.labels)) {
      if (add) addTo(this.pods, ns, pair, pod.metadata.name ?? '');
      else removeFrom(this.pods, ns, pair, pod.metadata.name ?? '');
    }
  }

  private indexService(svc: Service): void {
    const ns = svc.metadata.namespace ?? '';
    const name = svc.metadata.name ?? '';
    this.unindexService(ns, name);
    const sel = managedSelector(svc);
    if (!sel) return;
    this.selectors.set(`${ns}/${name}`, sel);
    addTo(this.services, ns, pairs(sel).sort()[0], name);
  }

  private unindexService(ns: string, name: string): void {
    const prev = this.selectors.get(`${ns}/${name}`);
    if (!prev) return;
    this.selectors.delete(`${ns}/${name}`);
    removeFrom(this.services, ns, pairs(prev).sort()[0], name);
  }

  /** Services of `ns` whose selector matches one of the label sets. */
  private servicesFor(ns: string, labelSets: Array<Readonly<Record<string, string>> | undefined>): Set<string> {
    const out = new Set<string>();
    const byPair = this.services.get(ns);
    if (!byPair) return out;
    for (const labels of labelSets) {
      for (const pair of pairs(labels)) {
        for (const name of byPair.get(pair) ?? []) {
          const sel = this.selectors.get(`${ns}/${name}`);
          if (sel && selectorMatches(sel, labels)) out.add(name);
        }
      }
    }
    return out;
  }

  private podsFor(ns: string, selector: Record<string, string>): Pod[] {
    const byPair = this.pods.get(ns);
    if (!byPair) return [];
    let smallest: Set<string> | undefined;
    for (const pair of pairs(selector)) {
      const names = byPair.get(pair);
      if (!names) return [];
      if (!smallest || names.size < smallest.size) smallest = names;
    }
    const out: Pod[] = [];
    for (const name of smallest ?? []) {
      const p = this.store.tryGet('pods', ns, name);
      if (p && selectorMatches(selector, p.metadata.labels)) out.push(p as Pod);
    }
    return out;
  }

  private onEvent(ev: StoreEvent): void {
    const ns = ev.object.metadata.namespace ?? '';
    const name = ev.object.metadata.name ?? '';
    switch (ev.resource) {
      case 'pods': {
        if (ev.oldObject) this.indexPod(ev.oldObject, false);
        if (ev.type !== 'DELETED') this.indexPod(ev.object, true);
        const affected = this.servicesFor(ns, [ev.oldObject?.metadata.labels, ev.object.metadata.labels]);
        for (const svc of affected) this.syncService(ns, svc);
        break;
      }
      case 'services':
        if (ev.type === 'DELETED') this.unindexService(ns, name);
        else this.indexService(ev.object as Service);
        this.syncService(ns, name);
        break;
      case 'endpoints':
        if (this.writing === 0 && this.selectors.has(`${ns}/${name}`)) this.syncService(ns, name);
        break;
      case 'namespaces':
        break;
    }
  }

  /** Brings the Endpoints of one service up to date (no write if unchanged). */
  syncService(ns: string, name: string): void {
    const svc = this.store.tryGet('services', ns, name) as Service | undefined;
    const existing = this.store.tryGet('endpoints', ns, name) as Endpoints | undefined;
    this.writing++;
    try {
      if (!svc) {
        if (existing) {
          this.writes++;
          this.store.delete('endpoints', ns, name);
        }
        return;
      }
      const sel = managedSelector(svc);
      if (!sel) return;
      const subsets = computeSubsets(svc, this.podsFor(ns, sel));
      const labels = endpointsLabels(svc);
      if (existing && deepEqual(existing.subsets ?? [], subsets) && deepEqual(existing.metadata.labels ?? {}, labels ?? {})) return;
      const body: Endpoints = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
        ...(subsets.length ? { subsets } : {}),
      };
      this.writes++;
      if (existing) {
        if (existing.metadata.annotations) body.metadata.annotations = { ...existing.metadata.annotations };
        body.metadata.resourceVersion = existing.metadata.resourceVersion;
        this.store.update('endpoints', ns, name, body);
      } else {
        this.store.create('endpoints', ns, body);
      }
    } catch (err) {
      const msg = err instanceof ApiError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
      this.log?.error(`endpoints controller: sync ${ns}/${name}: ${msg}`);
    } finally {
      this.writing--;
    }
  }
}
