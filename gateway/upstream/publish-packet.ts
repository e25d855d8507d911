import * as mqttPacket from 'mqtt-packet';
import type { IPublishPacket } from 'mqtt-packet';
import type { OutboxRow } from '../../contracts/store.js';
import type { ProtocolVersion } from './connection.js';

/** What the rows' `properties` JSON may hold (written by rules); all optional. */
export interface RowProperties {
  /** User Properties (MQTT 5). */
  user?: Record<string, string>;
  contentType?: string;
  /** Payload Format Indicator: true = UTF-8 text. */
  utf8?: boolean;
  /** Lifetime in ms from receivedAt (a rule's `expiry`), instead of store.max_age. */
  expiryMs?: number;
  responseTopic?: string;
  /** base64 */
  correlationData?: string;
}

/**
 * Turns outbox rows into PUBLISH packets for one connection: MQTT 5 properties (Message Expiry
 * Interval = the lifetime left, user properties, content type) and topic aliases up to the
 * broker's Topic Alias Maximum (the first PUBLISH on a topic carries topic + alias, later ones the
 * alias and an empty topic). Aliases live as long as the connection: a new encoder per connection.
 */
export class PublishEncoder {
  private readonly aliases = new Map<string, number>();

  constructor(
    private readonly protocol: ProtocolVersion,
    /** Default lifetime of a row (store.max_age); 0 = no expiry sent. */
    private readonly maxAgeMs: number,
    private readonly aliasMax: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** ms of life left for a row (Infinity when it never expires). */
  remainingMs(row: OutboxRow): number {
    const life = (row.properties as RowProperties | undefined)?.expiryMs ?? this.maxAgeMs;
    if (!life) return Number.POSITIVE_INFINITY;
    return life - (this.now() - row.receivedAt);
  }

  packet(row: OutboxRow, packetId: number, dup: boolean, alias = true): IPublishPacket {
    const p: IPublishPacket = {
      cmd: 'publish',
      topic: row.topic,
      payload: row.payload,
      qos: row.qos,
      retain: row.retain,
      dup,
    };
    if (row.qos > 0) p.messageId = packetId;
    if (this.protocol !== 5) return p;
    const props: NonNullable<IPublishPacket['properties']> = {};
    const left = this.remainingMs(row);
    if (Number.isFinite(left)) props.messageExpiryInterval = Math.max(1, Math.ceil(left / 1000));
    const rp = row.properties as RowProperties | undefined;
    if (rp?.user && Object.keys(rp.user).length > 0) props.userProperties = rp.user;
    if (rp?.contentType) props.contentType = rp.contentType;
    if (rp?.utf8 !== undefined) props.payloadFormatIndicator = rp.utf8;
    if (rp?.responseTopic) props.responseTopic = rp.responseTopic;
    if (rp?.correlationData) props.correlationData = Buffer.from(rp.correlationData, 'base64');
    if (alias && this.aliasMax > 0) {
      const known = this.aliases.get(row.topic);
      if (known !== undefined) {
        props.topicAlias = known;
        p.topic = '';
      } else if (this.aliases.size < this.aliasMax) {
        // First come, first aliased: a gateway's topics are few and stable (one per device/quantity).
        props.topicAlias = this.aliases.size + 1;
        this.aliases.set(row.topic, props.topicAlias);
      }
    }
    if (Object.keys(props).length > 0) p.properties = props;
    return p;
  }

  /** Exact size of a row's PUBLISH without an alias (the worst case), for the rare row near the limit. */
  packetSize(row: OutboxRow): number {
    const p = this.packet(row, 1, false, false);
    return mqttPacket.generate(p, { protocolVersion: this.protocol }).length;
  }

  /**
   * Upper bound of a row's PUBLISH size in bytes, fixed header included (for the broker's Maximum
   * Packet Size): topic and payload exactly, properties generously (aliases only make it smaller).
   */
  maxSize(row: OutboxRow): number {
    let n = 2 + Buffer.byteLength(row.topic) + row.payload.length + (row.qos > 0 ? 2 : 0);
    if (this.protocol === 5) {
      n += 4 + 5 + 3; // property length, expiry, alias
      if (row.properties) n += Buffer.byteLength(JSON.stringify(row.properties)) + 16;
    }
    const remaining = n;
    return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining;
  }
}
