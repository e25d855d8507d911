import { decodeUtf8 } from '../../../contracts/topic.js';
import { decodeFlags } from './flags.js';
import { MsgType, type Packet } from './packets.js';

export type DecodeErrorReason = 'truncated' | 'oversize' | 'malformed' | 'unknown_type';
export type DecodeResult =
  | { ok: true; packet: Packet }
  | { ok: false; reason: DecodeErrorReason; detail: string };

export interface DecodeOptions {
  /** Datagrams longer than this are refused before parsing. */
  maxSize?: number;
}

/** Thrown inside the decoder only; decode() turns it into a result. */
class Bad extends Error {
  constructor(
    readonly reason: DecodeErrorReason,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * Bounds-checked reader over one message body: buf[pos, end). A range rather than a subarray of the
 * datagram: one Buffer view less per datagram.
 */
class Reader {
  constructor(
    private buf: Buffer,
    private pos: number,
    private end: number,
  ) {}
  /** Point at another body: the one reader of every datagram's body is reused (see BODY). */
  reset(buf: Buffer, pos: number, end: number): Reader {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }
  get left(): number {
    return this.end - this.pos;
  }
  u8(): number {
    if (this.left < 1) throw new Bad('truncated', 'missing byte');
    return this.buf[this.pos++]!;
  }
  u16(): number {
    if (this.left < 2) throw new Bad('truncated', 'missing 16-bit field');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  /** The rest as a copy: for what outlives the packet (client ids, will messages, node ids). */
  rest(): Buffer {
    return Buffer.from(this.view());
  }
  /**
   * The rest as a view of the datagram, no copy: for a PUBLISH payload. dgram hands each datagram a
   * Buffer of its own (never reused), so the view keeps only its own datagram alive.
   */
  view(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
  str(): string {
    // Invalid UTF-8 would be replaced silently (U+FFFD) and change the topic: refuse it.
    const s = decodeUtf8(this.rest());
    if (s === undefined) throw new Bad('malformed', 'invalid UTF-8');
    return s;
  }
  done(): void {
    if (this.left !== 0) throw new Bad('malformed', `${this.left} trailing bytes`);
  }
}

/**
 * The reader of message bodies, one for the process: decoding is synchronous and a body is read to
 * its end before parse() returns (a packet keeps no reference to it), so no datagram can see
 * another's position. An encapsulation header gets a reader of its own.
 */
const EMPTY = Buffer.alloc(0);
const BODY = new Reader(EMPTY, 0, 0);

/** Reads the length field; returns [total length, header size]. */
function lengthOf(buf: Buffer): [number, number] {
  if (buf.length < 2) throw new Bad('truncated', 'shorter than a header');
  if (buf[0] !== 0x01) return [buf[0]!, 1];
  if (buf.length < 4) throw new Bad('truncated', 'short long-form header');
  return [buf.readUInt16BE(1), 3];
}

function parse(buf: Buffer, nested: boolean): Packet {
  const [len, hdr] = lengthOf(buf);
  if (len < hdr + 1) throw new Bad('malformed', `length ${len} below header size`);
  const type = buf[hdr]!;
  if (type === MsgType.ENCAPSULATED) {
    if (nested) throw new Bad('malformed', 'nested encapsulation');
    if (buf.length < len) throw new Bad('truncated', `encapsulation header says ${len}, got ${buf.length}`);
    const r = new Reader(buf, hdr + 1, len);
    const ctrl = r.u8();
    const nodeId = r.rest();
    if (nodeId.length === 0) throw new Bad('malformed', 'empty wireless node id');
    if (len === buf.length) throw new Bad('truncated', 'no encapsulated message');
    return { type: 'encapsulated', radius: ctrl & 0x03, nodeId, packet: parse(buf.subarray(len), true) };
  }
  if (len > buf.length) throw new Bad('truncated', `length field says ${len}, got ${buf.length}`);
  if (len < buf.length) throw new Bad('malformed', `length field says ${len}, got ${buf.length}`);
  const r = BODY.reset(buf, hdr + 1, buf.length);
  const p = body(type, r);
  r.done();
  BODY.reset(EMPTY, 0, 0); // keep no datagram alive until the next one
  return p;
}

function body(type: number, r: Reader): Packet {
  switch (type) {
    case MsgType.ADVERTISE:
      return { type: 'advertise', gwId: r.u8(), duration: r.u16() };
    case MsgType.SEARCHGW:
      return { type: 'searchgw', radius: r.u8() };
    case MsgType.GWINFO: {
      const gwId = r.u8();
      return r.left ? { type: 'gwinfo', gwId, gwAdd: r.rest() } : { type: 'gwinfo', gwId };
    }
    case MsgType.CONNECT:
      return {
        type: 'connect',
        flags: decodeFlags(r.u8()),
        protocolId: r.u8(),
        duration: r.u16(),
        clientId: r.str(),
      };
    case MsgType.CONNACK:
      return { type: 'connack', returnCode: r.u8() };
    case MsgType.WILLTOPICREQ:
      return { type: 'willtopicreq' };
    case MsgType.WILLTOPIC:
    case MsgType.WILLTOPICUPD: {
      const t = type === MsgType.WILLTOPIC ? 'willtopic' : 'willtopicupd';
      if (r.left === 0) return { type: t, flags: null, topic: '' };
      return { type: t, flags: decodeFlags(r.u8()), topic: r.str() };
    }
    case MsgType.WILLMSGREQ:
      return { type: 'willmsgreq' };
    case MsgType.WILLMSG:
      return { type: 'willmsg', msg: r.rest() };
    case MsgType.REGISTER: {
      const topicId = r.u16();
      const msgId = r.u16();
      // A name that is not UTF-8 still gets a REGACK (rc "not supported") rather than silence.
      const rawName = r.rest();
      const topicName = decodeUtf8(rawName);
      return topicName === undefined
        ? { type: 'register', topicId, msgId, topicName: '', rawName }
        : { type: 'register', topicId, msgId, topicName };
    }
    case MsgType.REGACK:
      return { type: 'regack', topicId: r.u16(), msgId: r.u16(), returnCode: r.u8() };
    case MsgType.PUBLISH:
      return {
        type: 'publish',
        flags: decodeFlags(r.u8()),
        topicId: r.u16(),
        msgId: r.u16(),
        data: r.view(),
      };
    case MsgType.PUBACK:
      return { type: 'puback', topicId: r.u16(), msgId: r.u16(), returnCode: r.u8() };
    case MsgType.PUBCOMP:
      return { type: 'pubcomp', msgId: r.u16() };
    case MsgType.PUBREC:
      return { type: 'pubrec', msgId: r.u16() };
    case MsgType.PUBREL:
      return { type: 'pubrel', msgId: r.u16() };
    case MsgType.SUBSCRIBE:
    case MsgType.UNSUBSCRIBE: {
      const t = type === MsgType.SUBSCRIBE ? 'subscribe' : 'unsubscribe';
      const flags = decodeFlags(r.u8());
      const msgId = r.u16();
      if (flags.topicIdType === 0) return { type: t, flags, msgId, topic: r.str() };
      return { type: t, flags, msgId, topic: r.u16() };
    }
    case MsgType.SUBACK:
      return {
        type: 'suback',
        flags: decodeFlags(r.u8()),
        topicId: r.u16(),
        msgId: r.u16(),
        returnCode: r.u8(),
      };
    case MsgType.UNSUBACK:
      return { type: 'unsuback', msgId: r.u16() };
    case MsgType.PINGREQ: {
      if (r.left === 0) return { type: 'pingreq' };
      return { type: 'pingreq', clientId: r.str() };
    }
    case MsgType.PINGRESP:
      return { type: 'pingresp' };
    case MsgType.DISCONNECT:
      return r.left === 0 ? { type: 'disconnect' } : { type: 'disconnect', duration: r.u16() };
    case MsgType.WILLTOPICRESP:
      return { type: 'willtopicresp', returnCode: r.u8() };
    case MsgType.WILLMSGUPD:
      return { type: 'willmsgupd', msg: r.rest() };
    case MsgType.WILLMSGRESP:
      return { type: 'willmsgresp', returnCode: r.u8() };
    default:
      throw new Bad('unknown_type', `message type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/** Decodes one datagram. Never throws: malformed, truncated, oversize input gives { ok: false }. */
export function decode(buf: Buffer, opts: DecodeOptions = {}): DecodeResult {
  const max = opts.maxSize ?? 0xffff;
  if (buf.length > max) return { ok: false, reason: 'oversize', detail: `${buf.length} bytes > ${max}` };
  try {
    return { ok: true, packet: parse(buf, false) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, reason: e.reason, detail: e.message };
    return { ok: false, reason: 'malformed', detail: String(e) };
  }
}
