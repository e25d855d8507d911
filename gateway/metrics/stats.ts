import { wallOf } from '../../contracts/clock.js';
import type { Health } from './health.js';
import type { MetricsSnapshot } from './snapshot.js';

export interface StatsContext {
  gatewayId: string;
  /** Waiting-clock ms (`ts` shows it on the wall clock). */
  now: number;
  /** Waiting-clock ms when the gateway started. */
  startedAt: number;
  /** The snapshot published last time and when (waiting-clock ms): adds per-interval counts. */
  previous?: { snapshot: MetricsSnapshot; at: number };
}

/** Totals are since start; `interval` (with a previous snapshot) is since the last stats message. */
export interface StatsPayload {
  gateway: string;
  ts: string;
  uptime_seconds: number;
  status: 'ok' | 'degraded' | 'unavailable';
  reason?: string;
  upstream: { connected: boolean; reconnects: number; inflight: number };
  outbox: { rows: number; bytes: number; oldest_age_seconds: number };
  inbox: { rows: number };
  messages: { in: number; out: number; dropped: number };
  dropped_by_reason: Record<string, number>;
  in_by_source: Record<string, number>;
  mqttsn_devices: Record<string, number>;
  serial_ports: Record<string, string>;
  /** Mean receive -> broker ack over the interval (or since start), null when nothing was acked. */
  e2e_latency_mean_seconds: number | null;
  interval?: { seconds: number; in: number; out: number; dropped: number };
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/**
 * The periodic stats message published upstream on `stats.topic` (pure:
 * same inputs, same payload). The integrator takes a snapshot every
 * `stats.interval`, calls this, and enqueues JSON.stringify(result).
 */
export function buildStats(snap: MetricsSnapshot, health: Health, ctx: StatsContext): StatsPayload {
  const totals = { in: sum(snap.messagesIn), out: sum(snap.messagesOut), dropped: sum(snap.droppedByReason) };
  const prev = ctx.previous?.snapshot;
  const latCount = snap.e2eLatency.count - (prev?.e2eLatency.count ?? 0);
  const latSum = snap.e2eLatency.sumSeconds - (prev?.e2eLatency.sumSeconds ?? 0);

  const payload: StatsPayload = {
    gateway: ctx.gatewayId,
    ts: new Date(wallOf(ctx.now)).toISOString(),
    uptime_seconds: Math.max(0, Math.round((ctx.now - ctx.startedAt) / 1000)),
    status: !health.serving ? 'unavailable' : health.degraded?.length ? 'degraded' : 'ok',
    upstream: snap.upstream,
    outbox: {
      rows: snap.outbox.rows,
      bytes: snap.outbox.bytes,
      oldest_age_seconds: round(snap.outbox.oldestAgeSeconds),
    },
    inbox: { rows: snap.inboxRows },
    messages: totals,
    dropped_by_reason: snap.droppedByReason,
    in_by_source: snap.messagesIn,
    mqttsn_devices: snap.mqttsnDevices,
    serial_ports: snap.serialPorts,
    e2e_latency_mean_seconds: latCount > 0 ? round(latSum / latCount, 6) : null,
  };
  if (!health.serving) payload.reason = health.reason ?? 'not serving';
  else if (health.degraded?.length) payload.reason = health.degraded.join('; ');
  if (ctx.previous && prev) {
    payload.interval = {
      seconds: Math.max(0, Math.round((ctx.now - ctx.previous.at) / 1000)),
      in: totals.in - sum(prev.messagesIn),
      out: totals.out - sum(prev.messagesOut),
      dropped: totals.dropped - sum(prev.droppedByReason),
    };
  }
  return payload;
}
