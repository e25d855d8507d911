import * as mqttPacket from 'mqtt-packet';
import type { IPublishPacket } from 'mqtt-packet';
import type { OutboxRow } from '../../contracts/store.js';
import type { ProtocolVersion } from './connection.js';
import { timeCorrectable, timeTrusted, waitingNow } from '../../contracts/clock.js';
import { type Stamp, stampedPayload } from './stamp.js';

interface TopicEntry {
  /** 2-byte length + UTF-8 topic, as it goes on the wire. */
  bytes: Buffer;
  alias: number;
  cached: boolean;
}

/** encode()'s decision for one packet between its two passes. */
interface Plan {
  rem: number;
  /** Message Expiry Interval in s, -1: none. */
  expiry: number;
  /** As alias() returned it. */
  alias: number;
  topic: Buffer | undefined;
  /** Encoded by mqtt-packet (a rare row). */
  generic: Buffer | undefined;
}

/** Topics cached per connection at most (a gateway has a few per device). */
const MAX_TOPICS = 4096;
const EMPTY_TOPIC = Buffer.alloc(2);
/** Larger payloads go through mqtt-packet (keeps the hand encoder's length arithmetic small). */
const MAX_SIMPLE_PAYLOAD = 1 << 26;
const MAX_EXPIRY_MS = 0xffffffff * 1000;
/**
 * MQTT 5 user property of a message whose reading was taken before the wall clock was known right
 * (before NTP synchronized, or in an earlier run that was not): times written into it may be wrong.
 */
const UNSYNCHRONIZED = { time_quality: 'unsynchronized' } as const;

function varIntSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarInt(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

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
  /** A rule's time_field: the reading's time is written into the JSON payload when it is sent. */
  stamp?: Stamp;
}

/**
 * Whether the times in a row's message can be vouched for: a time_field is written at send time
 * (right for any reading of an unbroken chain of runs once the clock is synchronized); times built
 * into the payload at ingest are right only for readings taken while it was synchronized.
 */
function timesTrusted(row: OutboxRow, rp: RowProperties | undefined): boolean {
  return rp?.stamp ? timeCorrectable(row.receivedAt) : timeTrusted(row.receivedAt);
}

/**
 * Turns outbox rows into PUBLISH packets for one connection: MQTT 5 properties (Message Expiry
 * Interval = the lifetime left, user properties, content type) and topic aliases up to the
 * broker's Topic Alias Maximum (the first PUBLISH on a topic carries topic + alias, later ones the
 * alias and an empty topic). Aliases live as long as the connection: a new encoder per connection.
 */
export class PublishEncoder {
  /** Per topic: its encoded bytes (length-prefixed) and its alias (0: none), for this connection. */
  private readonly topics = new Map<string, TopicEntry>();
  private aliasCount = 0;
  /** Scratch for encode(), reused across batches: what pass 1 decided for each packet. */
  private readonly plan: Plan[] = [];

  constructor(
    private readonly protocol: ProtocolVersion,
    /** Default lifetime of a row (store.max_age); 0 = no expiry sent. */
    private readonly maxAgeMs: number,
    private readonly aliasMax: number,
    private readonly now: () => number = waitingNow,
  ) {}

  /** This encoder's clock (ms): read once per batch for expired(). */
  time(): number {
    return this.now();
  }

  /** ms of life left for a row (Infinity when it never expires). */
  remainingMs(row: OutboxRow): number {
    const life = (row.properties as RowProperties | undefined)?.expiryMs ?? this.maxAgeMs;
    if (!life) return Number.POSITIVE_INFINITY;
    return life - (this.now() - row.receivedAt);
  }

  /** remainingMs(row) <= 0 at `now`, as a boolean: the sender asks per row, and a number is boxed. */
  expired(row: OutboxRow, now: number): boolean {
    const life = (row.properties as RowProperties | undefined)?.expiryMs ?? this.maxAgeMs;
    if (!life) return false;
    return life - (now - row.receivedAt) <= 0;
  }

  packet(row: OutboxRow, packetId: number, dup: boolean, alias = true): IPublishPacket {
    const rp = row.properties as RowProperties | undefined;
    const p: IPublishPacket = {
      cmd: 'publish',
      topic: row.topic,
      payload: rp?.stamp ? stampedPayload(row, rp.stamp) : row.payload,
      qos: row.qos,
      retain: row.retain,
      dup,
    };
    if (row.qos > 0) p.messageId = packetId;
    if (this.protocol !== 5) return p;
    const props: NonNullable<IPublishPacket['properties']> = {};
    const left = this.remainingMs(row);
    if (Number.isFinite(left)) props.messageExpiryInterval = Math.max(1, Math.ceil(left / 1000));
    const user = timesTrusted(row, rp) ? rp?.user : { ...rp?.user, ...UNSYNCHRONIZED };
    if (user && Object.keys(user).length > 0) props.userProperties = user;
    if (rp?.contentType) props.contentType = rp.contentType;
    if (rp?.utf8 !== undefined) props.payloadFormatIndicator = rp.utf8;
    if (rp?.responseTopic) props.responseTopic = rp.responseTopic;
    if (rp?.correlationData) props.correlationData = Buffer.from(rp.correlationData, 'base64');
    if (alias && this.aliasMax > 0) {
      const a = this.alias(row.topic);
      if (a !== 0) {
        props.topicAlias = Math.abs(a);
        if (a < 0) p.topic = '';
      }
    }
    if (Object.keys(props).length > 0) p.properties = props;
    return p;
  }

  /**
   * The alias for a topic on this connection: > 0 newly assigned (the PUBLISH carries topic and
   * alias), < 0 already known (alias alone, empty topic), 0 none (the broker's maximum is used up).
   */
  private alias(topic: string): number {
    const e = this.entry(topic);
    if (e.alias !== 0) return -e.alias;
    if (this.aliasCount >= this.aliasMax || !e.cached) return 0;
    // First come, first aliased: a gateway's topics are few and stable (one per device/quantity).
    e.alias = ++this.aliasCount;
    return e.alias;
  }

  private entry(topic: string): TopicEntry {
    let e = this.topics.get(topic);
    if (e) return e;
    const n = Buffer.byteLength(topic);
    const bytes = Buffer.allocUnsafeSlow(2 + n);
    bytes.writeUInt16BE(n, 0);
    bytes.write(topic, 2, 'utf8');
    // Bounded: a topic past the cap is encoded each time and never aliased (see alias()).
    e = { bytes, alias: 0, cached: this.topics.size < MAX_TOPICS };
    if (e.cached) this.topics.set(topic, e);
    return e;
  }

  /**
   * PUBLISH packets for rows, concatenated in one Buffer (one socket write). Hand-encoded: this is
   * the hot path, where mqtt-packet's generic writer cost more than the rest of the upstream side
   * (a stream write per field, debug() calls, a properties object per packet). Its bytes equal
   * mqtt-packet's (test/upstream/publish-encode.test.ts); a row with properties other than expiry
   * and payload format (user properties, content type, response topic, correlation data) is rare
   * and goes through mqtt-packet.
   */
  encode(items: readonly { row: OutboxRow; packetId: number }[], dup: boolean): Buffer {
    return this.encodeRows(
      items.map((x) => x.row),
      items.map((x) => x.packetId),
      0,
      items.length,
      dup,
    );
  }

  /**
   * encode() for rows[from, to) with their packet ids in a parallel array (ids[i] for rows[i]):
   * the sender's form, with no { row, packetId } object per message.
   */
  encodeRows(
    rows: readonly OutboxRow[],
    ids: readonly number[],
    from: number,
    to: number,
    dup: boolean,
  ): Buffer {
    const now = this.now();
    let total = 0;
    for (let i = 0; i < to - from; i++) {
      const row = rows[from + i]!;
      const packetId = ids[from + i]!;
      let p = this.plan[i];
      if (!p) {
        p = { rem: 0, expiry: -1, alias: 0, topic: undefined, generic: undefined };
        this.plan.push(p);
      }
      p.generic = undefined;
      p.topic = undefined;
      if (!this.simple(row)) {
        p.generic = mqttPacket.generate(this.packet(row, packetId, dup), { protocolVersion: this.protocol });
        total += p.generic.length;
        continue;
      }
      let rem = row.payload.length + (row.qos > 0 ? 2 : 0);
      let alias = 0;
      let expiry = -1;
      if (this.protocol === 5) {
        let props = 0;
        const life = (row.properties as RowProperties | undefined)?.expiryMs ?? this.maxAgeMs;
        if (life) {
          expiry = Math.max(1, Math.ceil((life - (now - row.receivedAt)) / 1000));
          props += 5;
        }
        if ((row.properties as RowProperties | undefined)?.utf8 !== undefined) props += 2;
        if (this.aliasMax > 0) {
          alias = this.alias(row.topic);
          if (alias !== 0) props += 3;
        }
        rem += props + 1; // property length: < 128 here, one byte
      }
      p.topic = alias < 0 ? EMPTY_TOPIC : this.entry(row.topic).bytes;
      rem += p.topic.length;
      p.rem = rem;
      p.expiry = expiry;
      p.alias = alias;
      total += 1 + varIntSize(rem) + rem;
    }
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    for (let i = 0; i < to - from; i++) {
      const row = rows[from + i]!;
      const packetId = ids[from + i]!;
      const p = this.plan[i]!;
      if (p.generic) {
        pos += p.generic.copy(out, pos);
        p.generic = undefined;
        continue;
      }
      out[pos++] = 0x30 | (dup ? 0x08 : 0) | (row.qos << 1) | (row.retain ? 1 : 0);
      pos = writeVarInt(out, pos, p.rem);
      pos += p.topic!.copy(out, pos);
      p.topic = undefined;
      if (row.qos > 0) {
        out[pos++] = packetId >> 8;
        out[pos++] = packetId & 0xff;
      }
      if (this.protocol === 5) {
        const lenAt = pos++;
        if (p.expiry >= 0) {
          out[pos++] = 0x02; // Message Expiry Interval
          out.writeUInt32BE(p.expiry, pos);
          pos += 4;
        }
        const utf8 = (row.properties as RowProperties | undefined)?.utf8;
        if (utf8 !== undefined) {
          out[pos++] = 0x01; // Payload Format Indicator
          out[pos++] = utf8 ? 1 : 0;
        }
        if (p.alias !== 0) {
          const a = Math.abs(p.alias);
          out[pos++] = 0x23; // Topic Alias
          out[pos++] = a >> 8;
          out[pos++] = a & 0xff;
        }
        out[lenAt] = pos - lenAt - 1;
      }
      pos += row.payload.copy(out, pos);
    }
    return out;
  }

  /** Whether the hand encoder covers this row (else mqtt-packet encodes it). */
  private simple(row: OutboxRow): boolean {
    if (row.payload.length > MAX_SIMPLE_PAYLOAD) return false;
    const rp = row.properties as RowProperties | undefined;
    if (rp?.stamp) return false; // its payload is built at send time
    if (this.protocol !== 5) return true;
    if (!timesTrusted(row, rp)) return false; // carries the time_quality user property
    if (rp !== undefined) {
      if (rp.contentType || rp.responseTopic || rp.correlationData) return false;
      if (rp.user && Object.keys(rp.user).length > 0) return false;
    }
    const life = rp?.expiryMs ?? this.maxAgeMs;
    // Out of range for a 4-byte interval: mqtt-packet refuses it, keep its behaviour.
    return !life || life - (this.now() - row.receivedAt) <= MAX_EXPIRY_MS;
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
    // time_field: the field, escaped at worst, and an ISO time or ms number (re-encoding never grows the rest).
    const stamp = (row.properties as RowProperties | undefined)?.stamp;
    if (stamp) n += 6 * Buffer.byteLength(stamp.field) + 40;
    if (this.protocol === 5) {
      n += 4 + 5 + 3; // property length, expiry, alias
      if (row.properties) n += Buffer.byteLength(JSON.stringify(row.properties)) + 16;
    }
    const remaining = n;
    return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4) + remaining;
  }
}
