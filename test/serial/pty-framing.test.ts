import { describe, expect, it } from 'vitest';
import { encodeLengthCrc16 } from '../../adapters/serial/framing/length-crc16.js';
import { slipEncode } from '../../adapters/serial/framing/slip.js';
import { sleep, waitFor } from '../harness/wait.js';
import { logsWith } from './helpers.js';
import { ptyAdapterFixture } from './pty-fixture.js';

// Every framing and format through a real pty, opened by serialport as a USB adapter would be.
const setup = ptyAdapterFixture();

describe('serial framings through a real pty', () => {
  it('line + kv: one reading per field; noise and over-long lines are dropped, counted and logged', async () => {
    const { adapter, readings, sensor, lines } = await setup({
      framing: 'line',
      format: 'kv',
      max_length: 64,
    });
    await sensor.write('temp:25 humi:47\n');
    await sensor.write(Buffer.concat([Buffer.from([0x00, 0xff, 0x13]), Buffer.from('\n')]));
    await sensor.write(`${'x'.repeat(5000)}\n`);
    await sensor.write('\r\ntemp=26.5,humi=40\r\n');
    await waitFor(() => readings.length >= 4, 'four readings', 5000);
    expect(readings.map((r) => [r.topic, r.payload.toString()])).toEqual([
      ['sensors/bench/temp', '25'],
      ['sensors/bench/humi', '47'],
      ['sensors/bench/temp', '26.5'],
      ['sensors/bench/humi', '40'],
    ]);
    expect(readings[0]).toMatchObject({
      source: 'serial:bench',
      device: 'bench',
      qos: 1,
      fields: { temp: 25, humi: 47 },
    });
    expect(adapter.counters.dropped).toMatchObject({ unparsable: 1, too_long: 1 });
    const dropped = logsWith(lines, 'serial frame dropped');
    expect(dropped.map((l) => l.reason)).toEqual(['unparsable', 'too_long']);
    expect(dropped[0]).toMatchObject({ level: 20, bytes: '00ff13' });
    // The journal hears of them without debug logging: one warning per reason (rate-limited).
    const warned = logsWith(lines, 'serial frames dropped (details at debug level)');
    expect(warned.map((l) => [l.reason, l.level])).toEqual([
      ['unparsable', 40],
      ['too_long', 40],
    ]);
  });

  it('slip + json: device from the frame, one JSON reading per frame', async () => {
    const { readings, sensor } = await setup({
      framing: 'slip',
      format: 'json',
      device_field: 'id',
      topic: 'site/{device}/{room}',
    });
    await sensor.write(slipEncode(Buffer.from('{"id":"n7","room":"lab","temp":21.5}')));
    await sensor.write(Buffer.from('garbage\xdb\x01\xc0', 'latin1'));
    await sensor.write(slipEncode(Buffer.from('{"id":"n8","room":"hall","temp":19}')));
    await waitFor(() => readings.length >= 2, 'two readings', 5000);
    expect(readings.map((r) => [r.device, r.topic, JSON.parse(r.payload.toString()).temp])).toEqual([
      ['n7', 'site/n7/lab', 21.5],
      ['n8', 'site/n8/hall', 19],
    ]);
  });

  it('length-crc16 + csv: good frames arrive among garbage; a CRC error is counted', async () => {
    const { adapter, readings, sensor } = await setup({
      framing: 'length-crc16',
      format: 'csv',
      columns: ['temp', 'humi'],
    });
    const bad = Buffer.from(encodeLengthCrc16(Buffer.from('99,99')));
    bad[3] = bad[3]! ^ 0x01;
    await sensor.write(Buffer.concat([Buffer.from('noise'), encodeLengthCrc16(Buffer.from('21.5,40')), bad]));
    await sensor.write(Buffer.concat([Buffer.from([0x01, 0x02]), encodeLengthCrc16(Buffer.from('22,41'))]));
    await waitFor(() => readings.length >= 4, 'four readings', 5000);
    expect(readings.map((r) => `${r.topic}=${r.payload}`)).toEqual([
      'sensors/bench/temp=21.5',
      'sensors/bench/humi=40',
      'sensors/bench/temp=22',
      'sensors/bench/humi=41',
    ]);
    expect(adapter.counters.dropped.crc).toBe(1);
    expect(adapter.counters.dropped.framing).toBeGreaterThanOrEqual(2);
  });

  it('idle-timeout + raw hex: a burst is one frame', async () => {
    const { readings, sensor } = await setup({
      framing: 'idle-timeout',
      idle: '30ms',
      format: 'raw',
      raw_encoding: 'hex',
      topic: 'raw/{port}',
    });
    await sensor.write(Buffer.from([0x01, 0x03, 0x02]));
    await sensor.write(Buffer.from([0xc4, 0x0b]));
    await sleep(100);
    await sensor.write(Buffer.from([0xff]));
    await waitFor(() => readings.length >= 2, 'two readings', 5000);
    expect(readings.map((r) => [r.topic, r.payload.toString()])).toEqual([
      ['raw/bench', '010302c40b'],
      ['raw/bench', 'ff'],
    ]);
  });
});
