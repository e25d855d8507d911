import { Transform, type TransformCallback } from 'node:stream';
import type { FramerOptions } from './types.js';

// RFC 1055 bytes.
const END = 0xc0;
const ESC = 0xdb;
const ESC_END = 0xdc;
const ESC_ESC = 0xdd;

/**
 * SLIP decoder with a cap. @serialport/parser-slip-encoder's SlipDecoder has no maximum and
 * silently passes bad escapes through; here an over-long frame is dropped as 'too_long' and a
 * bad escape drops the frame as 'framing'. Either way we resynchronise at the next END.
 * Empty frames (END END, or a leading END some devices send) are ignored.
 */
export class SlipFramer extends Transform {
  private readonly frame: Buffer;
  private len = 0;
  private escaped = false;
  private bad: 'too_long' | 'framing' | null = null;

  constructor(private readonly opts: FramerOptions) {
    super({ readableObjectMode: true });
    this.frame = Buffer.alloc(opts.maxLength);
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
    cb();
  }

  private end_(): void {
    const bytes = Buffer.from(this.frame.subarray(0, this.len));
    if (this.bad) this.opts.onDrop(this.bad, bytes);
    else if (bytes.length > 0) this.push(bytes);
    this.len = 0;
    this.escaped = false;
    this.bad = null;
  }

  override _flush(cb: TransformCallback): void {
    this.len = 0; // unfinished frame at close: never complete
    cb();
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
