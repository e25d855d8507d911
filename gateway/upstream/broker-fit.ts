import type { Logger } from 'pino';
import type { OutboxRow } from '../../contracts/store.js';
import { type BrokerLimits, NO_LIMITS } from './broker-limits.js';
import type { PublishEncoder } from './publish-packet.js';

/**
 * Per-row limits of the connected broker (MQTT 5 CONNACK: Maximum QoS, Retain Available, Maximum
 * Packet Size): sending more makes it close the connection (0x9B, 0x9A, 0x95) on every attempt.
 * Asked once per row on the hot path: a row that fits is returned as it is, with no copy.
 */
export class BrokerFit {
  /** This connection's limits as its broker announced them in CONNACK. */
  limits: BrokerLimits = NO_LIMITS;
  /** Copies of QoS 2 rows sent as QoS 1 (fit): their PUBACK is a downgraded delivery. */
  private lowered = new WeakSet<OutboxRow>();

  /** A new connection: its broker's limits replace the last one's. */
  attach(limits: BrokerLimits, logger: Logger): void {
    this.limits = limits;
    this.lowered = new WeakSet();
    if (limits.maximumQoS < 2 || !limits.retainAvailable) {
      logger.warn(
        { maximumQoS: limits.maximumQoS, retainAvailable: limits.retainAvailable },
        'upstream: the broker limits QoS or retain: messages are sent at its maximum QoS, retained ones as not retained',
      );
    }
  }

  /** From now on QoS 2 rows go to this broker as QoS 1 (it answered one with PUBACK). */
  capQos(max: 0 | 1): void {
    if (this.limits.maximumQoS > max) this.limits = { ...this.limits, maximumQoS: max };
  }

  /**
   * A row as this broker accepts it (Maximum QoS, Retain Available). A QoS 2 row sent as QoS 1 is
   * still at least once; its store row stays 'queued' like any QoS 1 row until acknowledged.
   */
  fit(row: OutboxRow): OutboxRow {
    const { maximumQoS, retainAvailable } = this.limits;
    if (row.qos <= maximumQoS && (retainAvailable || !row.retain)) return row;
    const fitted = {
      ...row,
      qos: Math.min(row.qos, maximumQoS) as 0 | 1 | 2,
      retain: row.retain && retainAvailable,
    };
    if (row.qos === 2 && fitted.qos === 1) this.lowered.add(fitted);
    return fitted;
  }

  /** Whether this acknowledged row was a QoS 2 row sent as QoS 1 because of the broker's limit. */
  wasLowered(row: OutboxRow): boolean {
    return this.limits.maximumQoS < 2 && this.lowered.has(row);
  }

  /**
   * The row's packet size in bytes when it exceeds the broker's Maximum Packet Size (it never will
   * fit this broker), else 0. The exact size is computed only when the cheap bound exceeds it.
   */
  oversize(row: OutboxRow, encoder: PublishEncoder): number {
    const max = this.limits.maximumPacketSize;
    if (Number.isFinite(max) && encoder.maxSize(row) > max) {
      const exact = encoder.packetSize(row);
      if (exact > max) return exact;
    }
    return 0;
  }
}
