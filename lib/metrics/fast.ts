/**
 * Minimal Prometheus counters and histograms for the DNS hot path: a plain
 * array increment per observation (prom-client's label hashing costs more
 * than answering a cached query). Snapshots can be merged across processes.
 * They are exposed through a prom-client Registry like every other metric
 * (expose()): the registry writes the text.
 */
import type { Registry } from 'prom-client';

export interface Snapshot {
  counters: Record<string, Record<string, number>>;
  histograms: Record<string, Record<string, { buckets: number[]; sum: number; count: number }>>;
}

export class FastCounter {
  /** label values joined by \u0000 → value */
  readonly values = new Map<string, number>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  inc(labels: string, by = 1): void {
    this.values.set(labels, (this.values.get(labels) ?? 0) + by);
  }
}

export class FastHistogram {
  readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly bounds: readonly number[]) {}

  observe(labels: string, v: number): void {
    let s = this.series.get(labels);
    if (!s) this.series.set(labels, (s = { buckets: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 }));
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        s.buckets[i]++;
        break;
      }
    }
    s.sum += v;
    s.count++;
  }
}

/** Adds snapshot `b` into `a` (same metric names). */
export function mergeSnapshots(a: Snapshot, b: Snapshot): Snapshot {
  for (const [name, vals] of Object.entries(b.counters)) {
    const t = (a.counters[name] ??= {});
    for (const [k, v] of Object.entries(vals)) t[k] = (t[k] ?? 0) + v;
  }
  for (const [name, ser] of Object.entries(b.histograms)) {
    const t = (a.histograms[name] ??= {});
    for (const [k, s] of Object.entries(ser)) {
      const d = t[k];
      if (!d) t[k] = { buckets: [...s.buckets], sum: s.sum, count: s.count };
      else {
        for (let i = 0; i < s.buckets.length; i++) d.buckets[i] += s.buckets[i];
        d.sum += s.sum;
        d.count += s.count;
      }
    }
  }
  return a;
}

/** A sample as prom-client's Registry reads it from a metric's get(). */
interface Sample {
  metricName?: string;
  labels: Record<string, string>;
  value: number;
}

/** Label values by name, from a series key (values joined by \u0000; '' when there are no labels). */
function labelsOf(names: readonly string[], key: string): Record<string, string> {
  const vals = key === '' ? [] : key.split('\u0000');
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = vals[i] ?? ''));
  return out;
}

/**
 * Registers `m` in `registry` as prom-client reads a metric: at each scrape
 * its samples come from `values` (this process's snapshot, or several
 * processes' merged). prom-client's Registry takes any object with a name
 * and an async get(); the cast says so to its types.
 */
export function expose(registry: Registry, m: FastCounter | FastHistogram, values: () => Snapshot): void {
  const base = { name: m.name, help: m.help, type: m instanceof FastCounter ? 'counter' : 'histogram', aggregator: 'sum' as const };
  const get = async () => {
    const samples: Sample[] = [];
    if (m instanceof FastCounter) {
      for (const [k, v] of Object.entries(values().counters[m.name] ?? {})) samples.push({ labels: labelsOf(m.labelNames, k), value: v });
    } else {
      for (const [k, s] of Object.entries(values().histograms[m.name] ?? {})) {
        const labels = labelsOf(m.labelNames, k);
        let cum = 0;
        m.bounds.forEach((b, i) => {
          cum += s.buckets[i];
          samples.push({ metricName: `${m.name}_bucket`, labels: { le: String(b), ...labels }, value: cum });
        });
        samples.push({ metricName: `${m.name}_bucket`, labels: { le: '+Inf', ...labels }, value: s.count });
        samples.push({ metricName: `${m.name}_sum`, labels, value: s.sum });
        samples.push({ metricName: `${m.name}_count`, labels, value: s.count });
      }
    }
    return { ...base, values: samples };
  };
  registry.registerMetric({ ...base, get } as unknown as Parameters<Registry['registerMetric']>[0]);
}
