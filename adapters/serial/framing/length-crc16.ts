import { Transform, type TransformCallback } from 'node:stream';
import { crc16ccitt } from './crc16.js';
import { StaleTimer } from './stale-timer.js';
import type { PartialFramerOptions } from './types.js';

/**
 * Length-prefixed binary frames with a checksum:
 *
 *   0xAA | len (u8) | payload (len bytes) | crc16 (u16 big-endian)
 *
 * crc16 is CRC-16/CCITT-FALSE over the len byte and the payload. Payloads are 0..255 bytes (and at
 * most maxLength). Resync: bytes before a start byte are skipped (one 'framing' drop per skipped run);
 * on a CRC mismatch or an over-long len only the start byte is consumed and the scan restarts at the
 * next byte, so a real frame hidden inside a corrupt one is still found. A partial frame that sees
 * no new byte for frameTimeoutMs (a noise 0xAA announcing a long frame, then silence) is given up:
 * complete frames behind its start byte are still read, the rest is dropped as 'stale_partial', and
 * the next frame is read on its own instead of waiting for bytes that will never come.
 */
export const START = 0xaa;
const HEADER = 2;
const TRAILER = 2;

export class LengthCrc16Framer extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private readonly stale: StaleTimer;

  constructor(private readonly opts: PartialFramerOptions) {
    super({ readableObjectMode: true });
    this.stale = new StaleTimer(opts.frameTimeoutMs, () => this.dropStale(), opts.clock);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.scan();
    this.stale.touch(this.buf.length > 0);
    cb();
  }

  /** What starts at the start byte at `i`: a whole frame (its length), too little yet, or a bad one. */
  private frameAt(i: number): number | 'short' | 'too_long' | 'crc' {
    const b = this.buf;
    if (b.length < i + HEADER) return 'short';
    const len = b[i + 1]!;
    if (len > this.opts.maxLength) return 'too_long';
    const total = HEADER + len + TRAILER;
    if (b.length < i + total) return 'short';
    return crc16ccitt(b.subarray(i + 1, i + HEADER + len)) === b.readUInt16BE(i + HEADER + len)
      ? total
      : 'crc';
  }

  private scan(): void {
    for (;;) {
      const start = this.buf.indexOf(START);
      if (start === -1) {
        if (this.buf.length > 0) this.opts.onDrop('framing', this.buf);
        this.buf = Buffer.alloc(0);
        break;
      }
      if (start > 0) {
        this.opts.onDrop('framing', this.buf.subarray(0, start));
        this.buf = this.buf.subarray(start);
      }
      const at = this.frameAt(0);
      if (at === 'short') break;
      if (typeof at === 'number') {
        this.push(Buffer.from(this.buf.subarray(HEADER, at - TRAILER)));
        this.buf = this.buf.subarray(at);
        continue;
      }
      const bad = at === 'too_long' ? HEADER : HEADER + this.buf[1]! + TRAILER;
      this.opts.onDrop(at, this.buf.subarray(0, bad), 1);
      this.buf = this.buf.subarray(1);
    }
    // Copy so a long-lived tail does not pin the (possibly large) chunk it was sliced from.
    this.buf = Buffer.from(this.buf);
  }

  private dropStale(): void {
    while (!this.destroyed && this.buf.length > 0) {
      let next = this.buf.indexOf(START, 1);
      while (next !== -1 && typeof this.frameAt(next) !== 'number') next = this.buf.indexOf(START, next + 1);
      this.opts.onDrop('stale_partial', this.buf.subarray(0, next === -1 ? this.buf.length : next));
      this.buf = next === -1 ? Buffer.alloc(0) : this.buf.subarray(next);
      this.scan();
    }
  }

  override _flush(cb: TransformCallback): void {
    this.stale.cancel();
    this.buf = Buffer.alloc(0);
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.stale.cancel();
    cb(err);
  }
}

/** Build one frame (for commands, and for tests acting as the device). */
export function encodeLengthCrc16(payload: Buffer): Buffer {
  if (payload.length > 255)
    throw new RangeError(`length-crc16 payload is at most 255 bytes, got ${payload.length}`);
  const out = Buffer.alloc(HEADER + payload.length + TRAILER);
  out[0] = START;
  out[1] = payload.length;
  payload.copy(out, HEADER);
  out.writeUInt16BE(crc16ccitt(out.subarray(1, HEADER + payload.length)), HEADER + payload.length);
  return out;
}
