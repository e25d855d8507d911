import { describe, expect, it } from 'vitest';
import type { Health } from '../../gateway/metrics/health.js';
import { mqttsnMetrics } from '../../adapters/mqttsn/metrics.js';
import { serialMetrics } from '../../adapters/serial/metrics.js';
import { Metrics } from '../../gateway/metrics/metrics.js';
import { takeSnapshot } from '../../gateway/metrics/snapshot.js';
import { buildStats } from '../../gateway/metrics/stats.js';

const health: Health = {
  serving: true,
  upstream: 'connected',
  outbox: { rows: 2, bytes: 20, oldest_age_seconds: 5 },
};

describe('stats payload', () => {
  it('folds a snapshot of the live metrics into the upstream stats JSON', async () => {
    const now = 1_700_000_000_000;
    const m = new Metrics({ defaultMetrics: false, now: () => now });
    m.setOutboxSource(() => ({ rows: 2, bytes: 20, oldestAt: now - 5000 }));
    m.setUpstreamSource(() => ({ connected: true, inflight: 1 }));
    m.setInboxSource(() => ({ rows: 1 }));
    mqttsnMetrics(m.sink, () => ({ active: 4, asleep: 2, lost: 1 }));
    serialMetrics(m.sink, () => [
      { port: 'weather', state: 'open' },
      { port: 'meter', state: 'closed' },
    ]);
    m.messageIn('serial:weather', 10);
    m.messageIn('mqttsn', 5);
    m.messageOut(1, 12);
    m.messageOut(0, 1);
    m.dropped('mqttsn', 'max_rows', 1);
    m.dropped('serial:weather', 'max_rows', 1);
    m.dropped('serial:weather', 'oversize', 1);
    m.upstreamReconnected();
    m.command('serial:weather', 'sent');
    m.observeE2eLatency(now - 100);
    m.observeE2eLatency(now - 300);

    const first = await takeSnapshot(m);
    expect(first.serialPorts).toEqual({ weather: 'open', meter: 'closed' });
    expect(first.commands).toEqual({ 'serial:weather:sent': 1 });

    const p1 = buildStats(first, health, { gatewayId: 'pi-lab-1', now, startedAt: now - 3_600_000 });
    expect(p1).toEqual({
      gateway: 'pi-lab-1',
      ts: '2023-11-14T22:13:20.000Z',
      uptime_seconds: 3600,
      status: 'ok',
      upstream: { connected: true, reconnects: 1, inflight: 1 },
      outbox: { rows: 2, bytes: 20, oldest_age_seconds: 5 },
      inbox: { rows: 1 },
      messages: { in: 15, out: 13, dropped: 3 },
      dropped_by_reason: { max_rows: 2, oversize: 1 },
      in_by_source: { 'serial:weather': 10, mqttsn: 5 },
      mqttsn_devices: { active: 4, asleep: 2, lost: 1 },
      serial_ports: { weather: 'open', meter: 'closed' },
      e2e_latency_mean_seconds: 0.2,
    });
    expect(JSON.parse(JSON.stringify(p1))).toEqual(p1);

    // Next interval: counts and mean latency since the previous stats message.
    m.messageIn('mqttsn', 3);
    m.messageOut(1, 2);
    m.observeE2eLatency(now - 1000);
    const second = await takeSnapshot(m);
    const p2 = buildStats(second, health, {
      gatewayId: 'pi-lab-1',
      now: now + 60_000,
      startedAt: now - 3_600_000,
      previous: { snapshot: first, at: now },
    });
    expect(p2.interval).toEqual({ seconds: 60, in: 3, out: 2, dropped: 0 });
    expect(p2.e2e_latency_mean_seconds).toBe(1);
    expect(p2.messages).toEqual({ in: 18, out: 15, dropped: 3 });
  });

  it('reports not serving, and null latency when nothing was acked', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const snap = await takeSnapshot(m);
    const p = buildStats(
      snap,
      { ...health, serving: false, reason: 'store unusable' },
      { gatewayId: 'g', now: 0, startedAt: 0 },
    );
    expect(p.status).toBe('unavailable');
    expect(p.reason).toBe('store unusable');
    expect(p.e2e_latency_mean_seconds).toBeNull();
    expect(p.messages).toEqual({ in: 0, out: 0, dropped: 0 });
    expect(p.upstream).toEqual({ connected: false, reconnects: 0, inflight: 0 });
  });
});
