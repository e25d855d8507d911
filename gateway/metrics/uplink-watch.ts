import type { HealthConfig } from './config.js';

/** What the watch needs to know about the outbox at the moment of asking. */
export interface DrainInputs {
  connected: boolean;
  rows: number;
  /** Enqueue time (ms) of the oldest row, null when empty. */
  oldestAt: number | null;
}

/**
 * Degraded (not unhealthy) uplink states, from upstream events (pure: the caller passes the clock).
 * Flapping: `flap_disconnects` disconnects within `flap_window`. Not draining: connected, rows
 * waiting, and neither a broker ack, nor the connect, nor the oldest row is younger than `stall_after`
 * (so a row that arrived a moment ago after an idle hour is not a stall).
 */
export class UplinkWatch {
  private disconnects: number[] = [];
  private progressAt = 0;

  constructor(private readonly cfg: HealthConfig) {}

  connected(now: number): void {
    this.progressAt = now;
  }

  disconnected(now: number): void {
    this.disconnects.push(now);
    this.prune(now);
  }

  /** A broker ack (or a QoS 0 write): the outbox moves. */
  delivered(now: number): void {
    this.progressAt = now;
  }

  /** Why the uplink is degraded now; empty when it is not. */
  reasons(now: number, outbox: DrainInputs): string[] {
    this.prune(now);
    const out: string[] = [];
    const n = this.disconnects.length;
    if (n >= this.cfg.flap_disconnects)
      out.push(`uplink flapping: ${n} disconnects in the last ${secs(this.cfg.flap_window)}`);
    if (outbox.connected && outbox.rows > 0) {
      const since = Math.max(this.progressAt, outbox.oldestAt ?? now);
      if (now - since >= this.cfg.stall_after)
        out.push(
          `outbox not draining: ${outbox.rows} rows waiting, no broker ack for ${secs(now - since)} while connected`,
        );
    }
    return out;
  }

  private prune(now: number): void {
    const from = now - this.cfg.flap_window;
    let i = 0;
    while (i < this.disconnects.length && this.disconnects[i]! <= from) i++;
    if (i > 0) this.disconnects.splice(0, i);
  }
}

const secs = (ms: number): string => `${Math.round(ms / 1000)}s`;
