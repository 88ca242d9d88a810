/**
 * The in-memory object store: Services, Endpoints, Pods and Namespaces under
 * one global resourceVersion counter, with the real server's create / update
 * / patch / delete semantics (defaults, validation, preconditions, cluster-IP
 * and pod-IP allocation) and a bounded event history for watches.
 *
 * Stored objects are deeply frozen; callers that want to change one clone it.
 * All operations are synchronous: when a call returns, every subscriber
 * (watches, the endpoints controller) has seen the change.
 */
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  failure,
  forbidden,
  invalid,
  notFound,
} from './errors.js';
import { EventHistory, type EventType, type StoreEvent } from './history.js';
import { clone, deepEqual, deepFreeze } from './json.js';
import { PatchError, applyPatch, type PatchType } from './patch.js';
import { PodIpam, defaultPod, type KubeletOptions } from './pods.js';
import { RESOURCES, type ResourceInfo, type ResourceName } from './resources.js';
import { EVERYTHING, matches, type Selectors } from './selectors.js';
import { NO_RESERVATION, ServiceIpam, defaultService, type Reservation } from './services.js';
import { canonical, decodeObject, defaultEndpoints, defaultNamespace, timestamp } from './objects.js';
import type { Endpoints, KubeObject, Pod, Service } from './types.js';
import { validateObject } from './validate.js';

export type { StoreEvent, EventType } from './history.js';

export interface StoreOptions {
  /** Service CIDR, or "IPv4CIDR,IPv6CIDR" (default 10.0.0.0/24). */
  serviceCidr?: string;
  /** Pod CIDR for simulated pod addresses (default 10.244.0.0/16). */
  podCidr?: string;
  /** Give pods created without status.podIP an address, a node, phase Running and Ready=True (default true). */
  simulateKubelet?: boolean;
  /** Node name given to such pods (default "sandbox-node"). */
  nodeName?: string;
  /** Their status.hostIP (default 127.0.0.1). */
  hostIP?: string;
  /** Number of recent events held for watches (default 1000). */
  history?: number;
  /** Clock (tests). */
  now?: () => Date;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  /** Validate and allocate, but store nothing (dryRun=All). */
  dryRun?: boolean;
  /** Unknown-field handling (fieldValidation query parameter); default Ignore. */
  fieldValidation?: FieldValidation;
  /** Write only the status (PUT/PATCH …/status). */
  subresource?: 'status';
  /** Receives warnings (unknown fields with fieldValidation=Warn). */
  warnings?: string[];
}

export interface DeleteOptions {
  dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  namespace?: string;
  selectors?: Selectors;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export type StoreListener = (ev: StoreEvent) => void;

export const PROTECTED_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public'];

const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

export class Store {
  private rv = 0;
  private readonly data = new Map<ResourceName, Map<string, Map<string, KubeObject>>>();
  private readonly history: EventHistory;
  private readonly listeners = new Set<StoreListener>();
  readonly serviceIpam: ServiceIpam;
  readonly podIpam: PodIpam;
  private readonly kubelet: KubeletOptions;
  private readonly now: () => Date;

  constructor(opts: StoreOptions = {}) {
    this.serviceIpam = new ServiceIpam({ serviceCidr: opts.serviceCidr ?? '10.0.0.0/24' });
    this.podIpam = new PodIpam(opts.podCidr ?? '10.244.0.0/16');
    this.kubelet = { enabled: opts.simulateKubelet ?? true, nodeName: opts.nodeName ?? 'sandbox-node', hostIP: opts.hostIP ?? '127.0.0.1' };
    this.history = new EventHistory(opts.history ?? 1000);
    this.now = opts.now ?? (() => new Date());
    for (const r of Object.keys(RESOURCES) as ResourceName[]) this.data.set(r, new Map());
  }

  // -------------------------------------------------------------- reading

  /** The current (latest) resourceVersion, as the decimal string clients see. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** The oldest resourceVersion a watch can resume from. */
  get oldestResourceVersion(): string {
    return String(this.history.oldestValid);
  }

  get historyLimit(): number {
    return this.history.capacity;
  }

  setHistoryLimit(n: number): void {
    this.history.setLimit(n);
  }

  /** Forgets the event history: watches from any older resourceVersion get 410 Expired. */
  compact(): void {
    this.history.compact(this.rv);
  }

  /** Events after `rv` (all resources), or null if they are no longer held. */
  eventsSince(rv: number): StoreEvent[] | null {
    return this.history.since(rv);
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private bucket(resource: ResourceName, ns: string): Map<string, KubeObject> | undefined {
    return this.data.get(resource)?.get(ns);
  }

  private nsKey(resource: ResourceName, namespace: string | undefined): string {
    return RESOURCES[resource].namespaced ? (namespace ?? '') : '';
  }

  tryGet(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(resource, this.nsKey(resource, namespace))?.get(name);
  }

  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject {
    const obj = this.tryGet(resource, namespace, name);
    if (!obj) throw notFound(resource, name);
    return obj;
  }

  /** Objects sorted by namespace, then name (the real server's key order). */
  list(resource: ResourceName, opts: ListOptions = {}): ListResult {
    const sel = opts.selectors ?? EVERYTHING;
    const byNs = this.data.get(resource) as Map<string, Map<string, KubeObject>>;
    const namespaces = opts.namespace !== undefined && RESOURCES[resource].namespaced ? [opts.namespace] : [...byNs.keys()].sort();
    const items: KubeObject[] = [];
    for (const ns of namespaces) {
      const b = byNs.get(ns);
      if (!b) continue;
      for (const name of [...b.keys()].sort()) {
        const o = b.get(name) as KubeObject;
        if (matches(sel, o)) items.push(o);
      }
    }
    return { items, resourceVersion: this.resourceVersion };
  }

  /** Number of stored objects of a resource. */
  count(resource: ResourceName): number {
    let n = 0;
    for (const b of (this.data.get(resource) as Map<string, Map<string, KubeObject>>).values()) n += b.size;
    return n;
  }

  // -------------------------------------------------------------- writing

  private commit(type: EventType, resource: ResourceName, obj: KubeObject, old?: KubeObject): KubeObject {
    this.rv++;
    const stored = deepFreeze(canonical({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } }));
    const ns = this.nsKey(resource, stored.metadata.namespace);
    const byNs = this.data.get(resource) as Map<string, Map<string, KubeObject>>;
    if (type === 'DELETED') {
      const b = byNs.get(ns);
      b?.delete(stored.metadata.name ?? '');
      if (b && b.size === 0) byNs.delete(ns);
    } else {
      let b = byNs.get(ns);
      if (!b) byNs.set(ns, (b = new Map()));
      b.set(stored.metadata.name ?? '', stored);
    }
    const ev: StoreEvent = { type, resource, object: stored, oldObject: old, resourceVersion: this.rv };
    this.history.push(ev);
    for (const l of [...this.listeners]) l(ev);
    return stored;
  }

  private checkNamespace(info: ResourceInfo, obj: KubeObject, namespace: string | undefined): void {
    if (!info.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    const ns = namespace ?? obj.metadata.namespace ?? 'default';
    if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = ns;
    if (!this.tryGet('namespaces', undefined, ns)) throw notFound('namespaces', ns);
  }

  private applyDefaults(resource: ResourceName, obj: KubeObject, old?: KubeObject): void {
    if (resource === 'services') defaultService(obj as Service, old as Service | undefined);
    else if (resource === 'pods') defaultPod(obj as Pod);
    else if (resource === 'endpoints') defaultEndpoints(obj as Endpoints);
    else if (resource === 'namespaces') defaultNamespace(obj, old);
  }

  private reserve(resource: ResourceName, obj: KubeObject, old?: KubeObject): Reservation {
    if (resource === 'services') return this.serviceIpam.reserve(obj as Service, old as Service | undefined);
    if (resource === 'pods' && !old) return this.podIpam.reserve(obj as Pod, this.kubelet, timestamp(this.now()));
    return NO_RESERVATION;
  }

  private release(resource: ResourceName, obj: KubeObject): void {
    if (resource === 'services') this.serviceIpam.release(obj as Service);
    else if (resource === 'pods') this.podIpam.release(obj as Pod);
  }

  private generateName(resource: ResourceName, ns: string | undefined, prefix: string): string {
    for (;;) {
      let s = prefix;
      for (let i = 0; i < 5; i++) s += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
      if (!this.tryGet(resource, ns, s)) return s;
    }
  }

  /** POST: creates an object. `namespace` is the one from the URL (namespaced resources). */
  create(resource: ResourceName, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): KubeObject {
    const info = RESOURCES[resource];
    const obj = decodeObject(info, body, opts);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      meta.name = this.generateName(resource, info.namespaced ? (namespace ?? meta.namespace) : undefined, meta.generateName);
    }
    const errs0 = meta.name ? [] : validateObject(resource, obj).filter((e) => e.field === 'metadata.name');
    if (errs0.length) throw invalid(info.kind, '', errs0);
    this.checkNamespace(info, obj, namespace);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp(this.now());
    if (resource === 'services' || resource === 'pods') meta.generation = 1;
    else delete meta.generation;
    this.applyDefaults(resource, obj);
    const errs = validateObject(resource, obj);
    if (errs.length) throw invalid(info.kind, meta.name ?? '', errs);
    if (this.tryGet(resource, meta.namespace, meta.name ?? '')) throw alreadyExists(resource, meta.name ?? '');
    const r = this.reserve(resource, obj);
    if (opts.dryRun) {
      r.rollback();
      return deepFreeze(canonical(obj));
    }
    r.commit();
    return this.commit('ADDED', resource, obj);
  }

  /** PUT: replaces an object (creates it for endpoints). `created` tells which happened. */
  update(resource: ResourceName, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions = {}): { object: KubeObject; created: boolean } {
    const info = RESOURCES[resource];
    const obj = decodeObject(info, body, opts);
    if (!obj.metadata.name) obj.metadata.name = name;
    if (obj.metadata.name !== name) throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    this.checkNamespace(info, obj, namespace);
    const old = this.tryGet(resource, obj.metadata.namespace, name);
    if (!old) {
      if (info.createOnUpdate && !opts.subresource) {
        const { resourceVersion: _rv, ...meta } = obj.metadata;
        return { object: this.create(resource, namespace, { ...obj, metadata: meta }, { ...opts, fieldValidation: 'Ignore' }), created: true };
      }
      throw notFound(resource, name);
    }
    return { object: this.replace(info, old, obj, opts), created: false };
  }

  /** The update path shared by PUT and PATCH: `obj` is the full new object. */
  private replace(info: ResourceInfo, old: KubeObject, obj: KubeObject, opts: WriteOptions): KubeObject {
    const resource = info.name;
    const name = old.metadata.name ?? '';
    const meta = obj.metadata;
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) throw conflict(resource, name);
    if (meta.uid && meta.uid !== old.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
    }
    let next: KubeObject;
    if (opts.subresource === 'status') {
      next = clone(old);
      if (obj.status !== undefined) next.status = obj.status;
      else delete next.status;
    } else {
      next = obj;
      if (info.hasStatus && resource !== 'namespaces') {
        if (old.status !== undefined) next.status = clone(old.status);
        else delete next.status;
      }
    }
    const nm = next.metadata;
    nm.uid = old.metadata.uid;
    nm.creationTimestamp = old.metadata.creationTimestamp;
    nm.namespace = old.metadata.namespace;
    if (nm.namespace === undefined) delete nm.namespace;
    nm.resourceVersion = old.metadata.resourceVersion;
    if (old.metadata.generation !== undefined) nm.generation = old.metadata.generation;
    else delete nm.generation;
    if (old.metadata.deletionTimestamp !== undefined) nm.deletionTimestamp = old.metadata.deletionTimestamp;
    else delete nm.deletionTimestamp;
    this.applyDefaults(resource, next, old);
    const errs = validateObject(resource, next);
    if (errs.length) throw invalid(info.kind, name, errs);
    const r = this.reserve(resource, next, old);
    if (deepEqual(canonical(next), old)) {
      r.rollback();
      return old;
    }
    if (old.metadata.generation !== undefined && !deepEqual(next.spec, old.spec)) nm.generation = old.metadata.generation + 1;
    if (opts.dryRun) {
      r.rollback();
      return deepFreeze(canonical(next));
    }
    r.commit();
    return this.commit('MODIFIED', resource, next, old);
  }

  /** PATCH (merge, strategic merge or JSON patch). */
  patch(resource: ResourceName, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: WriteOptions = {}): KubeObject {
    const info = RESOURCES[resource];
    const old = this.get(resource, namespace, name);
    let patched: unknown;
    try {
      patched = applyPatch(resource, type, clone(old), patch);
    } catch (err) {
      if (err instanceof PatchError) throw new ApiError(failure(422, 'Invalid', err.message));
      throw err;
    }
    // `patched` keeps the stored resourceVersion unless the patch sets one (a precondition)
    const obj = decodeObject(info, patched, opts);
    if (obj.metadata.name !== name) throw badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    if (info.namespaced && obj.metadata.namespace !== old.metadata.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return this.replace(info, old, obj, opts);
  }

  /** DELETE: removes an object now (no graceful deletion) and returns its last state. */
  delete(resource: ResourceName, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    const old = this.get(resource, namespace, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw conflict(resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`);
    }
    if (resource === 'namespaces' && PROTECTED_NAMESPACES.includes(name)) throw forbidden(resource, name, 'this namespace may not be deleted');
    const last = clone(old);
    if (resource === 'namespaces') {
      last.metadata.deletionTimestamp = timestamp(this.now());
      last.status = { phase: 'Terminating' };
    }
    if (opts.dryRun) return deepFreeze(canonical(last));
    if (resource === 'namespaces') {
      for (const r of ['services', 'endpoints', 'pods'] as const) {
        for (const o of this.list(r, { namespace: name }).items) {
          if (this.tryGet(r, name, o.metadata.name ?? '')) this.delete(r, name, o.metadata.name ?? '');
        }
      }
    }
    this.release(resource, old);
    return this.commit('DELETED', resource, last, old);
  }

  /** DELETE on a collection: deletes every matching object; returns them. */
  deleteCollection(resource: ResourceName, namespace: string | undefined, selectors: Selectors, opts: DeleteOptions = {}): KubeObject[] {
    const out: KubeObject[] = [];
    for (const o of this.list(resource, { namespace, selectors }).items) {
      if (resource === 'namespaces' && PROTECTED_NAMESPACES.includes(o.metadata.name ?? '')) continue;
      if (!this.tryGet(resource, o.metadata.namespace, o.metadata.name ?? '')) continue;
      out.push(this.delete(resource, o.metadata.namespace, o.metadata.name ?? '', { dryRun: opts.dryRun }));
    }
    return out;
  }
}
