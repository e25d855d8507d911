import { Transform, type TransformCallback } from 'node:stream';
import type { FramerOptions } from './types.js';

/**
 * Splits on a delimiter, like @serialport/parser-delimiter, but with a cap: that parser buffers
 * forever when the delimiter never comes (line noise, wrong baud). A line longer than maxLength is
 * dropped once and the rest of it is discarded up to the next delimiter, where we resynchronise.
 * Emits one Buffer per line (object mode, so consumers never see two lines merged).
 */
export class LineFramer extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(
    private readonly delimiter: Buffer,
    private readonly opts: FramerOptions,
  ) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const d = this.delimiter;
    for (;;) {
      const at = this.buf.indexOf(d);
      if (at === -1) break;
      const frame = this.buf.subarray(0, at);
      this.buf = this.buf.subarray(at + d.length);
      if (this.discarding)
        this.discarding = false; // tail of a line already counted as too long
      else if (frame.length > this.opts.maxLength) this.opts.onDrop('too_long', frame);
      else if (frame.length > 0) this.push(Buffer.from(frame));
    }
    // Without a delimiter in sight, keep at most what could still be a line plus a split delimiter.
    if (this.buf.length > this.opts.maxLength + d.length - 1) {
      if (!this.discarding) this.opts.onDrop('too_long', this.buf);
      this.discarding = true;
    }
    if (this.discarding) this.buf = Buffer.from(this.buf.subarray(this.buf.length - (d.length - 1)));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    // A partial line at close (unplug) is not a frame: the device never finished it.
    this.buf = Buffer.alloc(0);
    cb();
  }
}
