import type { IConnectPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import type { PacketIds } from './packet-ids.js';

/**
 * Gateway availability on the status topic: the will says retained "offline" (QoS 1),
 * a connect publishes retained "online", a graceful stop publishes "offline" itself.
 */
export class Status {
  private readonly waiting = new Map<number, () => void>();
  /** False once a broker said it does not support retained messages (MQTT 5 Retain Available). */
  retain = true;

  constructor(
    readonly topic: string,
    private readonly ids: PacketIds,
  ) {}

  will(): NonNullable<IConnectPacket['will']> {
    return { topic: this.topic, payload: Buffer.from('offline'), qos: 1, retain: this.retain };
  }

  /** Publish retained QoS 1; resolves on PUBACK or after `ms`, whichever is first. */
  publish(conn: Connection, value: 'online' | 'offline', ms: number): Promise<boolean> {
    const messageId = this.ids.take();
    if (messageId === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(messageId);
        resolve(false);
      }, ms);
      timer.unref();
      this.waiting.set(messageId, () => {
        clearTimeout(timer);
        resolve(true);
      });
      conn.write({
        cmd: 'publish',
        topic: this.topic,
        payload: Buffer.from(value),
        qos: 1,
        retain: this.retain,
        dup: false,
        messageId,
      });
    });
  }

  /** PUBACK for one of ours? */
  handleAck(messageId: number): boolean {
    const done = this.waiting.get(messageId);
    if (!done) return false;
    this.waiting.delete(messageId);
    this.ids.release(messageId);
    done();
    return true;
  }

  detach(): void {
    this.waiting.clear();
  }
}
