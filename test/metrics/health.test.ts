import { describe, expect, it } from 'vitest';
import { buildHealth, type HealthInputs, healthResponse } from '../../gateway/metrics/health.js';

const base: HealthInputs = {
  store: { ok: true },
  listeners: { mqttsn: true },
  upstreamConnected: true,
  outbox: { rows: 3, bytes: 300, oldestAt: 1000 },
  inbox: { rows: 1 },
  now: 6000,
  extra: { version: '0.1.0' },
};

describe('buildHealth / healthResponse', () => {
  it('serving: 200 with upstream, outbox age and extras', () => {
    expect(healthResponse(buildHealth(base))).toEqual({
      code: 200,
      body: {
        status: 'ok',
        version: '0.1.0',
        upstream: 'connected',
        outbox: { rows: 3, bytes: 300, oldest_age_seconds: 5 },
        inbox: { rows: 1 },
        listeners: { mqttsn: true },
      },
    });
  });

  it('an upstream outage with a growing backlog is still healthy', () => {
    const r = healthResponse(
      buildHealth({ ...base, upstreamConnected: false, outbox: { rows: 1e5, bytes: 1e7, oldestAt: 0 } }),
    );
    expect(r.code).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', upstream: 'disconnected' });
  });

  it('a broken store or an unbound listener is 503 with a reason', () => {
    let r = healthResponse(buildHealth({ ...base, store: { ok: false, error: 'SQLITE_FULL' } }));
    expect(r).toMatchObject({
      code: 503,
      body: { status: 'unavailable', reason: 'store unusable: SQLITE_FULL' },
    });
    r = healthResponse(buildHealth({ ...base, listeners: { mqttsn: false, 'serial:weather': true } }));
    expect(r).toMatchObject({ code: 503, body: { reason: 'not listening: mqttsn' } });
  });

  it('degraded: still 200 (serving, the watchdog is fed) with status "degraded" and every reason', () => {
    const degraded = [
      'uplink flapping: 3 disconnects in the last 300s',
      'outbox not draining: 3 rows waiting',
    ];
    const h = buildHealth({ ...base, degraded });
    expect(h.serving).toBe(true);
    expect(healthResponse(h)).toMatchObject({
      code: 200,
      body: { status: 'degraded', reason: degraded.join('; '), upstream: 'connected' },
    });
    // A broken store outranks degraded: 503 with the store's reason.
    expect(
      healthResponse(buildHealth({ ...base, degraded, store: { ok: false, error: 'SQLITE_FULL' } })),
    ).toMatchObject({
      code: 503,
      body: { status: 'unavailable', reason: 'store unusable: SQLITE_FULL' },
    });
    // No reasons: ok, and no degraded key at all.
    expect(healthResponse(buildHealth({ ...base, degraded: [] })).body).not.toHaveProperty('degraded');
  });

  it('an empty outbox has age 0', () => {
    expect(
      buildHealth({ ...base, outbox: { rows: 0, bytes: 0, oldestAt: null } }).outbox.oldest_age_seconds,
    ).toBe(0);
  });
});
