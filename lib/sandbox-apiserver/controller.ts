/**
 * The endpoints controllers: keeps the Endpoints object of every Service that
 * has a selector equal to what `computeSubsets` says (truncated at 1,000
 * addresses, with the over-capacity annotation, as the real controller does),
 * writing only when the result differs. Services without a selector (and
 * ExternalName services) keep whatever Endpoints the user writes. Deleting a
 * Service deletes its Endpoints. With slices on, also the discovery.k8s.io/v1
 * EndpointSlices of every service (endpointslices.ts: from the pods of a
 * service with a selector, mirrored from the Endpoints of one without).
 * Runs synchronously inside the store's change notifications.
 */
import type { Log } from '../log.js';
import { ApiError } from './errors.js';
import { OVER_CAPACITY_ANNOTATION, computeSubsets, endpointsLabels, truncateSubsets } from './endpoints.js';
import { type EndpointSlice, MANAGED_BY_LABEL, MIRROR_CONTROLLER, SERVICE_NAME_LABEL, SLICE_CONTROLLER, planSlices } from './endpointslices.js';
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
  /** Number of EndpointSlice writes made so far. */
  sliceWrites = 0;
  private readonly slices: boolean;
  /** Slice names by `<namespace>/<service>` (the service-name label), for every slice in the store. */
  private readonly slicesOf = new Map<string, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly log?: Log,
    opts: { slices?: boolean } = {},
  ) {
    this.slices = opts.slices ?? true;
  }

  /** Indexes the current objects, syncs every service, then follows changes. */
  start(): void {
    if (this.unsubscribe) return;
    for (const p of this.store.list('pods').items) this.indexPod(p, true);
    for (const s of this.store.list('endpointslices').items) this.indexSlice(s, true);
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
        if (this.writing > 0) break;
        // Ours changed by someone else: put it back. A user's (service without a selector): mirror it into slices.
        if (this.selectors.has(`${ns}/${name}`)) this.syncService(ns, name);
        else if (this.slices) this.mirror(ns, name);
        break;
      case 'endpointslices': {
        if (ev.oldObject) this.indexSlice(ev.oldObject, false);
        if (ev.type !== 'DELETED') this.indexSlice(ev.object, true);
        const labels = ev.object.metadata.labels ?? {};
        const manager = labels[MANAGED_BY_LABEL];
        const svc = labels[SERVICE_NAME_LABEL];
        if (this.writing === 0 && this.slices && svc && (manager === SLICE_CONTROLLER || manager === MIRROR_CONTROLLER)) this.syncService(ns, svc);
        break;
      }
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
        if (this.slices) this.syncSlices(ns, name, null, [], undefined);
        return;
      }
      const sel = managedSelector(svc);
      const pods = sel ? this.podsFor(ns, sel) : [];
      if (this.slices) this.syncSlices(ns, name, svc, pods, existing);
      if (!sel) return;
      const subsets = computeSubsets(svc, pods);
      const truncated = truncateSubsets(subsets);
      const kept = subsets.filter((s) => (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0) > 0);
      const labels = endpointsLabels(svc);
      const annotations: Record<string, string> = { ...(existing?.metadata.annotations ?? {}) };
      if (truncated) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
      else delete annotations[OVER_CAPACITY_ANNOTATION];
      if (
        existing &&
        deepEqual(existing.subsets ?? [], kept) &&
        deepEqual(existing.metadata.labels ?? {}, labels ?? {}) &&
        deepEqual(existing.metadata.annotations ?? {}, annotations)
      ) {
        return;
      }
      const body: Endpoints = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace: ns, ...(labels ? { labels } : {}), ...(Object.keys(annotations).length ? { annotations } : {}) },
        ...(kept.length ? { subsets: kept } : {}),
      };
      this.writes++;
      if (existing) {
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

  private indexSlice(o: KubeObject, add: boolean): void {
    const svc = o.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) return;
    const key = `${o.metadata.namespace ?? ''}/${svc}`;
    let names = this.slicesOf.get(key);
    if (add) {
      if (!names) this.slicesOf.set(key, (names = new Set()));
      names.add(o.metadata.name ?? '');
    } else if (names) {
      names.delete(o.metadata.name ?? '');
      if (names.size === 0) this.slicesOf.delete(key);
    }
  }

  /** The mirroring controller: slices of a selectorless service follow the Endpoints its owner writes. */
  private mirror(ns: string, name: string): void {
    const svc = this.store.tryGet('services', ns, name) as Service | undefined;
    if (!svc || managedSelector(svc)) return;
    this.writing++;
    try {
      this.syncSlices(ns, name, svc, [], this.store.tryGet('endpoints', ns, name) as Endpoints | undefined);
    } catch (err) {
      const msg = err instanceof ApiError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
      this.log?.error(`endpointslice mirroring: ${ns}/${name}: ${msg}`);
    } finally {
      this.writing--;
    }
  }

  /** The EndpointSlices this controller (or the mirroring one) manages for a service, by name. */
  private managedSlices(ns: string, service: string): EndpointSlice[] {
    const out: EndpointSlice[] = [];
    for (const sliceName of [...(this.slicesOf.get(`${ns}/${service}`) ?? [])].sort()) {
      const o = this.store.tryGet('endpointslices', ns, sliceName);
      if (!o) continue;
      const labels = o.metadata.labels ?? {};
      const m = labels[MANAGED_BY_LABEL];
      if (labels[SERVICE_NAME_LABEL] === service && (m === SLICE_CONTROLLER || m === MIRROR_CONTROLLER)) out.push(o as EndpointSlice);
    }
    return out;
  }

  /**
   * Brings a service's slices to what it wants, written as the real controller writes them:
   * new slices first, then changed ones, then deletions (each its own store write, so watchers
   * see the steps). A slice of the other manager (selector added or removed) is replaced.
   */
  private syncSlices(ns: string, name: string, svc: Service | null, pods: Pod[], endpoints: Endpoints | undefined): void {
    const manager = svc && managedSelector(svc) ? SLICE_CONTROLLER : MIRROR_CONTROLLER;
    const all = this.managedSlices(ns, name);
    const mine = all.filter((s) => s.metadata.labels?.[MANAGED_BY_LABEL] === manager);
    const plan = planSlices(svc, pods, endpoints, mine, () => '');
    plan.delete.push(...all.filter((s) => s.metadata.labels?.[MANAGED_BY_LABEL] !== manager));
    for (const s of plan.create) {
      const body = { ...s, metadata: { ...s.metadata } };
      if (!body.metadata.name) delete body.metadata.name;
      this.sliceWrites++;
      this.store.create('endpointslices', ns, body);
    }
    for (const s of plan.update) {
      this.sliceWrites++;
      this.store.update('endpointslices', ns, s.metadata.name ?? '', s);
    }
    for (const s of plan.delete) {
      this.sliceWrites++;
      this.store.delete('endpointslices', ns, s.metadata.name ?? '');
    }
  }
}
