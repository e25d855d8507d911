import type { ByteOrder, PointType } from './config.js';

/** A decoded raw value: number for <= 53-bit exact types and floats, bigint for 64-bit integers. */
export type RawValue = number | bigint | boolean | string;

/**
 * Wire words <-> words in ABCD order. CDAB and DCBA send the low word first; BADC and DCBA swap the
 * two bytes of each word. Both steps are their own inverse, so one function serves both directions.
 */
function reorder(words: readonly number[], order: ByteOrder): number[] {
  const seq = order === 'CDAB' || order === 'DCBA' ? [...words].reverse() : [...words];
  return order === 'BADC' || order === 'DCBA' ? seq.map((w) => ((w & 0xff) << 8) | ((w >> 8) & 0xff)) : seq;
}

/** Registers as they came off the wire -> the value's bytes, most significant first. */
export function orderBytes(words: readonly number[], order: ByteOrder): Buffer {
  const out = Buffer.alloc(words.length * 2);
  reorder(words, order).forEach((w, i) => {
    out.writeUInt16BE(w & 0xffff, i * 2);
  });
  return out;
}

/** The value's bytes, most significant first -> wire words in `order`. */
export function toWords(bytes: Buffer, order: ByteOrder): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push(bytes.readUInt16BE(i));
  return reorder(words, order);
}

/** Decode one register-based point (bool on a register: any non-zero value, or one bit). */
export function decodeRegisters(
  words: readonly number[],
  type: PointType,
  order: ByteOrder,
  bit?: number,
): RawValue {
  const b = orderBytes(words, order);
  switch (type) {
    case 'bool':
      return bit === undefined ? b.readUInt16BE(0) !== 0 : ((b.readUInt16BE(0) >> bit) & 1) === 1;
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'int64':
      return b.readBigInt64BE(0);
    case 'uint64':
      return b.readBigUInt64BE(0);
    case 'float64':
      return b.readDoubleBE(0);
    case 'string':
      // Devices pad with NULs or spaces.
      return b.toString('latin1').replace(/\0.*$/s, '').trimEnd();
  }
}

/** Encode a raw value into wire words; throws a RangeError when it does not fit the type. */
export function encodeRegisters(raw: RawValue, type: PointType, order: ByteOrder, length = 1): number[] {
  const size = type === 'string' ? length * 2 : registerBytes(type);
  const b = Buffer.alloc(size);
  const int = (min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new RangeError(`${String(raw)} does not fit ${type}`);
    return n;
  };
  const big = (min: bigint, max: bigint) => {
    let n: bigint;
    try {
      n = typeof raw === 'bigint' ? raw : BigInt(raw as number | string);
    } catch {
      throw new RangeError(`${String(raw)} does not fit ${type}`);
    }
    if (n < min || n > max) throw new RangeError(`${String(raw)} does not fit ${type}`);
    return n;
  };
  switch (type) {
    case 'bool':
      b.writeUInt16BE(raw === true || raw === 1 ? 1 : 0);
      break;
    case 'int16':
      b.writeInt16BE(int(-0x8000, 0x7fff));
      break;
    case 'uint16':
      b.writeUInt16BE(int(0, 0xffff));
      break;
    case 'int32':
      b.writeInt32BE(int(-0x80000000, 0x7fffffff));
      break;
    case 'uint32':
      b.writeUInt32BE(int(0, 0xffffffff));
      break;
    case 'float32':
      b.writeFloatBE(Number(raw));
      break;
    case 'int64':
      b.writeBigInt64BE(big(-(2n ** 63n), 2n ** 63n - 1n));
      break;
    case 'uint64':
      b.writeBigUInt64BE(big(0n, 2n ** 64n - 1n));
      break;
    case 'float64':
      b.writeDoubleBE(Number(raw));
      break;
    case 'string': {
      const text = Buffer.from(String(raw), 'latin1');
      if (text.length > size) throw new RangeError(`"${String(raw)}" is longer than ${size} characters`);
      text.copy(b);
      break;
    }
  }
  return toWords(b, order);
}

function registerBytes(type: PointType): number {
  if (type === 'int32' || type === 'uint32' || type === 'float32') return 4;
  if (type === 'int64' || type === 'uint64' || type === 'float64') return 8;
  return 2;
}
