import { Transform, type TransformCallback } from 'node:stream';
import type { FramerOptions } from './types.js';

/**
 * A frame is whatever arrives until the line has been silent for idleMs (Modbus-RTU style).
 * @serialport/parser-inter-byte-timeout emits a partial packet when its buffer fills, which would
 * turn one over-long burst into several bogus frames; here an over-long burst is dropped whole
 * as 'too_long' (bytes past maxLength are not kept) and the next silence starts a fresh frame.
 */
export class IdleFramer extends Transform {
  private readonly frame: Buffer;
  private len = 0;
  private overflow = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FramerOptions & { idleMs: number }) {
    super({ readableObjectMode: true });
    this.frame = Buffer.alloc(opts.maxLength);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const room = this.opts.maxLength - this.len;
    if (chunk.length > room) this.overflow = true;
    this.len += chunk.copy(this.frame, this.len, 0, Math.min(room, chunk.length));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.emitFrame(), this.opts.idleMs);
    cb();
  }

  private emitFrame(): void {
    const bytes = Buffer.from(this.frame.subarray(0, this.len));
    if (this.overflow) this.opts.onDrop('too_long', bytes);
    else if (bytes.length > 0 && !this.destroyed) this.push(bytes);
    this.len = 0;
    this.overflow = false;
  }

  override _flush(cb: TransformCallback): void {
    clearTimeout(this.timer);
    this.len = 0; // cut off by close: may be incomplete
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    cb(err);
  }
}
