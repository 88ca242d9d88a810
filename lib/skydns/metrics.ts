/**
 * Prometheus metrics: the SkyDNS names (`<ns>_<subsystem>_dns_*`, default
 * `skydns_skydns_`) plus the state an operator needs (etcd sync, records held,
 * staleness).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type System = 'auth' | 'cache' | 'recursive' | 'reverse' | 'stub';
export type Cause = 'truncated' | 'overflow' | 'servfail' | 'refused' | 'nxdomain' | 'nodata' | 'formerr';

export interface StoreProbe {
  synced(): boolean;
  connected(): boolean;
  records(): number;
  invalid(): number;
  staleness(): number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'system'>;
  readonly duration: Histogram<'system'>;
  readonly size: Histogram<'system'>;
  readonly errors: Counter<'system' | 'cause'>;
  readonly cacheMiss: Counter<'cache'>;
  readonly answerCacheHits: Counter;
  readonly malformed: Counter<'reason'>;

  constructor(namespace = 'skydns', subsystem = 'skydns', probe?: StoreProbe) {
    const p = [namespace, subsystem].filter((x) => x !== '').join('_') + '_';
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: `${p}dns_request_count_total`, help: 'Counter of DNS requests made.', labelNames: ['system'], registers: r });
    this.duration = new Histogram({
      name: `${p}dns_request_duration_seconds`,
      help: 'Histogram of the time (in seconds) each request took to resolve.',
      labelNames: ['system'],
      buckets: [0.001, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    const sizeBuckets = [0, 512, 1024, 1500, 2048];
    for (let b = 4096; b <= 65536; b += 4096) sizeBuckets.push(b);
    this.size = new Histogram({ name: `${p}dns_response_size_bytes`, help: 'Size of the returns response in bytes.', labelNames: ['system'], buckets: sizeBuckets, registers: r });
    this.errors = new Counter({ name: `${p}dns_error_count_total`, help: 'Counter of DNS requests resulting in an error.', labelNames: ['system', 'cause'], registers: r });
    this.cacheMiss = new Counter({ name: `${p}dns_cachemiss_count_total`, help: 'Counter of DNS requests that result in a cache miss.', labelNames: ['cache'], registers: r });
    this.answerCacheHits = new Counter({ name: `${p}answer_cache_hits_total`, help: 'Authoritative answers served from the encoded-answer cache.', registers: r });
    this.malformed = new Counter({ name: `${p}malformed_requests_total`, help: 'Requests that could not be parsed, by reason.', labelNames: ['reason'], registers: r });
    if (probe) {
      new Gauge({ name: `${p}etcd_synced`, help: '1 once the first full read of the record prefix from etcd succeeded.', registers: r, collect() { this.set(probe.synced() ? 1 : 0); } });
      new Gauge({ name: `${p}etcd_connected`, help: '1 while the etcd watch is connected.', registers: r, collect() { this.set(probe.connected() ? 1 : 0); } });
      new Gauge({ name: `${p}records`, help: 'etcd keys held in memory under the path prefix.', registers: r, collect() { this.set(probe.records()); } });
      new Gauge({ name: `${p}records_invalid`, help: 'Keys whose value is not a valid record (skipped in answers).', registers: r, collect() { this.set(probe.invalid()); } });
      new Gauge({ name: `${p}staleness_seconds`, help: 'Seconds since the in-memory records were last known to match etcd (0 while the watch is connected).', registers: r, collect() { this.set(probe.staleness()); } });
    }
  }
}
