import { describe, expect, it } from 'vitest';
import { Metrics } from '../../gateway/metrics/metrics.js';

const value = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('Metrics.delivered (one upstream delivered-batch event)', () => {
  it('counts each row by its QoS and observes each one latency', async () => {
    const now = 1_700_000_000_000;
    const m = new Metrics({ defaultMetrics: false, now: () => now });
    m.delivered([
      { qos: 1, receivedAt: now - 100 },
      { qos: 0, receivedAt: now - 200 },
      { qos: 2, receivedAt: now - 300 },
      { qos: 1, receivedAt: now - 400 },
    ]);
    m.delivered([]);
    const text = await m.text();
    expect(value(text, 'fieldgate_messages_out_total{qos="0"}')).toBe(1);
    expect(value(text, 'fieldgate_messages_out_total{qos="1"}')).toBe(2);
    expect(value(text, 'fieldgate_messages_out_total{qos="2"}')).toBe(1);
    expect(value(text, 'fieldgate_e2e_latency_seconds_count')).toBe(4);
    expect(value(text, 'fieldgate_e2e_latency_seconds_sum')).toBeCloseTo(1.0, 6);
  });
});
