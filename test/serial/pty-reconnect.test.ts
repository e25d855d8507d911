import { afterAll, expect, it } from 'vitest';
import { SerialAdapter } from '../../adapters/serial/adapter.js';
import type { PortState } from '../../adapters/serial/port.js';
import type { Reading } from '../../adapters/types.js';
import { PtyPair } from '../harness/socat.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { logsWith, MemoryInbox, memoryLogger, portConfig, Sensor } from './helpers.js';

afterAll(cleanupTmpDirs);

it('retries an absent port, reopens after unplug/replug by itself, and logs each state change once', async () => {
  const pty = await PtyPair.open();
  await pty.unplug(); // absent at start: the adapter is not plugged in yet
  const { logger, lines } = memoryLogger();
  const adapter = new SerialAdapter({
    config: portConfig({ path: pty.device }),
    logger,
    inbox: new MemoryInbox(),
  });
  const readings: Reading[] = [];
  const states: PortState[] = [];
  adapter.readings$.subscribe((r) => readings.push(r));
  adapter.state$.subscribe((s) => states.push(s));
  try {
    await adapter.start(); // does not fail
    await sleep(500); // several retries (50, 100, 200, 200 ms)
    expect(adapter.state$.value).toBe('retrying');
    expect(adapter.counters.port.openFailures).toBeGreaterThanOrEqual(3);

    await pty.plug();
    let sensor = await Sensor.open(pty.sensor);
    await waitFor(() => adapter.state$.value === 'open', 'open after plug', 3000);
    await sensor.write('temp:1\n');
    await waitFor(() => readings.length === 1, 'first reading', 3000);

    await sensor.close();
    await pty.unplug();
    await waitFor(() => adapter.state$.value === 'retrying', 'port lost', 3000);
    await sleep(500);
    await pty.plug();
    sensor = await Sensor.open(pty.sensor);
    await waitFor(() => adapter.state$.value === 'open', 'reopen after replug', 3000);
    await sensor.write('temp:2\n');
    await waitFor(() => readings.length === 2, 'reading after replug', 3000);
    await sensor.close();

    expect(readings.map((r) => r.payload.toString())).toEqual(['1', '2']);
    expect(states).toEqual(['closed', 'retrying', 'open', 'retrying', 'open']);
    expect(adapter.counters.port).toMatchObject({ opens: 2, disconnects: 1 });
    expect(adapter.counters.port.openFailures).toBeGreaterThanOrEqual(5);
    // Many failed attempts, but one line per state change.
    expect(logsWith(lines, 'serial port unavailable; retrying with backoff')).toHaveLength(1);
    expect(logsWith(lines, 'serial port lost; reopening with backoff')).toHaveLength(1);
    expect(logsWith(lines, 'serial port open')).toHaveLength(2);
  } finally {
    await adapter.stop();
    await pty.close();
  }
  expect(adapter.state$.value).toBe('closed');
  let completed = false;
  adapter.readings$.subscribe({ complete: () => (completed = true) });
  expect(completed).toBe(true);
});
