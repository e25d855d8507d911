import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { availabilityPayload, availabilityTopic } from '../../gateway/availability.js';
import { LogRing, logRingHooks } from '../../gateway/status/log-ring.js';
import { RateSeries } from '../../gateway/status/rate-series.js';
import { DeviceRegistry, PREVIEW_CHARS, preview } from '../../gateway/status/registry.js';

const reading = (device: string, payload: string, at: number) => ({
  source: 'serial:bench',
  device,
  topic: `bench/${device}/t`,
  payload: Buffer.from(payload),
  qos: 1 as const,
  retain: false,
  receivedAt: at,
});

describe('status page building blocks (pure)', () => {
  it('the registry keeps state, last seen, counts and drops per device, bounded', () => {
    const r = new DeviceRegistry(2);
    r.reading(reading('a', '1', 1000));
    r.reading(reading('a', '2', 2000));
    r.event({ source: 'serial:bench', device: 'a', state: 'lost', at: 3000 });
    r.dropped('serial:bench', 'a', 3500);
    expect(r.list()[0]).toMatchObject({
      id: 'a',
      transport: 'serial',
      state: 'lost',
      state_since: 3000,
      last_seen: 2000,
      messages: 2,
      last_payload: '2',
      drops: 1,
    });
    r.reading(reading('a', '3', 4000)); // talking again: online
    expect(r.list()[0]).toMatchObject({ state: 'online', state_since: 4000 });
    r.reading(reading('b', '1', 5000));
    r.reading(reading('c', '1', 6000)); // beyond the bound: the least recently active (a) goes
    expect(r.list().map((d) => d.id)).toEqual(['b', 'c']);
  });

  it('the registry previews the last payload only, from a copy of its first bytes', () => {
    const r = new DeviceRegistry();
    r.event({ source: 'serial:bench', device: 'quiet', state: 'online', at: 500 });
    r.reading(reading('a', 'x'.repeat(1000), 1000));
    expect(r.list().find((d) => d.id === 'a')?.last_payload).toBe(`${'x'.repeat(PREVIEW_CHARS)}…`);
    const last = reading('a', 'ab', 2000);
    r.reading(last);
    last.payload.fill(0x7a); // the adapter's buffer changing later must not change the preview
    const rows = r.list();
    expect(rows.find((d) => d.id === 'a')?.last_payload).toBe('ab'); // not the longer one's tail
    expect(rows.find((d) => d.id === 'quiet')?.last_payload).toBeNull(); // no reading yet
    r.reading(reading('a', '', 3000));
    expect(r.list().find((d) => d.id === 'a')?.last_payload).toBe('');
  });

  it('payload previews are text, control bytes replaced, truncated', () => {
    expect(preview(Buffer.from('a\u0000b\u001bc\n'))).toBe('a\ufffdb\ufffdc\n');
    const long = preview(Buffer.from('x'.repeat(5000)));
    expect(long).toHaveLength(PREVIEW_CHARS + 1);
    expect(long.endsWith('…')).toBe(true);
  });

  it('the rate series counts per second and forgets what is older than its window', () => {
    const s = new RateSeries(10);
    s.add(1_000);
    s.add(1_500);
    s.add(3_200, 4);
    expect(s.values(3_900)).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 0, 4]);
    expect(s.values(20_000)).toEqual(new Array(10).fill(0));
  });

  it('the log ring copies warn and above from pino hooks, with the part and the error text, bounded', () => {
    const ring = new LogRing(2);
    const lines: string[] = [];
    const log = pino(
      { level: 'info', hooks: logRingHooks(ring) },
      { write: (s: string) => void lines.push(s) },
    );
    log.child({ part: 'upstream' }).warn({ err: new Error('ECONNREFUSED') }, 'connect failed');
    log.info('not kept');
    log.error('disk full');
    log.warn({ reason: 'oversize' }, 'dropped');
    expect(lines).toHaveLength(4); // the log itself is unchanged
    expect(ring.recent()).toMatchObject([
      { level: 'warn', msg: 'dropped', detail: 'reason: oversize' },
      { level: 'error', msg: 'disk full' },
    ]);
    const ring2 = new LogRing();
    pino({ hooks: logRingHooks(ring2) }, { write: () => {} })
      .child({ part: 'upstream' })
      .warn({ err: new Error('ECONNREFUSED') }, 'connect failed');
    expect(ring2.recent()[0]).toMatchObject({
      part: 'upstream',
      msg: 'connect failed',
      detail: 'ECONNREFUSED',
    });
  });

  it('availability: lost is published as offline; ids that are not one topic level are refused', () => {
    expect(availabilityPayload('lost')).toBe('offline');
    expect(availabilityPayload('asleep')).toBe('asleep');
    const t = 'fieldgate/{gateway}/devices/{device}/availability';
    expect(availabilityTopic(t, 'gw', 'th1')).toBe('fieldgate/gw/devices/th1/availability');
    for (const bad of ['', 'a/b', 'a+', '#']) expect(availabilityTopic(t, 'gw', bad)).toBeUndefined();
  });
});

describe('loop guard for the gateway-owned Home Assistant topics', () => {
  it('reserves this gateway discovery configs and the HA birth topic when discovery is on', async () => {
    const { configSchema } = await import('../../gateway/config/schema.js');
    const { ownTopicGuard } = await import('../../gateway/own-topics.js');
    const config = (ha: boolean) =>
      configSchema.parse({
        gateway: { id: 'gw.1' },
        upstream: { url: 'mqtt://127.0.0.1:1883' },
        homeassistant: { enabled: ha },
      });
    const rules = { subscriptions: () => [] };
    const on = ownTopicGuard(() => ({ config: config(true), rules }));
    expect(on('homeassistant/sensor/gw_1/x_t/config')).toBe(true);
    expect(on('homeassistant/status')).toBe(true);
    expect(on('homeassistant/sensor/other-gw/x_t/config')).toBe(false);
    expect(on('fieldgate/gw.1/devices/d1/availability')).toBe(true);
    const off = ownTopicGuard(() => ({ config: config(false), rules }));
    expect(off('homeassistant/status')).toBe(false);
  });
});
