import type { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { crc16ccitt } from '../../adapters/serial/framing/crc16.js';
import { IdleFramer } from '../../adapters/serial/framing/idle.js';
import { encodeLengthCrc16, LengthCrc16Framer } from '../../adapters/serial/framing/length-crc16.js';
import { LineFramer } from '../../adapters/serial/framing/line.js';
import { SlipFramer, slipEncode } from '../../adapters/serial/framing/slip.js';
import type { DropReason, PartialFramerOptions } from '../../adapters/serial/framing/types.js';
import { sleep } from '../harness/wait.js';

/** Feed chunks to a framer; collect frames (as latin1 text) and drops. */
function harness(make: (opts: PartialFramerOptions) => Transform, maxLength = 16) {
  const frames: string[] = [];
  const drops: DropReason[] = [];
  const framer = make({ maxLength, onDrop: (r) => drops.push(r), frameTimeoutMs: 1000 });
  framer.on('data', (f: Buffer) => frames.push(f.toString('latin1')));
  return {
    framer,
    frames,
    drops,
    feed: (...chunks: (string | Buffer)[]) => {
      for (const c of chunks) framer.write(c);
    },
  };
}

describe('line framer', () => {
  it('splits on the delimiter across chunk boundaries', async () => {
    const h = harness((o) => new LineFramer(Buffer.from('\r\n'), o));
    h.feed('a:1\r', '\nb:2\r\nc', ':3\r\n\r\n');
    await sleep(0);
    expect(h.frames).toEqual(['a:1', 'b:2', 'c:3']);
    expect(h.drops).toEqual([]);
  });

  it('caps a line without a delimiter, keeps memory bounded, and resyncs at the next delimiter', async () => {
    const h = harness((o) => new LineFramer(Buffer.from('\n'), o), 8);
    h.feed('ok:1\n', 'x'.repeat(5), 'x'.repeat(5));
    for (let i = 0; i < 1000; i++) h.feed('noise-noise-noise');
    expect((h.framer as unknown as { buf: Buffer }).buf.length).toBeLessThanOrEqual(8);
    h.feed('tail\nok:2\n', '123456789\n');
    await sleep(0);
    expect(h.frames).toEqual(['ok:1', 'ok:2']);
    expect(h.drops).toEqual(['too_long', 'too_long']);
  });
});

describe('slip framer', () => {
  it('decodes escaped frames and ignores empty ones', async () => {
    const h = harness((o) => new SlipFramer(o));
    const framed = Buffer.concat([
      slipEncode(Buffer.from([1, 0xc0, 2, 0xdb, 3])),
      slipEncode(Buffer.from('hi')),
    ]);
    h.feed(framed.subarray(0, 4), framed.subarray(4));
    await sleep(0);
    expect(h.frames.map((f) => Buffer.from(f, 'latin1'))).toEqual([
      Buffer.from([1, 0xc0, 2, 0xdb, 3]),
      Buffer.from('hi'),
    ]);
  });

  it('drops over-long frames and bad escapes, then resyncs', async () => {
    const h = harness((o) => new SlipFramer(o), 4);
    h.feed(
      Buffer.from([0x61, 0x62, 0x63, 0x64, 0x65, 0xc0]),
      Buffer.from([0x61, 0xdb, 0x01, 0xc0]),
      slipEncode(Buffer.from('ok')),
    );
    await sleep(0);
    expect(h.frames).toEqual(['ok']);
    expect(h.drops).toEqual(['too_long', 'framing']);
  });
});

describe('length-crc16 framer', () => {
  it('uses CRC-16/CCITT-FALSE', () => {
    expect(crc16ccitt(Buffer.from('123456789'))).toBe(0x29b1);
  });

  it('finds frames among garbage, split anywhere, and counts crc errors', async () => {
    const h = harness((o) => new LengthCrc16Framer({ ...o, frameTimeoutMs: 1000 }), 64);
    const good = encodeLengthCrc16(Buffer.from('temp=1'));
    const bad = Buffer.from(encodeLengthCrc16(Buffer.from('temp=2')));
    bad[4] = bad[4]! ^ 0xff;
    const stream = Buffer.concat([
      Buffer.from('zz'),
      good,
      bad,
      Buffer.from([0x00]),
      encodeLengthCrc16(Buffer.from('t=3')),
    ]);
    for (const byte of stream) h.feed(Buffer.from([byte]));
    await sleep(0);
    expect(h.frames).toEqual(['temp=1', 't=3']);
    expect(h.drops).toContain('crc');
    expect(h.drops).toContain('framing');
  });

  it('resyncs past a noise start byte whose length never arrives', async () => {
    const h = harness((o) => new LengthCrc16Framer({ ...o, frameTimeoutMs: 30 }), 64);
    h.feed(Buffer.concat([Buffer.from([0xaa, 0x30]), encodeLengthCrc16(Buffer.from('late'))]));
    await sleep(100);
    expect(h.frames).toEqual(['late']);
    h.framer.destroy();
  });

  it('drops frames announcing more than max_length', async () => {
    const h = harness((o) => new LengthCrc16Framer({ ...o, frameTimeoutMs: 1000 }), 4);
    h.feed(encodeLengthCrc16(Buffer.from('toolong')), encodeLengthCrc16(Buffer.from('ok')));
    await sleep(0);
    expect(h.frames).toEqual(['ok']);
    expect(h.drops[0]).toBe('too_long');
    h.framer.destroy();
  });
});

describe('idle framer', () => {
  it('ends a frame after silence and drops bursts longer than max_length whole', async () => {
    const h = harness((o) => new IdleFramer({ ...o, idleMs: 20 }), 8);
    h.feed('ab', 'cd');
    await sleep(60);
    h.feed('0123456789');
    await sleep(60);
    h.feed('ef');
    await sleep(60);
    expect(h.frames).toEqual(['abcd', 'ef']);
    expect(h.drops).toEqual(['too_long']);
  });
});
