import type { Logger } from 'pino';
import { waitingNow } from '../../contracts/clock.js';
import { type InFlightWindow, RELEASED } from './inflight-window.js';

/**
 * How long each QoS 2 row in flight has waited for its PUBREC/PUBCOMP. A broker that never answers
 * one holds a slot of the QoS 2 window for as long as the connection lasts (MQTT allows no resend
 * on a live connection), and its device's later rows wait behind it: that is logged once per row
 * and shown on /health, since the other devices' rows still flow and nothing else would say so.
 */
export class Qos2Watch {
  /** Packet id -> when its PUBLISH went out. */
  private readonly since = new Map<number, number>();
  /** Row ids already logged as waiting too long. */
  private readonly logged = new Set<number>();

  constructor(
    private readonly logger: Logger,
    private readonly stuckAfterMs: number,
  ) {}

  sent(packetId: number): void {
    this.since.set(packetId, waitingNow());
  }

  /** Acked, refused or set aside: no longer waiting. */
  done(packetId: number): void {
    this.since.delete(packetId);
  }

  /** The connection is gone: nothing is in flight any more. */
  clear(): void {
    this.since.clear();
    this.logged.clear();
  }

  /** How many wait, and how long the oldest has (ms). */
  waiting(now = waitingNow()): { count: number; oldestMs: number } {
    let oldest = now;
    for (const at of this.since.values()) if (at < oldest) oldest = at;
    return { count: this.since.size, oldestMs: now - oldest };
  }

  /** Log each row that has waited stuckAfterMs, once. */
  check(window: InFlightWindow): void {
    if (this.since.size === 0) return;
    const now = waitingNow();
    for (const [packetId, at] of this.since) {
      const row = window.get(packetId);
      if (!row || now - at < this.stuckAfterMs || this.logged.has(row.id)) continue;
      this.logged.add(row.id);
      const ack = window.state(packetId) === RELEASED ? 'PUBCOMP' : 'PUBREC';
      this.logger.warn(
        { id: row.id, device: row.device, topic: row.topic, packetId, waitedMs: now - at },
        `upstream: a QoS 2 message has waited ${Math.round((now - at) / 1000)} s for the broker's ${ack}: its device's later messages wait behind it until the connection ends; other devices' messages still flow`,
      );
    }
  }
}
