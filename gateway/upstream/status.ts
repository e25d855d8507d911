import type { IConnectPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import type { DirectPublishes } from './direct.js';

/**
 * Gateway availability on the status topic: the will says retained "offline" (QoS 1),
 * a connect publishes retained "online", a graceful stop publishes "offline" itself.
 */
export class Status {
  /** False once a broker said it does not support retained messages (MQTT 5 Retain Available). */
  retain = true;

  constructor(
    readonly topic: string,
    private readonly direct: DirectPublishes,
  ) {}

  will(): NonNullable<IConnectPacket['will']> {
    return { topic: this.topic, payload: Buffer.from('offline'), qos: 1, retain: this.retain };
  }

  /** Publish retained QoS 1; resolves on PUBACK or after `ms`, whichever is first. */
  publish(conn: Connection, value: 'online' | 'offline', ms: number): Promise<boolean> {
    const m = { topic: this.topic, payload: Buffer.from(value), qos: 1 as const, retain: this.retain };
    return this.direct.publish(conn, m, ms, 4);
  }
}
