/**
 * What the gateway reports about itself; the integrator builds it from the
 * live parts. `serving` is false only when the gateway cannot do its job
 * (store unusable, a listener not bound). An upstream outage is NOT
 * unhealthy: buffering through it is what the outbox is for. A flapping
 * uplink or an outbox that does not drain while connected is `degraded`:
 * still serving (HTTP 200, the watchdog is fed), but someone should look.
 */
export interface Health {
  serving: boolean;
  /** Why not serving; required in spirit when serving is false. */
  reason?: string;
  /** Why degraded (serving, but not delivering as it should); absent or empty when not. */
  degraded?: string[];
  upstream: 'connected' | 'disconnected';
  outbox: { rows: number; bytes: number; oldest_age_seconds: number; set_aside?: number };
  inbox?: { rows: number };
  /** Free-form extras (listeners, ports, version); passed through to the JSON. */
  [extra: string]: unknown;
}

export interface HealthResponse {
  code: 200 | 503;
  body: Record<string, unknown>;
}

/** The /health answer for a Health value, or for the error its provider threw. */
export function healthResponse(health: Health | { error: unknown }): HealthResponse {
  if ('error' in health && !('serving' in health)) {
    const reason = health.error instanceof Error ? health.error.message : String(health.error);
    return { code: 503, body: { status: 'unavailable', reason: `health check failed: ${reason}` } };
  }
  const { serving, reason, degraded, ...rest } = health as Health;
  if (serving && degraded?.length)
    return { code: 200, body: { status: 'degraded', reason: degraded.join('; '), ...rest } };
  if (serving) return { code: 200, body: { status: 'ok', ...rest } };
  return { code: 503, body: { status: 'unavailable', reason: reason || 'not serving', ...rest } };
}

export interface HealthInputs {
  /** false when the store cannot commit (closed, disk full, corrupt); error says why. */
  store: { ok: boolean; error?: string };
  /** Listener name -> bound (e.g. { mqttsn: true, 'serial:weather': true }); only what must be up to serve. */
  listeners: Record<string, boolean>;
  upstreamConnected: boolean;
  outbox: { rows: number; bytes: number; oldestAt: number | null; setAside?: number };
  inbox?: { rows: number };
  /** Degraded reasons (UplinkWatch): reported with HTTP 200. */
  degraded?: string[];
  /** Waiting-clock ms (outbox ages are taken on it). */
  now: number;
  /** Passed through to the JSON (version, uptime...). */
  extra?: Record<string, unknown>;
}

/** The Health value from the live parts: unhealthy only for a broken store or an unbound listener. */
export function buildHealth(i: HealthInputs): Health {
  const unbound = Object.entries(i.listeners)
    .filter(([, bound]) => !bound)
    .map(([name]) => name);
  const reason = !i.store.ok
    ? `store unusable${i.store.error ? `: ${i.store.error}` : ''}`
    : unbound.length
      ? `not listening: ${unbound.join(', ')}`
      : undefined;
  return {
    ...i.extra,
    serving: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
    ...(i.degraded?.length ? { degraded: i.degraded } : {}),
    upstream: i.upstreamConnected ? 'connected' : 'disconnected',
    outbox: {
      rows: i.outbox.rows,
      bytes: i.outbox.bytes,
      oldest_age_seconds: i.outbox.oldestAt === null ? 0 : Math.max(0, (i.now - i.outbox.oldestAt) / 1000),
      // Kept but no longer sent (the broker would not take them): `fieldgate queue peek --dead`.
      ...(i.outbox.setAside ? { set_aside: i.outbox.setAside } : {}),
    },
    ...(i.inbox ? { inbox: { rows: i.inbox.rows } } : {}),
    listeners: i.listeners,
  };
}
