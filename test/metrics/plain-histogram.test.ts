import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { E2E_LATENCY_BUCKETS, Metrics } from '../../gateway/metrics/metrics.js';
import { PlainHistogram } from '../../gateway/metrics/plain-histogram.js';
import { takeSnapshot } from '../../gateway/metrics/snapshot.js';

/** The same observations into prom-client's Histogram and into ours, each in its own registry. */
function both(values: number[]) {
  const a = new Registry();
  const b = new Registry();
  const help = 'Time from receiving a reading to the broker acknowledging it.';
  const theirs = new Histogram({ name: 'x_seconds', help, buckets: E2E_LATENCY_BUCKETS, registers: [a] });
  const ours = new PlainHistogram('x_seconds', help, E2E_LATENCY_BUCKETS, [b]);
  for (const v of values) {
    theirs.observe(v);
    ours.observe(v);
  }
  return { a, b, ours };
}

describe('PlainHistogram', () => {
  it('exposes the same text and JSON as a prom-client Histogram fed the same values', async () => {
    // Below the first bound, on bounds (le is inclusive), between, above the last, zero.
    const values = [0, 0.0005, 0.001, 0.0011, 0.05, 0.3, 2.5, 86400, 7 * 86400, 8 * 86400, 0.001, 12.25];
    for (const set of [[], values]) {
      const { a, b } = both(set);
      expect(await b.metrics()).toBe(await a.metrics());
      expect(await b.getMetricsAsJSON()).toEqual(await a.getMetricsAsJSON());
    }
  });

  it('reset() empties it as prom-client resets its own', async () => {
    const { a, b } = both([0.2, 3]);
    a.resetMetrics();
    b.resetMetrics();
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('feeds the stats snapshot (count and sum of end-to-end latency)', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeE2eLatency(1000, 1250);
    m.observeE2eLatency(1000, 1500);
    expect((await takeSnapshot(m)).e2eLatency).toEqual({ count: 2, sumSeconds: 0.75 });
  });
});
