import type { IPublishPacket } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { KvEntry, KvState } from '../../contracts/store.js';
import type { Connection } from './connection.js';
import { waitingNow } from '../../contracts/clock.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /**
   * QoS 2: the packet id entry to write in the same commit as whatever the handler stores (so the
   * message goes exactly once into the store). A handler that did so resolves `{ remembered: true }`;
   * otherwise the id is written after the handler, and a crash in between hands it over again.
   */
  remember?: KvEntry;
  /** MQTT 5 request/response: where the sender waits for an answer, and what to echo with it. */
  responseTopic?: string;
  correlationData?: Buffer;
  /** MQTT 5 User Properties as the broker passed them on (remote management's audit trail). */
  userProperties?: Record<string, string | string[]>;
  /** MQTT 5 Message Expiry Interval (s) left when the broker forwarded it. */
  messageExpiryInterval?: number;
}
// biome-ignore lint/suspicious/noConfusingVoidType: plain `async () => {}` handlers (no QoS 2 spool) stay valid
export type MessageHandler = (m: InboundMessage) => Promise<{ remembered?: boolean } | void>;

/** KvState namespace of incoming QoS 2 packet ids between PUBREC and PUBREL. */
export const QOS2_NAMESPACE = 'upstream.qos2-in';

/**
 * Incoming messages waiting for their turn beyond which a new QoS 0 message is dropped (counted). The
 * broker's own flow control bounds QoS 1/2 (it waits for our acks); QoS 0 has none, and a broker
 * relaying a flood faster than commands are spooled would otherwise grow this queue without limit.
 */
export const MAX_WAITING = 1000;

/** Backoff for a message whose handler (or id write) failed while the connection is up. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * Incoming PUBLISH/PUBREL from subscriptions. Messages are handled one at a time in arrival order
 * (acks must go out in that order anyway); the handler only queues durably, so this is quick. The
 * handler is awaited before the ack. If it fails (e.g. disk full) it is retried with backoff for as
 * long as the connection lives, holding the messages behind it: the message is never left unacked
 * on a live connection, and a restarted session does not lose it as a dropped connection with
 * clean_session would. If the connection ends first, the message stays unacked and the broker
 * redelivers it (persistent session). QoS 2 ids are persisted before PUBREC, so a duplicate
 * PUBLISH, also after a restart, does not reach the handler twice.
 */
export class Inbound {
  private handler: MessageHandler | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Steps queued on the chain and not yet finished. */
  private waiting = 0;
  /** Handler/store failures of incoming messages, each retried (for metrics). */
  failures = 0;

  constructor(
    private readonly state: KvState,
    private readonly logger: Logger,
    /** A QoS 0 message dropped because MAX_WAITING messages were already waiting. */
    private readonly onOverload: (topic: string, bytes: number) => void = () => {},
  ) {}

  setHandler(h: MessageHandler): void {
    this.handler = h;
  }

  publish(conn: Connection, p: IPublishPacket): void {
    if (p.qos === 0 && this.waiting >= MAX_WAITING) {
      this.onOverload(p.topic, p.payload.length);
      return;
    }
    this.enqueue(() => this.onPublish(conn, p));
  }

  pubrel(conn: Connection, messageId: number): void {
    this.enqueue(async () => {
      const key = String(messageId);
      if (!(await this.untilDone(conn, 'pubrel', () => this.state.delete(QOS2_NAMESPACE, key)))) return;
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
    this.waiting++;
    this.chain = this.chain
      .then(step)
      .catch((err) => this.logger.error({ err }, 'upstream: incoming message failed'))
      .finally(() => {
        this.waiting--;
      });
  }

  private async onPublish(conn: Connection, p: IPublishPacket): Promise<void> {
    // Its connection is gone: it can no longer be acked, and the broker sends a QoS 1/2 message again
    // on the next one. Handling it now would only do the work twice (and a broker that pours a
    // session's queue onto each short-lived connection would pile these up without bound).
    if (p.qos > 0 && !conn.open) return;
    const id = p.messageId ?? 0;
    const key = String(id);
    if (p.qos === 2 && this.state.get(QOS2_NAMESPACE, key) !== undefined) {
      this.logger.debug({ messageId: id, topic: p.topic }, 'upstream: duplicate QoS 2 message suppressed');
      conn.write({ cmd: 'pubrec', messageId: id });
      return;
    }
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    const m: InboundMessage = { topic: p.topic, payload, qos: p.qos, retain: p.retain };
    const remember: KvEntry | undefined =
      p.qos === 2
        ? { namespace: QOS2_NAMESPACE, key, value: { topic: p.topic, at: waitingNow() } }
        : undefined;
    if (remember) m.remember = remember;
    if (p.properties?.responseTopic) m.responseTopic = p.properties.responseTopic;
    if (p.properties?.correlationData) m.correlationData = p.properties.correlationData;
    if (p.properties?.userProperties) m.userProperties = p.properties.userProperties;
    if (p.properties?.messageExpiryInterval !== undefined)
      m.messageExpiryInterval = p.properties.messageExpiryInterval;
    let remembered = false;
    const handled = await this.untilDone(conn, p.topic, async () => {
      if (this.handler) remembered = (await this.handler(m))?.remembered === true;
      else this.logger.warn({ topic: p.topic }, 'upstream: message on a subscription but no handler set');
    });
    if (!handled) return;
    // Its own retry: a failure here must not run the handler again.
    if (remember && !remembered) {
      const put = () => this.state.put(remember.namespace, remember.key, remember.value);
      if (!(await this.untilDone(conn, p.topic, put))) return;
    }
    if (p.qos === 1) conn.write({ cmd: 'puback', messageId: id });
    else if (p.qos === 2) conn.write({ cmd: 'pubrec', messageId: id });
  }

  /**
   * Runs `step` until it succeeds, with backoff, while `conn` is open. False when the connection
   * ended first: the caller must not ack; the broker redelivers on the next connection.
   */
  private async untilDone(conn: Connection, what: string, step: () => Promise<void>): Promise<boolean> {
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        await step();
        return true;
      } catch (err) {
        this.failures++;
        if (!conn.open) {
          this.logger.warn(
            { err, topic: what },
            'upstream: incoming message not handled; left for the broker to resend',
          );
          return false;
        }
        this.logger.warn(
          { err, topic: what, retryInMs: delay },
          'upstream: incoming message not handled; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
        if (!conn.open) return false;
      }
    }
  }
}
