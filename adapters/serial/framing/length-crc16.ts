import { Transform, type TransformCallback } from 'node:stream';
import { crc16ccitt } from './crc16.js';
import type { FramerOptions } from './types.js';

/**
 * Length-prefixed binary frames with a checksum:
 *
 *   0xAA | len (u8) | payload (len bytes) | crc16 (u16 big-endian)
 *
 * crc16 is CRC-16/CCITT-FALSE over the len byte and the payload. Payloads are 0..255 bytes (and at
 * most maxLength). Resync: bytes before a start byte are skipped (one 'framing' drop per skipped run);
 * on a CRC mismatch or an over-long len only the start byte is consumed and the scan restarts at the
 * next byte, so a real frame hidden inside a corrupt one is still found. A partial frame that stalls
 * for stallMs (a noise 0xAA announcing a long frame, then silence) is treated the same way, so a good
 * frame behind it is not held until more bytes happen to arrive.
 */
export const START = 0xaa;
const HEADER = 2;
const TRAILER = 2;

export class LengthCrc16Framer extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private stall: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FramerOptions & { stallMs: number }) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.scan();
    cb();
  }

  private scan(): void {
    clearTimeout(this.stall);
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
      if (this.buf.length < HEADER) break;
      const len = this.buf[1]!;
      if (len > this.opts.maxLength) {
        this.opts.onDrop('too_long', this.buf.subarray(0, HEADER));
        this.buf = this.buf.subarray(1);
        continue;
      }
      const total = HEADER + len + TRAILER;
      if (this.buf.length < total) break;
      const body = this.buf.subarray(1, HEADER + len);
      if (crc16ccitt(body) !== this.buf.readUInt16BE(HEADER + len)) {
        this.opts.onDrop('crc', this.buf.subarray(0, total));
        this.buf = this.buf.subarray(1);
        continue;
      }
      this.push(Buffer.from(body.subarray(1)));
      this.buf = this.buf.subarray(total);
    }
    // Copy so a long-lived tail does not pin the (possibly large) chunk it was sliced from.
    this.buf = Buffer.from(this.buf);
    if (this.buf.length > 0) this.stall = setTimeout(() => this.unstall(), this.opts.stallMs);
  }

  private unstall(): void {
    if (this.destroyed || this.buf.length === 0) return;
    this.opts.onDrop('framing', this.buf.subarray(0, Math.min(this.buf.length, HEADER + 255 + TRAILER)));
    this.buf = this.buf.subarray(1);
    this.scan();
  }

  override _flush(cb: TransformCallback): void {
    clearTimeout(this.stall);
    this.buf = Buffer.alloc(0);
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.stall);
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
