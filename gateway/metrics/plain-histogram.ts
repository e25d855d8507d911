import type { Registry } from 'prom-client';

/** One exported sample, as prom-client's own metrics give them to the registry. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A histogram without labels, observed per message (end-to-end latency) or per commit: counts in a
 * typed array, turned into the exposition only on scrape. prom-client's Histogram hashes its labels
 * and looks its bucket up through objects on every observe(); this exports the same series (the
 * cumulative buckets with their `le`, +Inf, _sum and _count), so the text and JSON are unchanged.
 */
export class PlainHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  /** Per bucket (not cumulative); the last one is above the highest bound (+Inf only). */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  /** After reset() prom-client exports no series until the next observation; so does this. */
  private cleared = false;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registers: Registry[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    for (const r of registers) r.registerMetric(this as never);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    this.cleared = false;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.cleared = true;
  }

  get(): { name: string; help: string; type: 'histogram'; values: Sample[]; aggregator: 'sum' } {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    if (this.cleared)
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: bucket, exemplar: null });
    }
    values.push(
      { labels: { le: '+Inf' }, value: this.count, metricName: bucket, exemplar: null },
      { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.count, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
