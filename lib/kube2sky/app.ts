/**
 * kube2sky: Services, Endpoints (or EndpointSlices) and Pods from the Kubernetes
 * API → SkyDNS records in etcd. Start-up as v1.2 (wait for default/kubernetes
 * and write it first), then informers on all three kinds; every change
 * recomputes the object's records and the writer applies the difference.
 */
import { CoreV1Api, KubeConfig, KubernetesObject, ListWatch } from '@kubernetes/client-node';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../etcd/client.js';
import type { Log } from '../log.js';
import { nameToKey } from '../msg/path.js';
import fetch from 'node-fetch';
import { Kube2SkyConfig } from './config.js';
import { MappingWatch, RawList, listPaged } from './kube.js';
import { WatchedKind, trimObject } from './trim.js';
import { Kube2SkyMetrics } from './metrics.js';
import { Problem, RecordOptions, ownedPrefixes, podRecords, serviceRecords, versionRecords } from './records.js';
import { LeaderElection } from './leader.js';
import { RemovalGrace, SliceIndex } from './slices.js';
import type { EndpointSlice, Endpoints, Pod, Service } from './types.js';
import { RecordWriter } from './writer.js';
import { Backoff } from '../backoff.js';

interface Watched<T extends KubernetesObject> {
  kind: WatchedKind;
  lw: ListWatch<T>;
  mw: MappingWatch;
  synced: boolean;
  /** Last sign of life from the API server for this kind (a list page, a watch answer, an event or bookmark). */
  lastAlive: number;
  /** When the stall check last restarted this watch. */
  lastRestart: number;
}

export class Kube2Sky {
  readonly etcd: Etcd3;
  readonly writer: RecordWriter;
  readonly metrics: Kube2SkyMetrics;
  private readonly ropts: RecordOptions;
  private services: Watched<KubernetesObject> | null = null;
  private endpoints: Watched<KubernetesObject> | null = null;
  private pods: Watched<KubernetesObject> | null = null;
  /** EndpointSlices, when they are the endpoints' source (see --endpoint-slices). */
  private slices: Watched<KubernetesObject> | null = null;
  private readonly sliceIndex = new SliceIndex();
  private readonly grace: RemovalGrace;
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  /** Where headless services' endpoints are read from, once decided at start. */
  endpointsSource: 'endpoints' | 'endpointslices' | null = null;
  private stopped = false;
  /** With --leader-elect: the election this replica campaigns in. */
  readonly election: LeaderElection | null;
  /** Called when leadership, once won, is lost (cmd/kube2sky.ts exits: a standby takes over). */
  leadershipLost: ((why: string) => void) | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  /** The initial lists of every watched kind are written to etcd. */
  initialSyncDone = false;
  lastFullSync = 0;
  private readonly core: CoreV1Api;

  constructor(readonly cfg: Kube2SkyConfig, readonly kc: KubeConfig, private readonly log: Log, etcd?: Etcd3) {
    this.ropts = { domain: cfg.domain, legacy: cfg.legacy };
    this.grace = new RemovalGrace(cfg.sliceGraceMs);
    this.etcd =
      etcd ??
      createEtcdClient({
        urls: cfg.etcdUrls,
        caFile: cfg.etcdCa || undefined,
        certFile: cfg.etcdCert || undefined,
        keyFile: cfg.etcdKey || undefined,
        callTimeoutMs: cfg.mutationTimeoutMs,
      });
    this.election = cfg.leaderElect ? new LeaderElection(this.etcd, { name: cfg.leaderElectName, ttlSeconds: cfg.leaderLeaseSeconds, log }) : null;
    this.election?.onLost((why) => this.leadershipLost?.(why));
    this.metrics = new Kube2SkyMetrics(
      () => this.writer.size,
      () => (this.lastFullSync ? this.lastFullSync / 1000 : 0),
      () => (this.election === null || this.election.leading ? 1 : 0),
    );
    const domainKey = nameToKey(cfg.domain);
    const owned = ownedPrefixes(this.ropts);
    this.writer = new RecordWriter(this.etcd, {
      prefixes: owned,
      owns: (key, value) => {
        if (key.startsWith(`${domainKey}/svc/`) || key.startsWith(`${domainKey}/pod/`)) return true;
        if (this.ropts.legacy) return false;
        if (key === `${domainKey}/dns-version`) return true;
        // Reverse records: only those pointing into our service names (an operator's own PTRs stay).
        if (key.startsWith('/skydns/arpa/')) {
          try {
            const host = (JSON.parse(value) as { host?: unknown }).host;
            return typeof host === 'string' && host.endsWith(`.svc.${cfg.domain}`);
          } catch {
            return false;
          }
        }
        return false;
      },
      attemptTimeoutMs: cfg.mutationTimeoutMs,
      log,
      hooks: {
        programmed: (s) => this.metrics.latency.observe(s),
        written: (op, n) => this.metrics.writes.inc({ op }, n),
        etcdError: () => this.metrics.etcdErrors.inc(),
        fenced: () => this.election?.fenced(),
      },
      ...(this.election ? { fence: () => this.election!.fence() } : {}),
    });
    this.core = kc.makeApiClient(CoreV1Api);
  }

  private problems(list: Problem[]): void {
    for (const p of list) {
      this.log.warn(`${p.object}: ${p.message}`);
      this.metrics.objectErrors.inc();
    }
  }

  /** Readiness: initial lists written and etcd reachable. */
  ready(): { ok: boolean; reason: string } {
    // A standby is ready: it is doing what it should (waiting), and a rollout must not wait on it.
    if (this.election && !this.election.leading && !this.initialSyncDone && !this.stopped) return { ok: true, reason: 'standby, not leading' };
    if (!this.initialSyncDone) return { ok: false, reason: 'initial lists not yet written to etcd' };
    if (!this.writer.etcdOk) return { ok: false, reason: `etcd unreachable: ${this.writer.lastError}` };
    const stalled = this.stalledWatch(Date.now());
    if (stalled) return { ok: false, reason: `watch ${stalled.w.kind} silent for ${(stalled.silentMs / 1000).toFixed(1)} s (bound ${this.cfg.watchStallMs / 1000} s): no event, bookmark or new connection from the API server` };
    return { ok: true, reason: '' };
  }

  private watchedAll(): Watched<KubernetesObject>[] {
    return [this.endpoints, this.slices, this.services, this.pods].filter((w): w is Watched<KubernetesObject> => w !== null);
  }

  /** The watch silent longest, if longer than --watch-stall-timeout. */
  private stalledWatch(now: number): { w: Watched<KubernetesObject>; silentMs: number } | null {
    if (this.cfg.watchStallMs <= 0) return null;
    let worst: { w: Watched<KubernetesObject>; silentMs: number } | null = null;
    for (const w of this.watchedAll()) {
      const silentMs = now - w.lastAlive;
      if (silentMs > this.cfg.watchStallMs && (!worst || silentMs > worst.silentMs)) worst = { w, silentMs };
    }
    return worst;
  }

  /**
   * Restarts every watch silent longer than the bound, at most once per bound. A healthy
   * watch is never that silent: the API server ends it after half the bound (timeoutSeconds)
   * and the informer opens a new one, whose answer is a sign of life, and bookmarks come
   * between. Silence means a stream that stopped delivering or a request never answered.
   */
  private checkStalls(): void {
    const now = Date.now();
    for (const w of this.watchedAll()) {
      const silentMs = now - w.lastAlive;
      if (silentMs <= this.cfg.watchStallMs || now - w.lastRestart <= this.cfg.watchStallMs) continue;
      w.lastRestart = now;
      const restarted = w.mw.restart();
      this.log.warn(`watch ${w.kind}: nothing from the API server for ${(silentMs / 1000).toFixed(1)} s (bound ${this.cfg.watchStallMs / 1000} s)${restarted ? '; restarting it' : '; no request open (the list or a retry is under way)'}`);
      this.metrics.apiErrors.inc({ kind: w.kind });
    }
  }

  private serviceKey(ns: string, name: string): string {
    return `svc/${ns}/${name}`;
  }

  /** Recomputes one service's records from the caches. */
  private syncService(ns: string, name: string, t: number): void {
    const svc = this.services?.lw.get(name, ns) as Service | undefined;
    if (!svc) {
      this.removeService(ns, name, t);
      return;
    }
    this.applyService(svc, t);
  }

  private removeService(ns: string, name: string, t?: number): void {
    this.forgetGrace(`${ns}/${name}`);
    this.writer.remove(this.serviceKey(ns, name), t);
  }

  /** The service's endpoints from the configured source, or null when it has none. */
  private endpointsOf(ns: string, name: string): Endpoints | null {
    if (this.endpointsSource === 'endpointslices') return this.sliceIndex.endpoints(ns, name);
    return (this.endpoints?.lw.get(name, ns) as Endpoints | undefined) ?? null;
  }

  /**
   * Writes a service's records. `fromSlices`: the change came from its
   * EndpointSlices, so records it drops keep their grace (see RemovalGrace).
   */
  private applyService(svc: Service, t: number, fromSlices = false): void {
    const ns = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const headless = (!svc.spec?.clusterIP || svc.spec.clusterIP === 'None') && svc.spec?.type !== 'ExternalName';
    const ep = headless ? this.endpointsOf(ns, name) : null;
    if (headless && !ep && this.cfg.verbosity >= 1) {
      this.log.info(`service ${ns}/${name} is headless; DNS records will be created once endpoints show up`);
    }
    const g = serviceRecords(svc, ep, this.ropts);
    this.problems(g.problems);
    let records = g.records;
    if (this.endpointsSource === 'endpointslices') {
      const id = `${ns}/${name}`;
      if (headless) {
        const r = this.grace.apply(id, records, Date.now(), fromSlices);
        records = r.records;
        this.scheduleGrace(id, r.recheckAt);
      } else this.forgetGrace(id);
    }
    this.writer.set(this.serviceKey(ns, name), records, t);
  }

  /** Recomputes the service when the earliest grace of its records ends. */
  private scheduleGrace(id: string, at: number | null): void {
    const old = this.graceTimers.get(id);
    if (old) clearTimeout(old);
    this.graceTimers.delete(id);
    if (at === null || this.stopped) return;
    const timer = setTimeout(() => {
      this.graceTimers.delete(id);
      const slash = id.indexOf('/');
      this.syncService(id.slice(0, slash), id.slice(slash + 1), Date.now());
    }, Math.max(0, at - Date.now()) + 1);
    timer.unref();
    this.graceTimers.set(id, timer);
  }

  private forgetGrace(id: string): void {
    this.grace.forget(id);
    this.scheduleGrace(id, null);
  }

  /** A slice event: recompute the headless services whose slices it changed. */
  private slicesChanged(services: string[], t: number): void {
    for (const id of services) {
      const slash = id.indexOf('/');
      const ns = id.slice(0, slash);
      const name = id.slice(slash + 1);
      const svc = this.services?.lw.get(name, ns) as Service | undefined;
      if (!svc) {
        if (this.cfg.verbosity >= 1) this.log.info(`could not find service for endpoint slices of ${id}`);
        continue;
      }
      if (!svc.spec?.clusterIP || svc.spec.clusterIP === 'None') this.applyService(svc, t, true);
    }
  }

  /**
   * --endpoint-slices: true and false as given; auto asks the API server for
   * discovery.k8s.io/v1 and takes EndpointSlices when it lists them, Endpoints
   * when the group is not served (404). Any other answer is retried: guessing
   * wrong would read endpoints from an API the cluster does not keep.
   */
  private async chooseEndpointsSource(): Promise<'endpoints' | 'endpointslices' | null> {
    if (this.cfg.endpointSlices === 'true') return 'endpointslices';
    if (this.cfg.endpointSlices === 'false') return 'endpoints';
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the Kubernetes client configuration');
    let attempt = 0;
    while (!this.stopped) {
      try {
        const init = await this.kc.applyToFetchOptions({});
        init.method = 'GET';
        const abort = new AbortController();
        init.signal = abort.signal as NonNullable<typeof init.signal>;
        const timer = setTimeout(() => abort.abort(), 10_000);
        try {
          const res = await fetch(`${cluster.server}/apis/discovery.k8s.io/v1`, init);
          const body = await res.text();
          if (res.status === 404) return 'endpoints';
          if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${body.slice(0, 200)}`);
          const doc = JSON.parse(body) as { resources?: Array<{ name?: unknown }> };
          return (doc.resources ?? []).some((r) => r?.name === 'endpointslices') ? 'endpointslices' : 'endpoints';
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        attempt++;
        if (attempt === 1 || attempt % 30 === 0) this.log.warn(`--endpoint-slices=auto: cannot tell whether the API server serves discovery.k8s.io/v1 (${(err as Error).message}); asking again`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    return null;
  }

  private applyPod(pod: Pod, t: number): void {
    const key = `pod/${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const g = podRecords(pod, this.ropts);
    this.problems(g.problems);
    this.writer.set(key, g.records, t);
  }

  /** The informers' list function: paged, plain JSON (see listPaged), each object trimmed. */
  private lister(kind: WatchedKind, path: string, trim: (o: KubernetesObject) => KubernetesObject, alive: () => void): () => Promise<RawList> {
    return () =>
      listPaged(this.kc, path, {
        map: trim,
        onPage: (soFar, pages) => {
          alive();
          if (this.cfg.verbosity >= 2) this.log.info(`listed ${soFar} ${kind} (${pages} pages)`);
        },
      });
  }

  private watch(kind: WatchedKind, path: string, handlers: { up(o: KubernetesObject, t: number): void; down(o: KubernetesObject, t: number): void }): Watched<KubernetesObject> {
    const trim = (o: KubernetesObject) => trimObject(kind, o);
    const now = Date.now();
    const w = { kind, synced: false, lastAlive: now, lastRestart: now } as Watched<KubernetesObject>;
    const alive = (): void => {
      w.lastAlive = Date.now();
    };
    // Half the stall bound, so that a healthy watch is re-established twice within it.
    const timeoutSeconds = this.cfg.watchStallMs > 0 ? Math.max(1, Math.floor(this.cfg.watchStallMs / 2000)) : 0;
    w.mw = new MappingWatch(this.kc, trim, { timeoutSeconds, alive });
    const lw = new ListWatch<KubernetesObject>(path, w.mw, this.lister(kind, path, trim, alive), false);
    w.lw = lw;
    const guard = (fn: (o: KubernetesObject, t: number) => void) => (o: KubernetesObject) => {
      try {
        fn(o, Date.now());
      } catch (err) {
        this.log.error(`${kind} ${o.metadata?.namespace}/${o.metadata?.name}: ${(err as Error).message}; skipped`);
        this.metrics.objectErrors.inc();
      }
    };
    lw.on('add', guard(handlers.up));
    lw.on('update', guard(handlers.up));
    lw.on('delete', guard(handlers.down));
    const backoff = new Backoff(500, 10_000);
    lw.on('error', (err: unknown) => {
      if (this.stopped) return;
      const msg = err instanceof Error ? err.message : JSON.stringify(err);
      const delay = backoff.next();
      this.log.warn(`watch ${kind}: ${msg}; restarting in ${delay} ms`);
      this.metrics.apiErrors.inc({ kind });
      setTimeout(() => {
        if (!this.stopped) void lw.start().then(() => { if (lw.latestResourceVersion()) backoff.reset(); });
      }, delay).unref();
    });
    lw.on('connect', () => {
      this.log.debug(`watch ${kind}: (re)connecting`);
    });
    return w;
  }

  /** Waits for default/kubernetes and writes its records (the v1.2 start-up step). */
  private async waitForKubernetesService(): Promise<void> {
    this.log.info('Waiting for service: default/kubernetes');
    let attempt = 0;
    while (!this.stopped) {
      try {
        const svc = (await this.core.readNamespacedService({ name: 'kubernetes', namespace: 'default' })) as Service;
        this.applyService(svc, Date.now());
        await this.writer.drained();
        this.log.info('Successfully added DNS record for Kubernetes service.');
        return;
      } catch (err) {
        attempt++;
        if (attempt === 1 || attempt % 30 === 0) this.log.warn(`Ignoring error while waiting for service default/kubernetes: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async start(): Promise<void> {
    if (this.election) {
      this.log.info(`leader election: campaigning as ${this.election.identity} in election/${this.cfg.leaderElectName}/ (lease ${this.cfg.leaderLeaseSeconds}s); standing by until elected`);
      if (!(await this.election.lead()) || this.stopped) return;
    }
    this.writer.start();
    // What etcd already holds: a restart then only writes what changed.
    this.writer.requestReconcile();
    this.writer.set('dns-version', versionRecords(this.ropts));
    if (this.cfg.waitForKubernetes) await this.waitForKubernetesService();
    if (this.stopped) return;
    this.endpointsSource = await this.chooseEndpointsSource();
    if (this.endpointsSource === null) return;
    this.log.info(
      this.endpointsSource === 'endpointslices'
        ? `reading endpoints from EndpointSlices (discovery.k8s.io/v1; --endpoint-slices=${this.cfg.endpointSlices})`
        : `reading endpoints from Endpoints (core/v1; --endpoint-slices=${this.cfg.endpointSlices}${this.cfg.endpointSlices === 'auto' ? ': the API server does not serve discovery.k8s.io/v1 EndpointSlices' : ''})`,
    );

    if (this.endpointsSource === 'endpointslices') {
      this.slices = this.watch('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', {
        up: (o, t) => this.slicesChanged(this.sliceIndex.upsert(o as EndpointSlice), t),
        down: (o, t) => this.slicesChanged(this.sliceIndex.remove(o as EndpointSlice), t),
      });
    } else this.endpoints = this.watch('endpoints', '/api/v1/endpoints', {
      up: (o, t) => {
        const svc = this.services?.lw.get(o.metadata?.name ?? '', o.metadata?.namespace) as Service | undefined;
        if (!svc) {
          if (this.cfg.verbosity >= 1) this.log.info(`could not find service for endpoints ${o.metadata?.namespace}/${o.metadata?.name}`);
          return;
        }
        if (!svc.spec?.clusterIP || svc.spec.clusterIP === 'None') this.applyService(svc, t);
      },
      down: (o, t) => this.syncService(o.metadata?.namespace ?? '', o.metadata?.name ?? '', t),
    });
    this.services = this.watch('services', '/api/v1/services', {
      up: (o, t) => this.applyService(o as Service, t),
      down: (o, t) => this.removeService(o.metadata?.namespace ?? '', o.metadata?.name ?? '', t),
    });
    if (this.cfg.podRecords) {
      this.pods = this.watch('pods', '/api/v1/pods', {
        up: (o, t) => this.applyPod(o as Pod, t),
        down: (o, t) => this.writer.remove(`pod/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, t),
      });
    }
    const all = this.watchedAll();
    if (this.cfg.watchStallMs > 0) {
      this.stallTimer = setInterval(() => this.checkStalls(), Math.min(1000, this.cfg.watchStallMs / 4));
      this.stallTimer.unref();
    }
    // Each informer lists, then watches; a failed list is retried by the error handler.
    await Promise.all(all.map((w) => w.lw.start()));
    while (!this.stopped && !all.every((w) => w.lw.latestResourceVersion() !== '' || w.synced)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const w of all) w.synced = true;
    if (this.stopped) return;
    // Endpoints may have been listed before their services: recompute every headless service.
    const t = Date.now();
    for (const o of this.services.lw.list()) this.applyService(o as Service, t);
    this.reconcileWithCaches();
    this.writer.enableDeletes();
    await this.writer.drained();
    this.initialSyncDone = true;
    this.lastFullSync = Date.now();
    this.log.info(`initial sync done: ${this.writer.size} records in etcd`);
    this.resyncTimer = setInterval(() => void this.resync(), this.cfg.resyncMs);
    this.resyncTimer.unref();
  }

  /** Drops objects the writer still has but the caches no longer hold (deleted while disconnected). */
  private reconcileWithCaches(): void {
    for (const objKey of this.writer.objects()) {
      const [type, ns, name] = objKey.split('/');
      if (type === 'svc' && !this.services?.lw.get(name, ns)) this.removeService(ns, name);
      if (type === 'pod' && (!this.pods || !this.pods.lw.get(name, ns))) this.writer.remove(objKey);
    }
  }

  /** Periodic resync: recompute every object from the caches and repair etcd against them. */
  async resync(): Promise<void> {
    if (this.stopped) return;
    const t = Date.now();
    for (const o of this.services?.lw.list() ?? []) this.applyService(o as Service, t);
    for (const o of this.pods?.lw.list() ?? []) this.applyPod(o as Pod, t);
    this.reconcileWithCaches();
    this.writer.requestReconcile();
    await this.writer.drained();
    this.lastFullSync = Date.now();
    this.log.info(`resync done: ${this.writer.size} records`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
    for (const w of [this.services, this.endpoints, this.slices, this.pods]) await w?.lw.stop().catch(() => undefined);
    await this.writer.stop();
    // Give the leader key up at once: a standby need not wait for the lease to end.
    await this.election?.stop();
    this.etcd.close();
  }
}
