import { encodeFlags } from './flags.js';
import { MsgType, type Packet, type PacketOf, type TopicRef } from './packets.js';

const u8 = (n: number) => Buffer.of(n & 0xff);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
};
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const topicRef = (t: TopicRef) => (typeof t === 'string' ? utf8(t) : u16(t));

/** Type byte + body of one packet, without the length field. */
function body(p: Packet): Buffer[] {
  switch (p.type) {
    case 'advertise':
      return [u8(MsgType.ADVERTISE), u8(p.gwId), u16(p.duration)];
    case 'searchgw':
      return [u8(MsgType.SEARCHGW), u8(p.radius)];
    case 'gwinfo':
      return [u8(MsgType.GWINFO), u8(p.gwId), p.gwAdd ?? Buffer.alloc(0)];
    case 'connect':
      return [
        u8(MsgType.CONNECT),
        u8(encodeFlags(p.flags)),
        u8(p.protocolId),
        u16(p.duration),
        utf8(p.clientId),
      ];
    case 'connack':
      return [u8(MsgType.CONNACK), u8(p.returnCode)];
    case 'willtopicreq':
      return [u8(MsgType.WILLTOPICREQ)];
    case 'willtopic':
    case 'willtopicupd': {
      const t = u8(p.type === 'willtopic' ? MsgType.WILLTOPIC : MsgType.WILLTOPICUPD);
      return p.flags ? [t, u8(encodeFlags(p.flags)), utf8(p.topic)] : [t];
    }
    case 'willmsgreq':
      return [u8(MsgType.WILLMSGREQ)];
    case 'willmsg':
      return [u8(MsgType.WILLMSG), p.msg];
    case 'register':
      return [u8(MsgType.REGISTER), u16(p.topicId), u16(p.msgId), p.rawName ?? utf8(p.topicName)];
    case 'regack':
      return [u8(MsgType.REGACK), u16(p.topicId), u16(p.msgId), u8(p.returnCode)];
    case 'publish':
      return [u8(MsgType.PUBLISH), u8(encodeFlags(p.flags)), u16(p.topicId), u16(p.msgId), p.data];
    case 'puback':
      return [u8(MsgType.PUBACK), u16(p.topicId), u16(p.msgId), u8(p.returnCode)];
    case 'pubcomp':
      return [u8(MsgType.PUBCOMP), u16(p.msgId)];
    case 'pubrec':
      return [u8(MsgType.PUBREC), u16(p.msgId)];
    case 'pubrel':
      return [u8(MsgType.PUBREL), u16(p.msgId)];
    case 'subscribe':
      return [u8(MsgType.SUBSCRIBE), u8(encodeFlags(p.flags)), u16(p.msgId), topicRef(p.topic)];
    case 'suback':
      return [u8(MsgType.SUBACK), u8(encodeFlags(p.flags)), u16(p.topicId), u16(p.msgId), u8(p.returnCode)];
    case 'unsubscribe':
      return [u8(MsgType.UNSUBSCRIBE), u8(encodeFlags(p.flags)), u16(p.msgId), topicRef(p.topic)];
    case 'unsuback':
      return [u8(MsgType.UNSUBACK), u16(p.msgId)];
    case 'pingreq':
      return [u8(MsgType.PINGREQ), utf8(p.clientId ?? '')];
    case 'pingresp':
      return [u8(MsgType.PINGRESP)];
    case 'disconnect':
      return p.duration === undefined ? [u8(MsgType.DISCONNECT)] : [u8(MsgType.DISCONNECT), u16(p.duration)];
    case 'willtopicresp':
      return [u8(MsgType.WILLTOPICRESP), u8(p.returnCode)];
    case 'willmsgupd':
      return [u8(MsgType.WILLMSGUPD), p.msg];
    case 'willmsgresp':
      return [u8(MsgType.WILLMSGRESP), u8(p.returnCode)];
    case 'encapsulated':
      // Handled in encode(): its length field covers only the header.
      throw new Error('encapsulated has no plain body');
  }
}

/** Prefix with the 1-byte length, or 0x01 + 2-byte length once the packet reaches 256 bytes. */
function frame(parts: Buffer[]): Buffer {
  const n = parts.reduce((s, b) => s + b.length, 0);
  if (n + 1 <= 255) return Buffer.concat([u8(n + 1), ...parts]);
  if (n + 3 > 0xffff) throw new RangeError(`MQTT-SN packet too long: ${n + 3} bytes`);
  return Buffer.concat([u8(0x01), u16(n + 3), ...parts]);
}

/**
 * The acks a device gets for every message, written straight into one buffer: the generic path
 * allocates a Buffer per field plus the concat, per message (the hot path of the uplink).
 */
function encodeAck(p: Packet): Buffer | undefined {
  switch (p.type) {
    case 'regack':
    case 'puback': {
      // Same layout: length, type, topic id, msg id, return code.
      const b = Buffer.allocUnsafe(7);
      b[0] = 7;
      b[1] = p.type === 'regack' ? MsgType.REGACK : MsgType.PUBACK;
      b.writeUInt16BE(p.topicId, 2);
      b.writeUInt16BE(p.msgId, 4);
      b[6] = p.returnCode & 0xff;
      return b;
    }
    case 'pubrec':
    case 'pubcomp':
    case 'pubrel': {
      const b = Buffer.allocUnsafe(4);
      b[0] = 4;
      b[1] = p.type === 'pubrec' ? MsgType.PUBREC : p.type === 'pubcomp' ? MsgType.PUBCOMP : MsgType.PUBREL;
      b.writeUInt16BE(p.msgId, 2);
      return b;
    }
    default:
      return undefined;
  }
}

/** An ack for a device behind a forwarder: the encapsulation header and the ack in one buffer. */
function encodeEncapsulatedAck(p: PacketOf<'encapsulated'>): Buffer | undefined {
  const header = 3 + p.nodeId.length;
  if (header > 255) return undefined;
  const inner = encodeAck(p.packet);
  if (!inner) return undefined;
  const b = Buffer.allocUnsafe(header + inner.length);
  b[0] = header;
  b[1] = MsgType.ENCAPSULATED;
  b[2] = p.radius & 0x03;
  p.nodeId.copy(b, 3);
  inner.copy(b, header);
  return b;
}

export function encode(p: Packet): Buffer {
  const ack = p.type === 'encapsulated' ? encodeEncapsulatedAck(p) : encodeAck(p);
  return ack ?? encodeGeneric(p);
}

/** Every packet through the field-by-field encoder (the acks' fast paths must give the same bytes). */
export function encodeGeneric(p: Packet): Buffer {
  if (p.type === 'encapsulated') {
    const header = frame([u8(MsgType.ENCAPSULATED), u8(p.radius & 0x03), p.nodeId]);
    return Buffer.concat([header, encodeGeneric(p.packet)]);
  }
  return frame(body(p));
}
