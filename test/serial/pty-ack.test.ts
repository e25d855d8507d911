import { afterAll, expect, it } from 'vitest';
import { slipEncode } from '../../adapters/serial/framing/slip.js';
import { PtyPair } from '../harness/socat.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { Sensor, startAdapter } from './helpers.js';

afterAll(cleanupTmpDirs);

it('writes the ack only after every reading of the frame is settled stored/filtered, never on congestion', async () => {
  const pty = await PtyPair.open();
  const sensor = await Sensor.open(pty.sensor);
  const { adapter, readings } = await startAdapter(pty, {
    ack: { seq_field: 'seq', template: 'ACK {seq} {device}\\r\\n' },
  });
  try {
    await sensor.write('seq=1 temp=20\n');
    await waitFor(() => readings.length === 1, 'reading of frame 1', 3000);
    expect(readings[0]!.topic).toBe('sensors/bench/temp'); // seq is bookkeeping, not a value
    await sleep(150);
    expect(sensor.text()).toBe(''); // not yet stored: no ack
    readings[0]!.settle!('stored');
    await waitFor(() => sensor.text() === 'ACK 1 bench\r\n', 'ack 1', 3000);

    await sensor.write('seq=2 temp=21 humi=40\n');
    await waitFor(() => readings.length === 3, 'readings of frame 2', 3000);
    readings[1]!.settle!('stored');
    readings[2]!.settle!('congestion');
    await sensor.write('seq=3 temp=22\n');
    await waitFor(() => readings.length === 4, 'reading of frame 3', 3000);
    readings[3]!.settle!('filtered');
    await waitFor(() => sensor.text().includes('ACK 3'), 'ack 3', 3000);
    expect(sensor.text()).toBe('ACK 1 bench\r\nACK 3 bench\r\n');
    expect(adapter.counters.acks).toEqual({ written: 2, withheld: 1, failed: 0 });

    await sensor.write('temp=23\n'); // no seq: not an acked frame
    await waitFor(() => readings.length === 5, 'unacked reading', 3000);
    expect(readings[4]!.settle).toBeUndefined();
  } finally {
    await sensor.close();
    await adapter.stop();
    await pty.close();
  }
});

it('frames the ack like the device frames (SLIP device, JSON frames)', async () => {
  const pty = await PtyPair.open();
  const sensor = await Sensor.open(pty.sensor);
  const { readings } = await startAdapter(pty, {
    framing: 'slip',
    format: 'json',
    topic: 'sensors/{device}',
    ack: { seq_field: 'n', template: 'A{n}', framing: 'slip' },
  });
  try {
    await sensor.write(slipEncode(Buffer.from('{"n":41,"temp":20}')));
    await waitFor(() => readings.length === 1, 'reading', 3000);
    readings[0]!.settle!('stored');
    await waitFor(() => sensor.received.equals(slipEncode(Buffer.from('A41'))), 'slip ack', 3000);
  } finally {
    await sensor.close();
    await pty.close();
  }
});
