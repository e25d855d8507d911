import type { Transform } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLengthCrc16, LengthCrc16Framer, START } from '../../adapters/serial/framing/length-crc16.js';
import { LineFramer } from '../../adapters/serial/framing/line.js';
import { SlipFramer, slipEncode } from '../../adapters/serial/framing/slip.js';
import type { DropReason } from '../../adapters/serial/framing/types.js';
import { FakeClock } from './fake-clock.js';

// The framers alone, time stepped by hand: many seeds and noise lengths in milliseconds of real time.
const T = 300; // frame_timeout
const MAX = 255;
type Kind = 'line' | 'slip' | 'length-crc16';
const KINDS: Kind[] = ['line', 'slip', 'length-crc16'];

const tick = () => new Promise<void>((r) => setImmediate(r));

function framer(kind: Kind) {
  const clock = new FakeClock();
  const frames: Buffer[] = [];
  const drops: DropReason[] = [];
  const opts = { maxLength: MAX, frameTimeoutMs: T, clock, onDrop: (r: DropReason) => void drops.push(r) };
  const f: Transform =
    kind === 'line'
      ? new LineFramer(Buffer.from('\n'), opts)
      : kind === 'slip'
        ? new SlipFramer(opts)
        : new LengthCrc16Framer(opts);
  f.on('data', (b: Buffer) => frames.push(b));
  const stale = () => drops.filter((d) => d === 'stale_partial').length;
  /** Write chunks with a pause before each (clock stepped); settles stream callbacks after each step. */
  const feed = async (chunks: { bytes: Buffer; pause: number }[]) => {
    for (const c of chunks) {
      clock.advance(c.pause);
      await tick();
      f.write(c.bytes);
      await tick();
    }
  };
  const wait = async (ms: number) => {
    clock.advance(ms);
    await tick();
  };
  return { f, clock, frames, drops, stale, feed, wait };
}

/** One good frame as its device would send it: slip without the leading END some devices omit. */
function encode(kind: Kind, payload: Buffer): Buffer {
  if (kind === 'line') return Buffer.concat([payload, Buffer.from('\n')]);
  if (kind === 'slip') return slipEncode(payload).subarray(1);
  return encodeLengthCrc16(payload);
}

const textPayload = fc
  .string({
    minLength: 1,
    maxLength: 60,
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789:. '),
  })
  .map((s) => Buffer.from(s));
const binPayload = fc.uint8Array({ minLength: 1, maxLength: 60 }).map((a) => Buffer.from(a));
const payloadFor = (kind: Kind) => (kind === 'line' ? textPayload : binPayload);

/** Bytes that leave the framer holding an unfinished frame, whatever the noise before them did. */
function midFrameTail(kind: Kind): fc.Arbitrary<Buffer> {
  const bytesWithout = (...no: number[]) =>
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => !no.includes(b))));
  if (kind === 'line')
    return bytesWithout(0x0a).map((t) => Buffer.concat([Buffer.from('\n'), t, Buffer.from('x')]));
  if (kind === 'slip')
    return bytesWithout(0xc0, 0xdb).map((t) => Buffer.concat([Buffer.from([0xc0]), t, Buffer.from('x')]));
  // A start byte announcing more bytes than follow.
  return fc
    .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: MAX }))
    .chain(([have, extra]) =>
      fc
        .uint8Array({ minLength: have, maxLength: have })
        .map((body) => Buffer.from([START, Math.min(MAX, have + extra), ...body])),
    )
    .filter((t) => t.length - 2 < t[1]! + 2);
}

/** Split bytes into chunks with pauses shorter than frame_timeout between them. */
function chunked(bytes: Buffer, cuts: number[], pauses: number[]) {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: { bytes: Buffer; pause: number }[] = [];
  let from = 0;
  for (const [i, c] of [...at, bytes.length].entries()) {
    if (c > from) out.push({ bytes: bytes.subarray(from, c), pause: pauses[i % pauses.length] ?? 0 });
    from = Math.max(from, c);
  }
  return out;
}
const cuts = fc.array(fc.nat(), { maxLength: 12 });
const shortPauses = fc.array(fc.integer({ min: 0, max: T - 1 }), { minLength: 1, maxLength: 12 });

describe.each(KINDS)('%s framer: a partial frame goes stale after frame_timeout', (kind) => {
  it('noise ending mid-frame, a pause longer than frame_timeout, one good frame: delivered exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        midFrameTail(kind),
        payloadFor(kind),
        cuts,
        shortPauses,
        fc.integer({ min: T, max: 10 * T }),
        async (noise, tail, payload, cutAt, pauses, gap) => {
          const h = framer(kind);
          await h.feed(chunked(Buffer.concat([Buffer.from(noise), tail]), cutAt, pauses));
          const staleBefore = h.stale();
          await h.wait(gap);
          expect(h.stale()).toBe(staleBefore + 1); // the unfinished tail, dropped and counted once
          const seen = h.frames.length;
          await h.feed(chunked(encode(kind, payload), cutAt, pauses));
          await h.wait(3 * T);
          expect(h.frames.slice(seen)).toEqual([payload]);
          expect(h.stale()).toBe(staleBefore + 1);
          expect(h.clock.pending).toBe(0); // nothing held, so no timer left running
          h.f.destroy();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a good frame in pieces with pauses shorter than frame_timeout is delivered whole', async () => {
    await fc.assert(
      fc.asyncProperty(payloadFor(kind), cuts, shortPauses, async (payload, cutAt, pauses) => {
        const h = framer(kind);
        await h.feed(chunked(encode(kind, payload), cutAt, pauses));
        await h.wait(3 * T);
        expect(h.frames).toEqual([payload]);
        expect(h.drops).toEqual([]);
        h.f.destroy();
      }),
      { numRuns: 300 },
    );
  });

  it('the timer counts from the last byte: a partial frame kept alive by bytes is not cut', async () => {
    const h = framer(kind);
    const frame = encode(kind, Buffer.from('abc:1'));
    // One byte every T-1 ms: the whole frame spans many frame_timeouts, but no single gap is one.
    await h.feed([...frame].map((b) => ({ bytes: Buffer.from([b]), pause: T - 1 })));
    await h.wait(T);
    expect(h.frames.map(String)).toEqual(['abc:1']);
    expect(h.drops).toEqual([]);
  });

  it('an unfinished frame is dropped at exactly frame_timeout after its last byte, not before', async () => {
    const h = framer(kind);
    const frame = encode(kind, Buffer.from('abc:1'));
    await h.feed([{ bytes: frame.subarray(0, 4), pause: 0 }]);
    await h.wait(T - 1);
    expect(h.stale()).toBe(0);
    await h.wait(1);
    expect(h.stale()).toBe(1);
    expect(h.frames).toEqual([]);
  });
});

describe('line framer after an over-long line', () => {
  it('starts afresh after frame_timeout: the next line is not taken for the tail of the long one', async () => {
    const h = framer('line');
    await h.feed([{ bytes: Buffer.alloc(MAX * 3, 0x55), pause: 0 }]);
    expect(h.drops).toEqual(['too_long']);
    await h.wait(T);
    await h.feed([{ bytes: Buffer.from('temp:21 humi:40\n'), pause: 0 }]);
    expect(h.frames.map(String)).toEqual(['temp:21 humi:40']);
    expect(h.drops).toEqual(['too_long']); // already counted once; the gap only resets the state
  });
});

describe('length-crc16 resynchronises by scanning for the next start byte', () => {
  const good = encodeLengthCrc16(Buffer.from('temp=21.5'));

  it('after a CRC failure: the frame right behind it is read at once, no timeout needed', async () => {
    const h = framer('length-crc16');
    const bad = Buffer.from(encodeLengthCrc16(Buffer.from('temp=99')));
    bad[bad.length - 1]! ^= 0x01;
    await h.feed([{ bytes: Buffer.concat([bad, good]), pause: 0 }]);
    expect(h.frames.map(String)).toEqual(['temp=21.5']);
    expect(h.drops).toContain('crc');
    expect(h.stale()).toBe(0);
  });

  it('after a length that cannot be right (over max_length): the next frame is read at once', async () => {
    const h = framer('length-crc16');
    const f = new LengthCrc16Framer({
      maxLength: 16,
      frameTimeoutMs: T,
      clock: h.clock,
      onDrop: (r) => void h.drops.push(r),
    });
    f.on('data', (b: Buffer) => h.frames.push(b));
    f.write(Buffer.concat([Buffer.from([START, 200, 1, 2, 3]), good]));
    await tick();
    expect(h.frames.map(String)).toEqual(['temp=21.5']);
    expect(h.drops).toContain('too_long');
    f.destroy();
  });

  it('a noise start byte whose length ends inside the good frame: CRC fails, rescan finds the frame at once', async () => {
    const h = framer('length-crc16');
    await h.feed([{ bytes: Buffer.concat([Buffer.from([START, 3, 0x10]), good]), pause: 0 }]);
    expect(h.frames.map(String)).toEqual(['temp=21.5']);
    expect(h.drops).toContain('crc');
  });

  it('a noise start byte announcing more than follows: the frame hidden behind it is read after frame_timeout', async () => {
    const h = framer('length-crc16');
    await h.feed([{ bytes: Buffer.concat([Buffer.from([START, 200, 0x10]), good]), pause: 0 }]);
    expect(h.frames).toEqual([]);
    await h.wait(T);
    expect(h.frames.map(String)).toEqual(['temp=21.5']);
    expect(h.stale()).toBe(1);
  });

  it('any noise directly followed by a good frame (no pause): the frame arrives exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        binPayload,
        cuts,
        async (noise, payload, cutAt) => {
          const h = framer('length-crc16');
          const frame = encodeLengthCrc16(payload);
          await h.feed(chunked(Buffer.concat([Buffer.from(noise), frame]), cutAt, [0]));
          await h.wait(T);
          expect(h.frames.filter((f) => f.equals(payload))).toHaveLength(1);
          expect(h.frames.at(-1)).toEqual(payload);
          h.f.destroy();
        },
      ),
      { numRuns: 300 },
    );
  });
});
