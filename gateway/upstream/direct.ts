import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import type { PacketIds } from './packet-ids.js';

/** A message written straight to the connection, not through the outbox. */
export interface DirectMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 PUBLISH properties (Correlation Data, User Properties…); ignored on 3.1.1. */
  properties?: IPublishPacket['properties'];
}

/**
 * Publishes that belong to the connection rather than to the outbox: the gateway's status, answers
 * to requests. Nothing waits in the store for them, so one lost with its connection is gone (the
 * status is published again on the next connect; a requester asks again). Resolves true on PUBACK
 * (QoS 1) or once written (QoS 0), false after `ms`, without a free packet id, or on detach.
 */
export class DirectPublishes {
  private readonly waiting = new Map<number, (acked: boolean) => void>();

  constructor(private readonly ids: PacketIds) {}

  publish(conn: Connection, m: DirectMessage, ms: number, protocol: 4 | 5): Promise<boolean> {
    const base = {
      cmd: 'publish' as const,
      topic: m.topic,
      payload: m.payload,
      retain: m.retain,
      dup: false,
    };
    const properties = protocol === 5 && m.properties ? { properties: m.properties } : {};
    if (m.qos === 0) {
      conn.write({ ...base, qos: 0, ...properties });
      return Promise.resolve(true);
    }
    const messageId = this.ids.take();
    if (messageId === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // The id stays taken: a late PUBACK must not free an id reused meanwhile. detach() clears.
        this.waiting.set(messageId, () => {});
        resolve(false);
      }, ms);
      timer.unref();
      this.waiting.set(messageId, (acked) => {
        clearTimeout(timer);
        resolve(acked);
      });
      conn.write({ ...base, qos: 1, messageId, ...properties });
    });
  }

  /** PUBACK for one of ours? */
  handleAck(messageId: number): boolean {
    const done = this.waiting.get(messageId);
    if (!done) return false;
    this.waiting.delete(messageId);
    this.ids.release(messageId);
    done(true);
    return true;
  }

  /** The connection is gone: whatever waits has failed (the ids are cleared with the connection). */
  detach(): void {
    for (const done of this.waiting.values()) done(false);
    this.waiting.clear();
  }
}
