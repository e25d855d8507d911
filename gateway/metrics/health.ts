/**
 * What the gateway reports about itself; the integrator builds it from the
 * live parts. `serving` is false only when the gateway cannot do its job
 * (store unusable, a listener not bound). An upstream outage is NOT
 * unhealthy: buffering through it is what the outbox is for.
 */
export interface Health {
  serving: boolean;
  /** Why not serving; required in spirit when serving is false. */
  reason?: string;
  upstream: 'connected' | 'disconnected';
  outbox: { rows: number; bytes: number; oldest_age_seconds: number };
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
  const { serving, reason, ...rest } = health as Health;
  if (serving) return { code: 200, body: { status: 'ok', ...rest } };
  return { code: 503, body: { status: 'unavailable', reason: reason || 'not serving', ...rest } };
}
