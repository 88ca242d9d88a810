/**
 * Minimal Prometheus counters and histograms for the DNS hot path: a plain
 * array increment per observation (prom-client's label hashing costs more
 * than answering a cached query). Snapshots can be merged across processes.
 */

export interface Snapshot {
  counters: Record<string, Record<string, number>>;
  histograms: Record<string, Record<string, { buckets: number[]; sum: number; count: number }>>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function fmt(n: number): string {
  if (n === Infinity) return '+Inf';
  return String(n);
}

export class FastCounter {
  /** label values joined by \u0000 → value */
  readonly values = new Map<string, number>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  inc(labels: string, by = 1): void {
    this.values.set(labels, (this.values.get(labels) ?? 0) + by);
  }

  render(extra?: Map<string, number>): string {
    const values = extra ?? this.values;
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of values) out += `${this.name}${labelText(this.labelNames, k)} ${fmt(v)}\n`;
    return out;
  }
}

function labelText(names: readonly string[], key: string, extra = ''): string {
  if (names.length === 0 && !extra) return '';
  const vals = key === '' ? [] : key.split('\u0000');
  const parts = names.map((n, i) => `${n}="${escapeLabel(vals[i] ?? '')}"`);
  if (extra) parts.unshift(extra);
  return `{${parts.join(',')}}`;
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

  render(series = this.series): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [k, s] of series) {
      let cum = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cum += s.buckets[i];
        out += `${this.name}_bucket${labelText(this.labelNames, k, `le="${fmt(this.bounds[i])}"`)} ${cum}\n`;
      }
      out += `${this.name}_bucket${labelText(this.labelNames, k, 'le="+Inf"')} ${s.count}\n`;
      out += `${this.name}_sum${labelText(this.labelNames, k)} ${s.sum}\n`;
      out += `${this.name}_count${labelText(this.labelNames, k)} ${s.count}\n`;
    }
    return out;
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
