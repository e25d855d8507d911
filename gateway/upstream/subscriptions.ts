import type { ISubackPacket, ISubscription, IUnsubackPacket, Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { topicFilterProblem, topicPreview } from '../../contracts/topic.js';
import type { Connection } from './connection.js';
import type { PacketIds } from './packet-ids.js';

export type QoS = 0 | 1 | 2;

/**
 * Keeps the broker subscribed to exactly the wanted set of filters: the full set on
 * every connect (a session may or may not have survived), then only differences.
 */
export class Subscriptions {
  private wanted = new Map<string, QoS>();
  private current = new Map<string, QoS>();
  private conn: Connection | null = null;
  /** Outstanding SUBSCRIBE/UNSUBSCRIBE by packet id, for the ack log line. */
  private readonly outstanding = new Map<number, string[]>();
  /** Invalid filters already logged (bounded). */
  private readonly refused = new Set<string>();
  /**
   * Filters subscribed with MQTT 5 Retain Handling 2 ("do not send retained messages") and Retain As
   * Published (a message published retained keeps its flag): requests must never replay from a
   * retained copy, and one published retained is seen as such. A 3.1.1 broker sends retained copies
   * flagged; the receiver checks the flag either way.
   */
  private noRetained = new Set<string>();

  constructor(
    private readonly ids: PacketIds,
    private readonly logger: Logger,
  ) {}

  set(filters: ReadonlyMap<string, QoS>): void {
    this.wanted = new Map();
    for (const [filter, qos] of filters) {
      // Defence in depth: a filter the broker refuses would end the connection on every connect.
      const problem = topicFilterProblem(filter);
      if (problem === undefined) this.wanted.set(filter, qos);
      else if (!this.refused.has(filter)) {
        if (this.refused.size < 1000) this.refused.add(filter);
        this.logger.warn(
          { filter: topicPreview(filter), problem },
          'upstream: invalid topic filter not subscribed',
        );
      }
    }
    if (this.conn) this.sync(this.conn);
  }

  /** Filters whose retained messages the broker must not send (applies to their next SUBSCRIBE). */
  setNoRetained(filters: Iterable<string>): void {
    this.noRetained = new Set(filters);
  }

  attach(conn: Connection): void {
    this.conn = conn;
    this.current.clear();
    this.sync(conn);
  }

  detach(): void {
    this.conn = null;
    this.outstanding.clear();
  }

  /** SUBACK / UNSUBACK; false when the id is not ours. */
  handleAck(p: Packet): boolean {
    if ((p.cmd !== 'suback' && p.cmd !== 'unsuback') || p.messageId === undefined) return false;
    const filters = this.outstanding.get(p.messageId);
    if (!filters) return false;
    this.outstanding.delete(p.messageId);
    this.ids.release(p.messageId);
    if (p.cmd === 'suback') this.checkGranted(p, filters);
    return true;
  }

  private checkGranted(p: ISubackPacket | IUnsubackPacket, filters: string[]): void {
    p.granted.forEach((g, i) => {
      if (typeof g === 'number' && g >= 0x80) {
        this.logger.error({ filter: filters[i], code: g }, 'upstream: broker refused subscription');
        this.current.delete(filters[i]!);
      }
    });
  }

  private sync(conn: Connection): void {
    const add: ISubscription[] = [];
    for (const [topic, qos] of this.wanted)
      if (this.current.get(topic) !== qos)
        add.push(this.noRetained.has(topic) ? { topic, qos, rh: 2, rap: true } : { topic, qos });
    const remove = [...this.current.keys()].filter((t) => !this.wanted.has(t));
    if (add.length > 0) {
      const messageId = this.take();
      if (messageId === undefined) return;
      this.outstanding.set(
        messageId,
        add.map((s) => s.topic),
      );
      conn.write({ cmd: 'subscribe', messageId, subscriptions: add });
      for (const s of add) this.current.set(s.topic, s.qos);
      this.logger.info({ filters: add.map((s) => `${s.topic} (qos ${s.qos})`) }, 'upstream: subscribing');
    }
    if (remove.length > 0) {
      const messageId = this.take();
      if (messageId === undefined) return;
      this.outstanding.set(messageId, remove);
      conn.write({ cmd: 'unsubscribe', messageId, unsubscriptions: remove });
      for (const t of remove) this.current.delete(t);
      this.logger.info({ filters: remove }, 'upstream: unsubscribing');
    }
  }

  private take(): number | undefined {
    const id = this.ids.take();
    if (id === undefined)
      this.logger.warn('upstream: no free packet id for SUBSCRIBE; will retry on reconnect');
    return id;
  }
}
