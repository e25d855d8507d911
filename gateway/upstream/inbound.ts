import type { IPublishPacket } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { KvState } from '../../contracts/store.js';
import type { Connection } from './connection.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}
export type MessageHandler = (m: InboundMessage) => Promise<void>;

/** KvState namespace of incoming QoS 2 packet ids between PUBREC and PUBREL. */
export const QOS2_NAMESPACE = 'upstream.qos2-in';

/**
 * Incoming PUBLISH/PUBREL from subscriptions. Messages are handled one at a time in
 * arrival order (acks must go out in that order anyway). The handler is awaited
 * before the ack; if it fails the message is not acknowledged, so the broker
 * redelivers it on the next connection. QoS 2 ids are persisted before PUBREC, so a
 * duplicate PUBLISH, also after a restart, does not reach the handler twice.
 */
export class Inbound {
  private handler: MessageHandler | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: KvState,
    private readonly logger: Logger,
  ) {}

  setHandler(h: MessageHandler): void {
    this.handler = h;
  }

  publish(conn: Connection, p: IPublishPacket): void {
    this.enqueue(() => this.onPublish(conn, p));
  }

  pubrel(conn: Connection, messageId: number): void {
    this.enqueue(async () => {
      await this.state.delete(QOS2_NAMESPACE, String(messageId));
      conn.write({ cmd: 'pubcomp', messageId });
    });
  }

  /**
   * The broker kept no session (CONNACK sessionPresent=0): it will not send PUBREL for
   * ids persisted earlier, and may reuse them for new messages. Forget them first.
   */
  newSession(): void {
    this.enqueue(async () => {
      const stale = this.state.list(QOS2_NAMESPACE);
      await Promise.all(stale.map((e) => this.state.delete(QOS2_NAMESPACE, e.key)));
    });
  }

  /** Resolves when everything received so far has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain
      .then(step)
      .catch((err) => this.logger.error({ err }, 'upstream: incoming message failed'));
  }

  private async onPublish(conn: Connection, p: IPublishPacket): Promise<void> {
    const id = p.messageId ?? 0;
    const key = String(id);
    if (p.qos === 2 && this.state.get(QOS2_NAMESPACE, key) !== undefined) {
      this.logger.debug({ messageId: id, topic: p.topic }, 'upstream: duplicate QoS 2 message suppressed');
      conn.write({ cmd: 'pubrec', messageId: id });
      return;
    }
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    const m: InboundMessage = { topic: p.topic, payload, qos: p.qos, retain: p.retain };
    if (this.handler) await this.handler(m);
    else this.logger.warn({ topic: p.topic }, 'upstream: message on a subscription but no handler set');
    if (p.qos === 1) conn.write({ cmd: 'puback', messageId: id });
    else if (p.qos === 2) {
      await this.state.put(QOS2_NAMESPACE, key, { topic: p.topic, at: Date.now() });
      conn.write({ cmd: 'pubrec', messageId: id });
    }
  }
}
