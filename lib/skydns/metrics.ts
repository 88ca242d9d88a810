/**
 * Prometheus metrics: the SkyDNS names (`<ns>_<subsystem>_dns_*`, default
 * `skydns_skydns_`) plus the state an operator needs (etcd sync, records held,
 * staleness). Hot-path metrics are plain arrays (lib/metrics/fast.ts) so that
 * several worker processes can merge them; all of them, the state gauges and
 * the process metrics are exposed through one prom-client Registry
 * (statusRegistry).
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram, Snapshot, expose, mergeSnapshots } from '../metrics/fast.js';

export type System = 'auth' | 'cache' | 'recursive' | 'reverse' | 'stub';
export type Cause = 'truncated' | 'overflow' | 'servfail' | 'refused' | 'nxdomain' | 'nodata' | 'formerr';

/** What a store reports about itself (one per worker process). */
export interface StoreState {
  synced: boolean;
  /** The query path has been warmed up since the first read (ready to report ready). */
  warmed: boolean;
  connected: boolean;
  records: number;
  invalid: number;
  staleness: number;
}

const SYSTEMS: readonly System[] = ['auth', 'cache', 'recursive', 'reverse', 'stub'];
const CAUSES: readonly Cause[] = ['truncated', 'overflow', 'servfail', 'refused', 'nxdomain', 'nodata', 'formerr'];
/** The error counter's label keys, made once (a query must not build a string to be counted). */
const ERROR_KEYS = Object.fromEntries(SYSTEMS.map((s) => [s, Object.fromEntries(CAUSES.map((c) => [c, `${s}\u0000${c}`]))])) as Record<System, Record<Cause, string>>;

const SIZE_BUCKETS = (() => {
  const b = [0, 512, 1024, 1500, 2048];
  for (let x = 4096; x <= 65536; x += 4096) b.push(x);
  return b;
})();

export class Metrics {
  readonly prefix: string;
  readonly requests: FastCounter;
  readonly duration: FastHistogram;
  readonly size: FastHistogram;
  readonly errors: FastCounter;
  readonly cacheMiss: FastCounter;
  readonly answerCacheHits: FastCounter;
  readonly answerCacheInvalidations: FastCounter;
  readonly malformed: FastCounter;
  readonly forwardsRefused: FastCounter;
  private readonly all: Array<FastCounter | FastHistogram>;

  constructor(namespace = 'skydns', subsystem = 'skydns') {
    const p = [namespace, subsystem].filter((x) => x !== '').join('_') + '_';
    this.prefix = p;
    this.requests = new FastCounter(`${p}dns_request_count_total`, 'Counter of DNS requests made.', ['system']);
    this.duration = new FastHistogram(`${p}dns_request_duration_seconds`, 'Histogram of the time (in seconds) each request took to resolve.', ['system'], [0.001, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.size = new FastHistogram(`${p}dns_response_size_bytes`, 'Size of the returns response in bytes.', ['system'], SIZE_BUCKETS);
    this.errors = new FastCounter(`${p}dns_error_count_total`, 'Counter of DNS requests resulting in an error.', ['system', 'cause']);
    this.cacheMiss = new FastCounter(`${p}dns_cachemiss_count_total`, 'Counter of DNS requests that result in a cache miss.', ['cache']);
    this.answerCacheHits = new FastCounter(`${p}answer_cache_hits_total`, 'Authoritative answers served from the encoded-answer cache.', []);
    this.answerCacheInvalidations = new FastCounter(`${p}answer_cache_invalidations_total`, 'Cached answers dropped because a record they were computed from changed.', []);
    this.malformed = new FastCounter(`${p}malformed_requests_total`, 'Requests that could not be parsed, by reason.', ['reason']);
    this.forwardsRefused = new FastCounter(`${p}forward_refused_total`, 'Upstream exchanges not started because -max-forwards were outstanding already (a client got REFUSED; a CNAME-target lookup got nothing).', []);
    this.all = [this.requests, this.duration, this.size, this.errors, this.cacheMiss, this.answerCacheHits, this.answerCacheInvalidations, this.malformed, this.forwardsRefused];
  }

  /** One request done. */
  record(system: System, seconds: number, bytes: number, cause: Cause | null): void {
    this.requests.inc(system);
    this.duration.observe(system, seconds);
    this.size.observe(system, bytes);
    if (cause) this.errors.inc(ERROR_KEYS[system][cause]);
  }

  snapshot(): Snapshot {
    const s: Snapshot = { counters: {}, histograms: {} };
    for (const m of this.all) {
      if (m instanceof FastCounter) s.counters[m.name] = Object.fromEntries(m.values);
      else s.histograms[m.name] = Object.fromEntries([...m.series].map(([k, v]) => [k, { buckets: [...v.buckets], sum: v.sum, count: v.count }]));
    }
    return s;
  }

  /** Registers the DNS metrics in `registry`, their samples read at each scrape from `values`. */
  exposeIn(registry: Registry, values: () => Snapshot): void {
    for (const m of this.all) expose(registry, m, values);
  }
}

/** The DNS metrics named as PROMETHEUS_NAMESPACE and PROMETHEUS_SUBSYSTEM say (default `skydns_skydns_`). */
export function metricsFromEnv(env: NodeJS.ProcessEnv): Metrics {
  return new Metrics(env.PROMETHEUS_NAMESPACE || 'skydns', env.PROMETHEUS_SUBSYSTEM || 'skydns');
}

/** One snapshot of several (a cluster primary's workers): counts and histograms added up. */
export function mergeAll(snapshots: readonly Snapshot[]): Snapshot {
  return snapshots.reduce((a, b) => mergeSnapshots(a, b), { counters: {}, histograms: {} } as Snapshot);
}

/** The state gauges under `prefix`; with several workers the worst value of each is reported. */
export function exposeState(registry: Registry, prefix: string, states: () => StoreState[]): void {
  const gauge = (name: string, help: string, value: (all: StoreState[]) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(value(states()));
      },
    });
  const every = (all: StoreState[], f: (s: StoreState) => boolean) => (all.length > 0 && all.every(f) ? 1 : 0);
  gauge('etcd_synced', '1 once the first full read of the record prefix from etcd succeeded (in every worker).', (all) => every(all, (s) => s.synced));
  gauge('etcd_connected', '1 while the etcd watch is connected (in every worker).', (all) => every(all, (s) => s.connected));
  gauge('records', 'etcd keys held in memory under the path prefix.', (all) => (all.length ? Math.min(...all.map((s) => s.records)) : 0));
  gauge('records_invalid', 'Keys whose value is not a valid record (skipped in answers).', (all) => Math.max(0, ...all.map((s) => s.invalid)));
  gauge('staleness_seconds', 'Seconds since the in-memory records were last known to match etcd (0 while the watch is connected).', (all) => Math.max(0, ...all.map((s) => s.staleness)));
  gauge('workers', 'Server processes answering queries.', (all) => all.length);
}

/**
 * The registry /metrics is written from: the DNS metrics (named from
 * PROMETHEUS_NAMESPACE and PROMETHEUS_SUBSYSTEM) with samples from
 * `snapshot`, the state gauges from `states`, then prom-client's process
 * metrics (CPU, memory, event loop) of this process.
 */
export function statusRegistry(env: NodeJS.ProcessEnv, snapshot: () => Snapshot, states: () => StoreState[]): Registry {
  const names = metricsFromEnv(env);
  const r = new Registry();
  names.exposeIn(r, snapshot);
  exposeState(r, names.prefix, states);
  collectDefaultMetrics({ register: r });
  return r;
}
