import { Transform, type TransformCallback } from 'node:stream';
import { StaleTimer } from './stale-timer.js';
import type { PartialFramerOptions } from './types.js';

/**
 * Splits on a delimiter, like @serialport/parser-delimiter, but with a cap: that parser buffers
 * forever when the delimiter never comes (line noise, wrong baud). A line longer than maxLength is
 * dropped once and the rest of it is discarded up to the next delimiter. A partial line that sees
 * no new byte for frameTimeoutMs is dropped ('stale_partial'): noise that ended mid-line would
 * otherwise be glued to the front of the next real line.
 * Emits one Buffer per line (object mode, so consumers never see two lines merged).
 */
export class LineFramer extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private discarding = false;
  private readonly stale: StaleTimer;

  constructor(
    private readonly delimiter: Buffer,
    private readonly opts: PartialFramerOptions,
  ) {
    super({ readableObjectMode: true });
    this.stale = new StaleTimer(opts.frameTimeoutMs, () => this.dropStale(), opts.clock);
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
    else if (this.buf.length > 0) this.buf = Buffer.from(this.buf); // do not pin the whole chunk
    this.stale.touch(this.buf.length > 0 || this.discarding);
    cb();
  }

  private dropStale(): void {
    if (this.destroyed) return;
    // The tail of an over-long line was counted as too_long already; only the state is reset.
    if (!this.discarding && this.buf.length > 0) this.opts.onDrop('stale_partial', this.buf);
    this.buf = Buffer.alloc(0);
    this.discarding = false;
  }

  override _flush(cb: TransformCallback): void {
    // A partial line at close (unplug) is not a frame: the device never finished it.
    this.stale.cancel();
    this.buf = Buffer.alloc(0);
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.stale.cancel();
    cb(err);
  }
}
