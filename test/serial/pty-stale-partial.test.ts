import { describe, expect, it } from 'vitest';
import { encodeLengthCrc16, START } from '../../adapters/serial/framing/length-crc16.js';
import { slipEncode } from '../../adapters/serial/framing/slip.js';
import { sleep, waitFor } from '../harness/wait.js';
import { logsWith } from './helpers.js';
import { ptyAdapterFixture } from './pty-fixture.js';

// Line noise through a real pty into the real adapter: the reading after the noise must get through.
const setup = ptyAdapterFixture();

/** Seeded bytes (mulberry32), so a failing seed replays the same noise. */
function random(seed: number): (n: number) => Buffer {
  let s = seed >>> 0;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      b[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
    }
    return b;
  };
}

type Kind = 'line' | 'slip' | 'length-crc16';
const FRAME_TIMEOUT = 150;

/** A good frame as a device sends it (slip without the leading END, which would hide the problem). */
const encode: Record<Kind, (p: Buffer) => Buffer> = {
  line: (p) => Buffer.concat([p, Buffer.from('\n')]),
  slip: (p) => slipEncode(p).subarray(1),
  'length-crc16': encodeLengthCrc16,
};
/** How the noise ends: inside a frame that never finishes. */
const unfinished: Record<Kind, Buffer> = {
  line: Buffer.from('\n::\xff ::u:  t: ', 'latin1'),
  slip: Buffer.from([0xc0, 0x3a, 0x3a, 0xff, 0x75]),
  'length-crc16': Buffer.from([START, 200, 0x3a, 0x3a, 0xff]),
};

describe.each<Kind>(['line', 'slip', 'length-crc16'])('%s through a pty: after line noise', (kind) => {
  it('noise ending mid-frame, a pause past frame_timeout, one good frame: delivered exactly once (several seeds)', async () => {
    const { adapter, readings, sensor } = await setup({
      framing: kind,
      format: 'raw',
      raw_encoding: 'hex',
      topic: 'raw/{port}',
      max_length: 255,
      frame_timeout: `${FRAME_TIMEOUT}ms`,
    });
    for (const seed of [1, 7, 29, 4242]) {
      const noise = random(seed);
      const length = 200 + (noise(2).readUInt16BE(0) % 3000);
      for (let sent = 0; sent < length; sent += 256) await sensor.write(noise(Math.min(256, length - sent)));
      await sensor.write(unfinished[kind]);
      const staleBefore = adapter.counters.dropped.stale_partial;
      await sleep(5 * FRAME_TIMEOUT);
      await waitFor(
        () => adapter.counters.dropped.stale_partial > staleBefore,
        `seed ${seed}: the unfinished frame dropped as stale_partial`,
        5000,
      );
      const seen = readings.length;
      const payload = Buffer.from(`seed ${seed} temp:21 humi:40`);
      await sensor.write(encode[kind](payload));
      await waitFor(() => readings.length > seen, `seed ${seed}: the good frame`, 5000);
      await sleep(2 * FRAME_TIMEOUT); // long enough for a duplicate or a late glued frame to show
      expect(
        readings.slice(seen).map((r) => r.payload.toString()),
        `seed ${seed}, ${length} noise bytes`,
      ).toEqual([payload.toString('hex')]);
    }
  });

  it('a good frame in two pieces with a pause shorter than frame_timeout is delivered whole', async () => {
    const { adapter, readings, sensor } = await setup({
      framing: kind,
      format: 'raw',
      raw_encoding: 'hex',
      topic: 'raw/{port}',
      frame_timeout: '1s',
    });
    const payload = Buffer.from('temp:21 humi:40');
    const frame = encode[kind](payload);
    await sensor.write(frame.subarray(0, 6));
    await sleep(250);
    await sensor.write(frame.subarray(6));
    await waitFor(() => readings.length >= 1, 'the frame', 5000);
    await sleep(1200);
    expect(readings.map((r) => r.payload.toString())).toEqual([payload.toString('hex')]);
    expect(adapter.counters.dropped.stale_partial).toBe(0);
  });
});

describe('serial noise through a pty', () => {
  it('the weather station: noise ends mid-line, then a good kv line 2s later arrives (default frame_timeout)', async () => {
    const { adapter, readings, sensor } = await setup({ framing: 'line', format: 'kv' });
    const noise = random(2);
    for (let i = 0; i < 8; i++) await sensor.write(noise(512));
    await sensor.write(Buffer.from('::\xff ::u:  t: ', 'latin1'));
    await sleep(2000);
    const seen = readings.length;
    await sensor.write('temp:21 humi:40\n');
    await waitFor(() => readings.length >= seen + 2, 'the reading after the noise', 5000);
    await sleep(300);
    expect(readings.slice(seen).map((r) => `${r.topic}=${r.payload}`)).toEqual([
      'sensors/bench/temp=21',
      'sensors/bench/humi=40',
    ]);
    expect(adapter.counters.dropped.stale_partial).toBe(1);
  });

  it('a burst of undecodable bytes is logged once, naming the port and its configured baud', async () => {
    const { adapter, lines, readings, sensor } = await setup({ framing: 'line', format: 'kv', baud: 19200 });
    const noise = random(3);
    const msg = 'line noise or wrong baud rate on bench (configured 19200 baud)';
    await sensor.write(noise(4096));
    await waitFor(() => logsWith(lines, msg).length > 0, 'the noise warning', 5000);
    for (let i = 0; i < 4; i++) {
      await sensor.write(noise(4096));
      await sleep(100);
    }
    await sensor.write('\ntemp:5\n');
    await waitFor(
      () => readings.some((r) => r.payload.toString() === '5'),
      'the reading behind the noise',
      5000,
    );
    const warned = logsWith(lines, msg);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, port: 'bench', baud: 19200 });
    expect(warned[0]!.drops).toBeGreaterThanOrEqual(3);
    expect(adapter.counters.noise.bursts).toBe(1);
    expect(adapter.counters.noise.bytes).toBeGreaterThan(4096);
  });

  it('one over-long line and a stray bad frame are not called line noise', async () => {
    const { adapter, lines, readings, sensor } = await setup({ framing: 'line', format: 'kv' });
    await sensor.write(`${'x'.repeat(5000)}\n`);
    await sensor.write(Buffer.from([0xff, 0xfe, 0x0a]));
    await sensor.write('temp:6\n');
    await waitFor(() => readings.length >= 1, 'the reading', 5000);
    expect(adapter.counters.dropped).toMatchObject({ too_long: 1, unparsable: 1 });
    expect(lines.filter((l) => String(l.msg).startsWith('line noise'))).toEqual([]);
  });
});
