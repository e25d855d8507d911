import pino from 'pino';
import { Subject } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config/load.js';
import { Observability } from '../../gateway/observe.js';
import { openStore } from '../../gateway/store/open.js';
import type { UpstreamClient } from '../../gateway/upstream/client.js';
import type { UpstreamEvent } from '../../gateway/upstream/events.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

/** Observability's wiring from upstream events to metrics; a real store, the upstream's event stream by hand. */
describe('Observability wiring', () => {
  it('counts set-aside rows by reason, and reconnects after the first connect only', async () => {
    const store = openStore({
      dir: tmpDir(),
      durability: 'process-crash',
      limits: { max_rows: 100, max_bytes: 1e6, max_age: 86400e3, overflow: 'drop-oldest' },
      logger: pino({ level: 'silent' }),
    });
    const events$ = new Subject<UpstreamEvent>();
    const upstream = {
      events$,
      stats: () => ({ connected: true, inflight: 0, reconnects: 0 }),
    } as unknown as UpstreamClient;
    const obs = new Observability(
      parseConfig('gateway: { id: w }\nupstream: { url: "mqtt://127.0.0.1:9" }', 'w.yaml', {}),
      pino({ level: 'silent' }),
    );
    try {
      obs.attach({ store, upstream, adapters: new Map() });
      const value = async (series: string) => {
        const line = (await obs.metrics.text()).split('\n').find((l) => l.startsWith(`${series} `));
        return line === undefined ? undefined : Number(line.slice(series.length + 1));
      };
      events$.next({ type: 'connected', sessionPresent: false, resent: 0 });
      expect(await value('fieldgate_upstream_reconnects_total')).toBe(0);
      events$.next({ type: 'disconnected', reason: 'x' });
      events$.next({ type: 'connected', sessionPresent: true, resent: 0 });
      expect(await value('fieldgate_upstream_reconnects_total')).toBe(1);

      events$.next({ type: 'set-aside', id: 7, reason: 'broker_disconnects' });
      events$.next({ type: 'set-aside', id: 8, reason: 'broker_disconnects' });
      events$.next({ type: 'set-aside', id: 9, reason: 'rejected' });
      expect(await value('fieldgate_outbox_set_aside_total{reason="broker_disconnects"}')).toBe(2);
      expect(await value('fieldgate_outbox_set_aside_total{reason="rejected"}')).toBe(1);

      events$.next({ type: 'inbound-dropped', reason: 'max_packet_size', topic: 'big', bytes: 2e6 });
      expect(
        await value('fieldgate_messages_dropped_total{source="upstream",reason="max_packet_size"}'),
      ).toBe(1);
    } finally {
      await obs.stop();
      store.close();
    }
  });

  it('/health shows rows set aside, apart from the outbox rows that still drain', async () => {
    const store = openStore({
      dir: tmpDir(),
      durability: 'process-crash',
      limits: { max_rows: 100, max_bytes: 1e6, max_age: 86400e3, overflow: 'drop-oldest' },
      logger: pino({ level: 'silent' }),
    });
    const upstream = {
      events$: new Subject<UpstreamEvent>(),
      stats: () => ({ connected: true, inflight: 0, reconnects: 0 }),
    } as unknown as UpstreamClient;
    const obs = new Observability(
      parseConfig('gateway: { id: w }\nupstream: { url: "mqtt://127.0.0.1:9" }', 'w.yaml', {}),
      pino({ level: 'silent' }),
    );
    try {
      obs.attach({ store, upstream, adapters: new Map() });
      const msg = {
        source: 't',
        device: 'd',
        topic: 'a/b',
        payload: Buffer.from('x'),
        qos: 1 as const,
        retain: false,
        receivedAt: Date.now(),
      };
      const [bad] = await store.outbox.enqueue([msg]);
      await store.outbox.enqueue([msg]);
      await store.outbox.setAside(bad!, 'broker_disconnect');
      const h = obs.health() as unknown as { outbox: { rows: number; set_aside?: number } };
      expect(h.outbox.rows).toBe(1);
      expect(h.outbox.set_aside).toBe(1);
    } finally {
      await obs.stop();
      store.close();
    }
  });
});

describe('Observability: default process metrics only where /metrics serves them', () => {
  it('collects process_* and nodejs_* with http enabled, not with http disabled', async () => {
    const config = (http: string) =>
      parseConfig(`gateway: { id: w }\nupstream: { url: "mqtt://127.0.0.1:9" }\n${http}`, 'w.yaml', {});
    const on = new Observability(config(''), pino({ level: 'silent' }));
    const off = new Observability(config('http: { enabled: false }'), pino({ level: 'silent' }));
    expect(await on.metrics.text()).toContain('process_cpu_seconds_total');
    const text = await off.metrics.text();
    expect(text).not.toContain('process_cpu_seconds_total');
    expect(text).toContain('fieldgate_outbox_rows'); // the gateway's own still feed the stats topic
  });
});
