import { MsgType } from '../../adapters/mqttsn/codec/index.js';
import { duration, flagsByte, type Pools, payload, u16 } from './fields.js';
import type { Prng } from './prng.js';

/**
 * Raw MQTT-SN datagrams built byte by byte (not through the codec's encoder, so that they can
 * carry what the encoder would never write: invalid UTF-8, length fields that lie, reserved bits).
 */

const b8 = (n: number) => Buffer.of(n & 0xff);
const b16 = (n: number) => Buffer.of((n >> 8) & 0xff, n & 0xff);

export const ALL_TYPES = Object.values(MsgType).filter((t) => t !== MsgType.ENCAPSULATED);
/** Type bytes the spec leaves unused (0x03, 0x11, 0x19, 0x1E-0xFD, 0xFF). */
const UNUSED_TYPES = [0x03, 0x11, 0x19, 0x1e, 0x1f, 0x20, 0x7f, 0x80, 0xfd, 0xff];

/** Type byte + body of one message of `type`, fields random but shaped like the spec says. */
export function body(r: Prng, pools: Pools, type: number): Buffer {
  const rc = () => b8(r.chance(0.8) ? r.int(4) : r.int(256));
  const parts: Buffer[] = [b8(type)];
  switch (type) {
    case MsgType.ADVERTISE:
      parts.push(b8(r.int(256)), b16(duration(r)));
      break;
    case MsgType.SEARCHGW:
      parts.push(b8(r.int(256)));
      break;
    case MsgType.GWINFO:
      parts.push(b8(r.int(256)), r.bytes(r.pick([0, 0, 4, 6, 16, 30])));
      break;
    case MsgType.CONNECT:
      parts.push(b8(flagsByte(r)), b8(r.chance(0.9) ? 1 : r.int(256)), b16(duration(r)), pools.clientId(r));
      break;
    case MsgType.CONNACK:
    case MsgType.WILLTOPICRESP:
    case MsgType.WILLMSGRESP:
      parts.push(rc());
      break;
    case MsgType.WILLTOPIC:
    case MsgType.WILLTOPICUPD:
      if (r.chance(0.85)) parts.push(b8(flagsByte(r)), pools.topic(r));
      break;
    case MsgType.WILLMSG:
    case MsgType.WILLMSGUPD:
      parts.push(payload(r));
      break;
    case MsgType.REGISTER:
      parts.push(b16(r.chance(0.7) ? 0 : u16(r)), b16(u16(r)), pools.topic(r));
      break;
    case MsgType.REGACK:
    case MsgType.PUBACK:
      parts.push(b16(u16(r)), b16(u16(r)), rc());
      break;
    case MsgType.PUBLISH:
      parts.push(b8(flagsByte(r)), b16(u16(r)), b16(r.chance(0.3) ? 0 : u16(r)), payload(r));
      break;
    case MsgType.PUBCOMP:
    case MsgType.PUBREC:
    case MsgType.PUBREL:
    case MsgType.UNSUBACK:
      parts.push(b16(u16(r)));
      break;
    case MsgType.SUBSCRIBE:
    case MsgType.UNSUBSCRIBE: {
      const f = flagsByte(r);
      parts.push(b8(f), b16(u16(r)), (f & 3) === 0 ? pools.filter(r) : b16(u16(r)));
      break;
    }
    case MsgType.SUBACK:
      parts.push(b8(flagsByte(r)), b16(u16(r)), b16(u16(r)), rc());
      break;
    case MsgType.PINGREQ:
      if (r.chance(0.6)) parts.push(pools.clientId(r));
      break;
    case MsgType.DISCONNECT:
      if (r.chance(0.6)) parts.push(b16(duration(r)));
      break;
    default:
      // WILLTOPICREQ, WILLMSGREQ, PINGRESP and unused types: no body, or a few stray bytes.
      if (r.chance(0.2)) parts.push(r.bytes(r.range(1, 8)));
  }
  return Buffer.concat(parts);
}

/** Length field + message: the short form when it fits, the long form (0x01 + 16 bits) otherwise. */
export function frame(msg: Buffer, form: 'auto' | 'long' = 'auto'): Buffer {
  const n = msg.length;
  if (form === 'auto' && n + 1 <= 255) return Buffer.concat([b8(n + 1), msg]);
  return Buffer.concat([b8(0x01), b16(Math.min(n + 3, 0xffff)), msg]);
}

/** A length field that disagrees with the datagram: off by a little, zero, one, max, or random. */
function lyingFrame(r: Prng, msg: Buffer): Buffer {
  const real = msg.length;
  const lie = (n: number) =>
    r.pick([0, 1, 2, 3, n - 1, n + 1, n - 2, n + 2, n * 2, 255, 256, 0xffff, r.int(0x10000)]);
  if (r.chance(0.5) && real + 1 <= 255) return Buffer.concat([b8(lie(real + 1)), msg]);
  return Buffer.concat([b8(0x01), b16(lie(real + 3)), msg]);
}

/** Forwarder encapsulation around `inner` (a complete datagram), sometimes with a lying header. */
export function encapsulate(r: Prng, inner: Buffer): Buffer {
  const nodeId = r.bytes(
    r.weighted([
      [10, r.range(1, 8)],
      [1, 0],
      [1, r.range(9, 300)],
    ] as const),
  );
  const hdr = Buffer.concat([b8(MsgType.ENCAPSULATED), b8(r.chance(0.8) ? r.int(4) : r.int(256)), nodeId]);
  const framed = r.chance(0.9) ? frame(hdr, r.chance(0.1) ? 'long' : 'auto') : lyingFrame(r, hdr);
  return Buffer.concat([framed, inner]);
}

/** Bit flips, byte stomps, truncation, extension, insertion, deletion, or two datagrams glued. */
export function mutate(r: Prng, buf: Buffer, other: () => Buffer): Buffer {
  const b = Buffer.from(buf);
  switch (r.int(7)) {
    case 0:
      for (let i = r.range(1, 4); i > 0 && b.length; i--) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 1:
      for (let i = r.range(1, 3); i > 0 && b.length; i--)
        b[r.int(b.length)] = r.pick([0, 1, 0xff, 0xfe, r.int(256)]);
      return b;
    case 2:
      return b.subarray(0, r.int(b.length + 1));
    case 3:
      return Buffer.concat([b, r.bytes(r.range(1, 64))]);
    case 4: {
      const at = r.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), r.bytes(r.range(1, 4)), b.subarray(at)]);
    }
    case 5: {
      const at = r.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + r.range(1, 4))]);
    }
    default:
      return Buffer.concat([b, other()]);
  }
}

/** What kind of datagram random() made, for the run's tally. */
export type Kind =
  | 'valid'
  | 'long-form'
  | 'length-lie'
  | 'mutated'
  | 'encapsulated'
  | 'unused-type'
  | 'noise';

/** One datagram of any kind, message type uniform over all of MQTT-SN v1.2. */
export function randomDatagram(r: Prng, pools: Pools): { kind: Kind; buf: Buffer } {
  const msg = () => body(r, pools, r.pick(ALL_TYPES));
  const kind = r.weighted<Kind>([
    [30, 'valid'],
    [8, 'long-form'],
    [10, 'length-lie'],
    [25, 'mutated'],
    [15, 'encapsulated'],
    [4, 'unused-type'],
    [8, 'noise'],
  ]);
  switch (kind) {
    case 'valid':
      return { kind, buf: frame(msg()) };
    case 'long-form':
      return { kind, buf: frame(msg(), 'long') };
    case 'length-lie':
      return { kind, buf: lyingFrame(r, msg()) };
    case 'mutated':
      return { kind, buf: mutate(r, frame(msg()), () => frame(msg())) };
    case 'encapsulated': {
      const inner = r.weighted<() => Buffer>([
        [6, () => frame(msg())],
        [2, () => mutate(r, frame(msg()), () => frame(msg()))],
        [1, () => encapsulate(r, frame(msg()))],
        [1, () => Buffer.alloc(0)],
      ])();
      return { kind, buf: encapsulate(r, inner) };
    }
    case 'unused-type': {
      const t = r.pick(UNUSED_TYPES);
      return {
        kind,
        buf: frame(Buffer.concat([b8(t), r.bytes(r.range(0, 10))]), r.chance(0.3) ? 'long' : 'auto'),
      };
    }
    case 'noise':
      return {
        kind,
        buf: r.weighted<() => Buffer>([
          [10, () => r.bytes(r.range(0, 8))],
          [6, () => r.bytes(r.range(9, 300))],
          [1, () => r.bytes(r.range(4000, 9000))],
          [
            1,
            () =>
              Buffer.concat([
                b8(0x01),
                b16(r.range(60000, 0xffff)),
                b8(MsgType.PUBLISH),
                r.bytes(r.range(0, 60000)),
              ]),
          ],
        ])(),
      };
  }
}
