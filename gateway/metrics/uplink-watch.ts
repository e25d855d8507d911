import type { HealthConfig } from './config.js';

/** What the watch needs to know about the outbox at the moment of asking. */
export interface DrainInputs {
  connected: boolean;
  rows: number;
  /** Enqueue time (ms) of the oldest row, null when empty. */
  oldestAt: number | null;
  /** QoS 2 messages awaiting PUBREC/PUBCOMP and how long the oldest has waited (ms). */
  qos2Waiting?: { count: number; oldestMs: number };
}

/**
 * Degraded (not unhealthy) uplink states, from upstream events (pure: the caller passes the clock).
 * Flapping: `flap_disconnects` disconnects within `flap_window`. Not draining: connected, rows
 * waiting, and neither a broker ack, nor the connect, nor the oldest row is younger than `stall_after`
 * (so a row that arrived a moment ago after an idle hour is not a stall). Never connected: since
 * start no connection came up (a broker that refuses us, or one that closes on every CONNECT).
 * QoS 2 stuck: a QoS 2 message has waited `stall_after` for its PUBREC/PUBCOMP (other messages
 * flow past it, so the outbox drains and only this says so).
 */
export class UplinkWatch {
  private disconnects: number[] = [];
  private progressAt = 0;
  private everConnected = false;
  private lastFailure = '';

  constructor(private readonly cfg: HealthConfig) {}

  connected(now: number): void {
    this.progressAt = now;
    this.everConnected = true;
  }

  /** A connect attempt failed (why, in words). */
  connectFailed(reason: string): void {
    this.lastFailure = reason;
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
    if (!this.everConnected)
      out.push(
        `uplink has never connected since start${this.lastFailure ? ` (last: ${this.lastFailure})` : ''}`,
      );
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
    const q2 = outbox.qos2Waiting;
    if (outbox.connected && q2 && q2.count > 0 && q2.oldestMs >= this.cfg.stall_after)
      out.push(
        `QoS 2 stuck: ${q2.count} QoS 2 messages in flight, the oldest awaiting the broker's PUBREC/PUBCOMP for ${secs(q2.oldestMs)} (its device's later messages wait behind it)`,
      );
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
