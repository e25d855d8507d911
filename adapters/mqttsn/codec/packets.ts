/** MQTT-SN v1.2 message types (spec table 3). */
export const MsgType = {
  ADVERTISE: 0x00,
  SEARCHGW: 0x01,
  GWINFO: 0x02,
  CONNECT: 0x04,
  CONNACK: 0x05,
  WILLTOPICREQ: 0x06,
  WILLTOPIC: 0x07,
  WILLMSGREQ: 0x08,
  WILLMSG: 0x09,
  REGISTER: 0x0a,
  REGACK: 0x0b,
  PUBLISH: 0x0c,
  PUBACK: 0x0d,
  PUBCOMP: 0x0e,
  PUBREC: 0x0f,
  PUBREL: 0x10,
  SUBSCRIBE: 0x12,
  SUBACK: 0x13,
  UNSUBSCRIBE: 0x14,
  UNSUBACK: 0x15,
  PINGREQ: 0x16,
  PINGRESP: 0x17,
  DISCONNECT: 0x18,
  WILLTOPICUPD: 0x1a,
  WILLTOPICRESP: 0x1b,
  WILLMSGUPD: 0x1c,
  WILLMSGRESP: 0x1d,
  ENCAPSULATED: 0xfe,
} as const;

export const ReturnCode = {
  ACCEPTED: 0,
  CONGESTION: 1,
  INVALID_TOPIC_ID: 2,
  NOT_SUPPORTED: 3,
} as const;

/** Bits 1-0 of the flags byte. */
export const TopicIdType = { NORMAL: 0, PREDEFINED: 1, SHORT: 2, RESERVED: 3 } as const;
export type TopicIdType = 0 | 1 | 2 | 3;

/** MQTT-SN QoS: -1 is "publish without connection" (wire value 0b11). */
export type SnQoS = -1 | 0 | 1 | 2;

/** Every bit of the flags byte, kept whole so decode(encode(x)) = x. */
export interface Flags {
  dup: boolean;
  qos: SnQoS;
  retain: boolean;
  will: boolean;
  cleanSession: boolean;
  topicIdType: TopicIdType;
}

/** Topic of SUBSCRIBE/UNSUBSCRIBE: a name when topicIdType is normal, else the 2-byte id / short name. */
export type TopicRef = string | number;

export type Packet =
  | { type: 'advertise'; gwId: number; duration: number }
  | { type: 'searchgw'; radius: number }
  | { type: 'gwinfo'; gwId: number; gwAdd?: Buffer }
  | { type: 'connect'; flags: Flags; protocolId: number; duration: number; clientId: string }
  | { type: 'connack'; returnCode: number }
  | { type: 'willtopicreq' }
  /** flags null = the empty (2-byte) WILLTOPIC that deletes the will. */
  | { type: 'willtopic'; flags: Flags | null; topic: string }
  | { type: 'willmsgreq' }
  | { type: 'willmsg'; msg: Buffer }
  /** rawName: the name's bytes when they are not UTF-8 (topicName is then ''): answered, not dropped as malformed. */
  | { type: 'register'; topicId: number; msgId: number; topicName: string; rawName?: Buffer }
  | { type: 'regack'; topicId: number; msgId: number; returnCode: number }
  | { type: 'publish'; flags: Flags; topicId: number; msgId: number; data: Buffer }
  | { type: 'puback'; topicId: number; msgId: number; returnCode: number }
  | { type: 'pubcomp'; msgId: number }
  | { type: 'pubrec'; msgId: number }
  | { type: 'pubrel'; msgId: number }
  | { type: 'subscribe'; flags: Flags; msgId: number; topic: TopicRef }
  | { type: 'suback'; flags: Flags; topicId: number; msgId: number; returnCode: number }
  | { type: 'unsubscribe'; flags: Flags; msgId: number; topic: TopicRef }
  | { type: 'unsuback'; msgId: number }
  | { type: 'pingreq'; clientId?: string }
  | { type: 'pingresp' }
  | { type: 'disconnect'; duration?: number }
  | { type: 'willtopicupd'; flags: Flags | null; topic: string }
  | { type: 'willtopicresp'; returnCode: number }
  | { type: 'willmsgupd'; msg: Buffer }
  | { type: 'willmsgresp'; returnCode: number }
  /** Forwarder encapsulation: `packet` is the complete inner message. */
  | { type: 'encapsulated'; radius: number; nodeId: Buffer; packet: Packet };

export type PacketType = Packet['type'];
export type PacketOf<T extends PacketType> = Extract<Packet, { type: T }>;
