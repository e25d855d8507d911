import { Transform, type TransformCallback } from 'node:stream';
import { StaleTimer } from './stale-timer.js';
import type { PartialFramerOptions } from './types.js';

// RFC 1055 bytes.
const END = 0xc0;
const ESC = 0xdb;
const ESC_END = 0xdc;
const ESC_ESC = 0xdd;

/**
 * SLIP decoder with a cap. @serialport/parser-slip-encoder's SlipDecoder has no maximum and
 * silently passes bad escapes through; here an over-long frame is dropped as 'too_long' and a
 * bad escape drops the frame as 'framing'. Either way we resynchronise at the next END, or
 * after frameTimeoutMs without a byte: a partial frame left by line noise is then dropped as
 * 'stale_partial', so a device that sends no leading END still gets its next frame through whole.
 * Empty frames (END END, or a leading END some devices send) are ignored.
 */
export class SlipFramer extends Transform {
  private readonly frame: Buffer;
  private len = 0;
  private escaped = false;
  private bad: 'too_long' | 'framing' | null = null;
  private readonly stale: StaleTimer;

  constructor(private readonly opts: PartialFramerOptions) {
    super({ readableObjectMode: true });
    this.frame = Buffer.alloc(opts.maxLength);
    this.stale = new StaleTimer(opts.frameTimeoutMs, () => this.dropStale(), opts.clock);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    for (const byte of chunk) {
      if (byte === END) {
        this.end_();
        continue;
      }
      if (this.bad) continue;
      let b = byte;
      if (this.escaped) {
        this.escaped = false;
        if (b === ESC_END) b = END;
        else if (b === ESC_ESC) b = ESC;
        else {
          this.bad = 'framing';
          continue;
        }
      } else if (b === ESC) {
        this.escaped = true;
        continue;
      }
      if (this.len >= this.opts.maxLength) this.bad = 'too_long';
      else this.frame[this.len++] = b;
    }
    this.stale.touch(this.len > 0 || this.escaped || this.bad !== null);
    cb();
  }

  private dropStale(): void {
    if (this.destroyed) return;
    // Counted once: a frame already known bad keeps its reason; a merely unfinished one is stale.
    this.opts.onDrop(this.bad ?? 'stale_partial', Buffer.from(this.frame.subarray(0, this.len)));
    this.reset();
  }

  private end_(): void {
    const bytes = Buffer.from(this.frame.subarray(0, this.len));
    if (this.bad) this.opts.onDrop(this.bad, bytes);
    else if (bytes.length > 0) this.push(bytes);
    this.reset();
  }

  private reset(): void {
    this.len = 0;
    this.escaped = false;
    this.bad = null;
  }

  override _flush(cb: TransformCallback): void {
    this.stale.cancel();
    this.reset(); // unfinished frame at close: never complete
    cb();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.stale.cancel();
    cb(err);
  }
}

/** SLIP-encode one frame (RFC 1055), with a leading END to flush any line noise at the receiver. */
export function slipEncode(payload: Buffer): Buffer {
  const out: number[] = [END];
  for (const b of payload) {
    if (b === END) out.push(ESC, ESC_END);
    else if (b === ESC) out.push(ESC, ESC_ESC);
    else out.push(b);
  }
  out.push(END);
  return Buffer.from(out);
}
