import { decodeUtf8 } from '../../../contracts/topic.js';
import type { Flags, SnQoS, TopicIdType } from './packets.js';

const QOS_BITS: Record<number, SnQoS> = { 0: 0, 1: 1, 2: 2, 3: -1 };

/**
 * Flags of a flags byte: one shared, frozen object per byte value, built once, so decoding a PUBLISH
 * allocates no flags object. Frozen: a handler that tried to change a packet's flags would throw
 * instead of changing every later packet's.
 */
export function decodeFlags(b: number): Flags {
  return FLAGS_BY_BYTE[b & 0xff]!;
}

const FLAGS_BY_BYTE: readonly Flags[] = Array.from({ length: 256 }, (_, b) => Object.freeze(buildFlags(b)));

function buildFlags(b: number): Flags {
  return {
    dup: (b & 0x80) !== 0,
    qos: QOS_BITS[(b >> 5) & 0x03]!,
    retain: (b & 0x10) !== 0,
    will: (b & 0x08) !== 0,
    cleanSession: (b & 0x04) !== 0,
    topicIdType: (b & 0x03) as TopicIdType,
  };
}

export function encodeFlags(f: Flags): number {
  const qos = f.qos === -1 ? 3 : f.qos;
  return (
    (f.dup ? 0x80 : 0) |
    (qos << 5) |
    (f.retain ? 0x10 : 0) |
    (f.will ? 0x08 : 0) |
    (f.cleanSession ? 0x04 : 0) |
    (f.topicIdType & 0x03)
  );
}

/** All-false flags with the given overrides: handy for building packets. */
export function flags(over: Partial<Flags> = {}): Flags {
  return { dup: false, qos: 0, retain: false, will: false, cleanSession: false, topicIdType: 0, ...over };
}

/** A short topic name travels in the 2-byte topic id field: two bytes of UTF-8 (two ASCII chars, or one up to U+07FF). */
export function shortNameToId(name: string): number | undefined {
  const b = Buffer.from(name, 'utf8');
  return b.length === 2 && decodeUtf8(b) === name ? b.readUInt16BE(0) : undefined;
}

/** The short topic name in a topic id field; undefined when its two bytes are not UTF-8. */
export function shortIdToName(id: number): string | undefined {
  return decodeUtf8(Uint8Array.of((id >> 8) & 0xff, id & 0xff));
}
