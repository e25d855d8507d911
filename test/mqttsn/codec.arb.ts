import fc from 'fast-check';
import type { Flags, Packet, SnQoS, TopicIdType } from '../../adapters/mqttsn/codec/index.js';

/** fast-check arbitraries for every MQTT-SN packet, shaped so decode(encode(p)) equals p. */
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const str = fc.string({ unit: 'grapheme', maxLength: 40 });
const bytes = (maxLength = 300) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
export const flagsArb: fc.Arbitrary<Flags> = fc.record({
  dup: fc.boolean(),
  qos: fc.constantFrom<SnQoS>(-1, 0, 1, 2),
  retain: fc.boolean(),
  will: fc.boolean(),
  cleanSession: fc.boolean(),
  topicIdType: fc.constantFrom<TopicIdType>(0, 1, 2, 3),
});

const subLike = (type: 'subscribe' | 'unsubscribe') =>
  fc.tuple(flagsArb, u16, str, u16).map(
    ([flags, msgId, name, id]): Packet => ({
      type,
      flags,
      msgId,
      topic: flags.topicIdType === 0 ? name : id,
    }),
  );

const willTopicLike = (type: 'willtopic' | 'willtopicupd') =>
  fc.oneof(
    fc.constant<Packet>({ type, flags: null, topic: '' }),
    fc.record({ flags: flagsArb, topic: str }).map((r): Packet => ({ type, ...r })),
  );

export const plainPacketArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ gwId: u8, duration: u16 }).map((r): Packet => ({ type: 'advertise', ...r })),
  u8.map((radius): Packet => ({ type: 'searchgw', radius })),
  fc
    .tuple(u8, bytes(20))
    .map(([gwId, a]): Packet => (a.length ? { type: 'gwinfo', gwId, gwAdd: a } : { type: 'gwinfo', gwId })),
  fc
    .record({ flags: flagsArb, protocolId: u8, duration: u16, clientId: str })
    .map((r): Packet => ({ type: 'connect', ...r })),
  u8.map((returnCode): Packet => ({ type: 'connack', returnCode })),
  fc.constant<Packet>({ type: 'willtopicreq' }),
  willTopicLike('willtopic'),
  fc.constant<Packet>({ type: 'willmsgreq' }),
  bytes().map((msg): Packet => ({ type: 'willmsg', msg })),
  fc.record({ topicId: u16, msgId: u16, topicName: str }).map((r): Packet => ({ type: 'register', ...r })),
  fc.record({ topicId: u16, msgId: u16, returnCode: u8 }).map((r): Packet => ({ type: 'regack', ...r })),
  fc
    .record({ flags: flagsArb, topicId: u16, msgId: u16, data: bytes(600) })
    .map((r): Packet => ({ type: 'publish', ...r })),
  fc.record({ topicId: u16, msgId: u16, returnCode: u8 }).map((r): Packet => ({ type: 'puback', ...r })),
  u16.map((msgId): Packet => ({ type: 'pubcomp', msgId })),
  u16.map((msgId): Packet => ({ type: 'pubrec', msgId })),
  u16.map((msgId): Packet => ({ type: 'pubrel', msgId })),
  subLike('subscribe'),
  fc
    .record({ flags: flagsArb, topicId: u16, msgId: u16, returnCode: u8 })
    .map((r): Packet => ({ type: 'suback', ...r })),
  subLike('unsubscribe'),
  u16.map((msgId): Packet => ({ type: 'unsuback', msgId })),
  fc
    .option(
      str.filter((s) => s.length > 0),
      { nil: undefined },
    )
    .map(
      (clientId): Packet => (clientId === undefined ? { type: 'pingreq' } : { type: 'pingreq', clientId }),
    ),
  fc.constant<Packet>({ type: 'pingresp' }),
  fc
    .option(u16, { nil: undefined })
    .map(
      (duration): Packet =>
        duration === undefined ? { type: 'disconnect' } : { type: 'disconnect', duration },
    ),
  willTopicLike('willtopicupd'),
  u8.map((returnCode): Packet => ({ type: 'willtopicresp', returnCode })),
  bytes().map((msg): Packet => ({ type: 'willmsgupd', msg })),
  u8.map((returnCode): Packet => ({ type: 'willmsgresp', returnCode })),
);

export const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 4, arbitrary: plainPacketArb },
  {
    weight: 1,
    arbitrary: fc
      .record({
        radius: fc.integer({ min: 0, max: 3 }),
        nodeId: bytes(8).filter((b) => b.length > 0),
        packet: plainPacketArb,
      })
      .map((r): Packet => ({ type: 'encapsulated', ...r })),
  },
);
