/** kube2sky Prometheus metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Kube2SkyMetrics {
  readonly registry = new Registry();
  readonly latency: Histogram;
  readonly writes: Counter<'op'>;
  readonly etcdErrors: Counter;
  readonly objectErrors: Counter;
  readonly apiErrors: Counter<'kind'>;

  constructor(records: () => number, lastSync: () => number, leading: () => number = () => 1) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.latency = new Histogram({
      name: 'kube2sky_dns_programming_latency_seconds',
      help: 'Time from an API event arriving to its records being in etcd.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: r,
    });
    this.writes = new Counter({ name: 'kube2sky_etcd_writes_total', help: 'Keys written to (put) or removed from (delete) etcd.', labelNames: ['op'], registers: r });
    this.etcdErrors = new Counter({ name: 'kube2sky_etcd_errors_total', help: 'Failed etcd operations (each is retried).', registers: r });
    this.objectErrors = new Counter({ name: 'kube2sky_object_errors_total', help: 'Problems found in API objects (the bad part is skipped).', registers: r });
    this.apiErrors = new Counter({ name: 'kube2sky_api_watch_errors_total', help: 'List/watch failures, by kind (each is retried).', labelNames: ['kind'], registers: r });
    new Gauge({ name: 'kube2sky_records', help: 'Records kube2sky wants in etcd.', registers: r, collect() { this.set(records()); } });
    new Gauge({ name: 'kube2sky_leader', help: '1 while this replica writes (leads, or runs without --leader-elect), 0 while it stands by.', registers: r, collect() { this.set(leading()); } });
    new Gauge({ name: 'kube2sky_last_sync_timestamp_seconds', help: 'Unix time of the last complete sync (initial or periodic) of etcd with the API.', registers: r, collect() { this.set(lastSync()); } });
  }
}
