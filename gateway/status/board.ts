import type { DeviceEvent, Reading } from '../../adapters/types.js';
import { waitingNow, wallOf } from '../../contracts/clock.js';
import type { OutboxStats } from '../../contracts/store.js';
import type { ClockStatus } from '../clock/watch.js';
import type { UpstreamEvent } from '../upstream/events.js';
import type { LogEvent, LogRing } from './log-ring.js';
import { RateSeries } from './rate-series.js';
import { DeviceRegistry, type DeviceRow } from './registry.js';

/**
 * GET /api/status (documented in docs/operations.md). Times are ms since epoch (wall clock, as it reads now:
 * kept on the waiting clock and converted when shown, so a clock step moves them with it), ages and
 * rates in seconds.
 */
export interface StatusJson {
  gateway: { id: string; version: string; started_at: number; uptime_s: number; now: number };
  clock: ClockStatus;
  uplink: {
    state: 'connected' | 'disconnected';
    since: number;
    /** The broker URL without credentials. */
    broker: string;
    reconnects: number;
    last_error: { message: string; at: number } | null;
    /** The MQTT version spoken (or tried next): "5", or "3.1.1" when configured or fallen back to. */
    protocol: '5' | '3.1.1';
    /** Why this run speaks 3.1.1 though 5 was configured (the broker did not take MQTT 5); else null. */
    protocol_fallback: { reason: string; at: number } | null;
  };
  outbox: {
    rows: number;
    bytes: number;
    oldest_age_s: number;
    /** Broker-acknowledged messages per second over the last minute. */
    drain_per_s: number;
    set_aside: number;
    /** Messages dropped since start, by reason (store limits, refused readings, …). */
    dropped: Record<string, number>;
  };
  /**
   * Bytes the process wrote to disk per day at the rate of the last hour (or since start); null
   * where the io counters are not readable. SD-card wear: see the README's "SD cards".
   */
  disk: { written_per_day: number | null };
  /** Messages per second, one value per second, oldest first, the last 10 minutes. */
  rates: { in: number[]; out: number[] };
  devices: { total: number; online: number; asleep: number; offline: number; lost: number };
  /** Recent warnings and errors, newest first. */
  logs: LogEvent[];
}

export interface BoardSources {
  gatewayId: string;
  version: string;
  /** The broker URL in use (or being tried, after a failover), without credentials. */
  broker: () => string;
  outbox: () => OutboxStats & { setAside: number };
  reconnects: () => number;
  /** The MQTT version spoken, and why 3.1.1 if the broker made us fall back. */
  protocol?: () => { version: '5' | '3.1.1'; fallback: { reason: string; at: number } | null };
  logs?: LogRing;
  clock?: () => ClockStatus;
  /** Disk bytes written per day at the recent rate (undefined: unknown). */
  diskWritesPerDay?: () => number | undefined;
}

/**
 * What the status page shows, kept up to date from the gateway's event streams. Read-only towards
 * the parts: observe.ts feeds it; the HTTP routes read it.
 */
export class StatusBoard {
  readonly devices = new DeviceRegistry();
  private readonly rateIn = new RateSeries();
  private readonly rateOut = new RateSeries();
  private readonly drops = new Map<string, number>();
  private uplink: { connected: boolean; since: number } = { connected: false, since: waitingNow() };
  private lastError: { message: string; at: number } | null = null;
  private readonly startedAt = waitingNow();

  constructor(private readonly src: BoardSources) {}

  reading(r: Reading): void {
    this.rateIn.add(r.receivedAt);
    this.devices.reading(r);
  }

  device(e: DeviceEvent): void {
    this.devices.event(e);
  }

  dropped(reason: string, n = 1, reading?: { source: string; device: string }): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + n);
    if (reading) this.devices.dropped(reading.source, reading.device, waitingNow());
  }

  /** An adapter named a device that misbehaves (not taking its messages, out of state, oversize). */
  deviceProblem(source: string, device: string, reason: string, at = waitingNow()): void {
    this.devices.problem(source, device, reason, at);
  }

  upstream(e: UpstreamEvent, now = waitingNow()): void {
    if (e.type === 'delivered-batch') this.rateOut.add(now, e.rows.length);
    else if (e.type === 'connected') this.uplink = { connected: true, since: now };
    else if (e.type === 'disconnected') {
      if (this.uplink.connected) this.uplink = { connected: false, since: now };
      this.lastError = { message: `disconnected: ${e.reason}`, at: now };
    } else if (e.type === 'refused') this.lastError = { message: `broker refused: ${e.reason}`, at: now };
    else if (e.type === 'connect-failed')
      this.lastError = { message: `connect failed: ${e.reason}`, at: now };
  }

  status(now = waitingNow()): StatusJson {
    const o = this.src.outbox();
    const c = this.devices.counts();
    const p = this.src.protocol?.();
    const perDay = this.src.diskWritesPerDay?.();
    return {
      gateway: {
        id: this.src.gatewayId,
        version: this.src.version,
        started_at: wallOf(this.startedAt),
        uptime_s: Math.round((now - this.startedAt) / 1000),
        now: wallOf(now),
      },
      clock: this.src.clock?.() ?? { synchronized: 'unknown', steps: 0, last_step: null },
      uplink: {
        state: this.uplink.connected ? 'connected' : 'disconnected',
        since: wallOf(this.uplink.since),
        broker: this.src.broker(),
        reconnects: this.src.reconnects(),
        last_error: this.lastError && { ...this.lastError, at: wallOf(this.lastError.at) },
        protocol: p?.version ?? '5',
        protocol_fallback: p?.fallback ? { ...p.fallback, at: wallOf(p.fallback.at) } : null,
      },
      outbox: {
        rows: o.rows,
        bytes: o.bytes,
        oldest_age_s: o.oldestAt === null ? 0 : Math.max(0, Math.round((now - o.oldestAt) / 1000)),
        drain_per_s: round2(this.rateOut.rate(now)),
        set_aside: o.setAside,
        dropped: Object.fromEntries(this.drops),
      },
      disk: { written_per_day: perDay === undefined ? null : Math.round(perDay) },
      rates: { in: this.rateIn.values(now), out: this.rateOut.values(now) },
      devices: { total: c.online + c.asleep + c.offline + c.lost, ...c },
      logs: (this.src.logs?.recent() ?? []).map((l) => ({ ...l, time: wallOf(l.time) })),
    };
  }

  deviceList(): { devices: DeviceRow[] } {
    return {
      devices: this.devices.list().map((d) => ({
        ...d,
        state_since: wallOf(d.state_since),
        last_seen: d.last_seen === null ? null : wallOf(d.last_seen),
      })),
    };
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
