import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModbusAdapter } from '../../adapters/modbus/adapter.js';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import { PtyPair } from '../harness/socat.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { MemoryInbox } from '../serial/helpers.js';
import { startModbus } from './helpers.js';
import { RtuSlave, SlaveModel } from './slave.js';

/** The Modbus adapter against an RTU slave simulated on the far side of a real pty pair. */
describe('modbus RTU over a pty', () => {
  let pty: PtyPair;
  let model: SlaveModel;
  let slave: RtuSlave;
  let adapter: ModbusAdapter | undefined;

  beforeEach(async () => {
    pty = await PtyPair.open(tmpDir());
    model = new SlaveModel();
    slave = new RtuSlave(pty.sensor, model);
  });

  afterEach(async () => {
    await adapter?.stop();
    adapter = undefined;
    slave.close();
    await pty.close();
    cleanupTmpDirs();
  });

  const bus = (devices: unknown[], extra: Record<string, unknown> = {}) => ({
    path: pty.device,
    timeout: '400ms', // generous: a loaded test machine must not make a healthy slave time out
    gap: '15ms',
    retries: 0,
    devices,
    ...extra,
  });

  it('merges adjacent registers into one read, one request at a time, keeping the gap between frames', async () => {
    model.setRegisters(1, 4, 0, [
      ...encodeRegisters(230.1, 'float32', 'CDAB'),
      ...encodeRegisters(1.5, 'float32', 'CDAB'),
    ]);
    model.setRegisters(2, 3, 100, [42]);
    slave.delayMs = 5; // a request arriving during these 5 ms would be a collision on the bus
    const m = await startModbus(
      bus([
        {
          name: 'meter',
          unit: 1,
          poll: '50ms',
          byte_order: 'CDAB',
          points: [
            { name: 'voltage', fc: 4, address: 0, type: 'float32' },
            { name: 'current', fc: 4, address: 2, type: 'float32' },
          ],
        },
        { name: 'plc', unit: 2, poll: '50ms', points: [{ name: 'level', fc: 3, address: 100 }] },
      ]),
    );
    adapter = m.adapter;
    await waitFor(() => slave.silences.length >= 20, '20 exchanges');
    expect(m.latest('sensors/meter/voltage')).toBe('230.1');
    expect(m.latest('sensors/meter/current')).toBe('1.5');
    expect(m.latest('sensors/plc/level')).toBe('42');
    // Two points, one read: every request to unit 1 is the same fc 4 read at address 0.
    expect(model.requests.filter((r) => r.unit === 1).every((r) => r.fc === 4 && r.address === 0)).toBe(true);
    expect(slave.overlaps).toBe(0);
    expect(slave.badCrcRequests).toBe(0);
    // Measured at the slave: from its answer written to the next request's first byte (1 ms timer slack).
    expect(Math.min(...slave.silences)).toBeGreaterThanOrEqual(14);
  });

  it('a device that stops answering is backed off and reported offline, the others keep their rate; it recovers', async () => {
    model.setRegisters(1, 3, 0, [1]);
    model.setRegisters(2, 3, 0, [2]);
    const m = await startModbus(
      bus(
        [
          { name: 'a', unit: 1, poll: '100ms', points: [{ name: 'v', fc: 3, address: 0 }] },
          { name: 'b', unit: 2, poll: '100ms', points: [{ name: 'v', fc: 3, address: 0 }] },
        ],
        { backoff_max: '400ms', timeout: '100ms' },
      ),
    );
    adapter = m.adapter;
    await waitFor(() => m.events.filter((e) => e.state === 'online').length === 2, 'both online');
    model.silent.add(1);
    const t0 = performance.now();
    await waitFor(() => m.events.some((e) => e.device === 'a' && e.state === 'offline'), 'a offline');
    // Backed off: requests to the silent unit spread out (100, 200, 400, 400 ms) instead of every poll.
    const since = model.requests.length;
    await waitFor(() => performance.now() - t0 > 1500, 'time passes', 3000, 50);
    const toA = model.requests.slice(since).filter((r) => r.unit === 1);
    const toB = model.requests.slice(since).filter((r) => r.unit === 2);
    expect(toA.length).toBeGreaterThanOrEqual(2);
    expect(toA.length).toBeLessThanOrEqual(6);
    const spacing = toA.slice(1).map((r, i) => r.at - toA[i]!.at);
    expect(Math.max(...spacing)).toBeGreaterThanOrEqual(350);
    expect(toB.length).toBeGreaterThanOrEqual(5); // b keeps polling (about every 100 ms) meanwhile
    expect(m.adapter.counters.errors.timeout).toBeGreaterThanOrEqual(toA.length - 1);

    model.silent.delete(1);
    model.setRegisters(1, 3, 0, [7]);
    await waitFor(
      () => m.events.filter((e) => e.device === 'a').at(-1)?.state === 'online',
      'a online again',
      3000,
    );
    await waitFor(() => m.latest('sensors/a/v') === '7', 'a polled again');
  });

  it('CRC errors, exception answers and short frames are counted by reason and never stop the bus', async () => {
    model.setRegisters(1, 3, 0, [11]);
    model.setRegisters(1, 3, 50, [12]);
    model.exceptions.set('1:3:50', 2); // illegal data address for the second read
    const m = await startModbus(
      bus([
        {
          name: 'm',
          unit: 1,
          poll: '50ms',
          points: [
            { name: 'good', fc: 3, address: 0 },
            { name: 'bad', fc: 3, address: 50 },
          ],
        },
      ]),
    );
    adapter = m.adapter;
    await waitFor(() => m.latest('sensors/m/good') === '11', 'first value');
    model.corruptNext = 2;
    await waitFor(() => (m.adapter.counters.errors.crc ?? 0) >= 2, 'crc errors counted');
    model.shortNext = 1;
    await waitFor(() => (m.adapter.counters.errors.short_frame ?? 0) >= 1, 'short frame counted');
    model.setRegisters(1, 3, 0, [13]);
    await waitFor(() => m.latest('sensors/m/good') === '13', 'polling goes on');
    // Every poll of the bad point is answered with the exception and counted (how many polls fit in
    // the waits above depends on the machine's load, so wait for the third rather than assume it).
    await waitFor(
      () => (m.adapter.counters.errors.exception_illegal_address ?? 0) >= 3,
      'exceptions counted',
    );
    expect(m.adapter.counters.errors.timeout ?? 0).toBe(0);
    expect(m.readings.some((r) => r.topic === 'sensors/m/bad')).toBe(false);
    expect(m.events.map((e) => e.state)).toEqual(['online']); // it answers: never offline
  });

  it('writes a command to a holding register and a coil; refuses bad ones; one for an offline device waits in the inbox', async () => {
    model.setRegisters(1, 3, 0, [0, 0]);
    model.unit(1).coils.set(0, false);
    const inbox = new MemoryInbox();
    const m = await startModbus(
      bus([
        {
          name: 'plc',
          unit: 1,
          poll: '50ms',
          points: [
            { name: 'setpoint', fc: 3, address: 0, type: 'int32', scale: 0.1, writable: true },
            { name: 'relay', fc: 1, address: 0, writable: true },
            { name: 'status', fc: 3, address: 10 },
            { name: 'mode', fc: 3, address: 20, writable: true, write_fc: 16 },
            { name: 'pump', fc: 1, address: 3, writable: true, write_fc: 15 },
          ],
        },
      ]),
      inbox,
    );
    adapter = m.adapter;
    await waitFor(() => m.events.some((e) => e.state === 'online'), 'online');
    const cmd = (payload: unknown, id = 'c1') => ({
      id,
      target: 'modbus:rs485',
      device: 'plc',
      topic: 'cmd',
      payload: Buffer.from(JSON.stringify(payload)),
      qos: 1 as const,
    });
    expect(await m.adapter.send(cmd({ point: 'setpoint', value: 21.5 }))).toBe('delivered');
    expect(model.unit(1).holding.get(1)).toBe(215); // int32 ABCD: high word at 0, low word at 1
    expect(await m.adapter.send(cmd({ point: 'relay', value: 'on' }))).toBe('delivered');
    expect(model.unit(1).coils.get(0)).toBe(true);
    await waitFor(() => m.latest('sensors/plc/setpoint') === '21.5', 'the written value read back');
    // Devices that only take the multiple-write functions.
    expect(await m.adapter.send(cmd({ point: 'mode', value: 3 }))).toBe('delivered');
    expect(await m.adapter.send(cmd({ point: 'pump', value: true }))).toBe('delivered');
    expect(model.unit(1).holding.get(20)).toBe(3);
    expect(model.unit(1).coils.get(3)).toBe(true);
    expect(model.requests.filter((r) => r.fc === 16 || r.fc === 15).map((r) => r.fc)).toEqual([16, 16, 15]);

    await expect(m.adapter.send(cmd({ point: 'status', value: 1 }))).rejects.toThrow(/not writable/);
    await expect(m.adapter.send(cmd({ point: 'nope', value: 1 }))).rejects.toThrow(/no point/);
    model.exceptions.set('1:6:0', 3);
    model.exceptions.set('1:16:0', 3);
    await expect(m.adapter.send(cmd({ point: 'setpoint', value: 1 }))).rejects.toThrow(/refused/);
    model.exceptions.clear();

    model.silent.add(1);
    await waitFor(() => m.events.at(-1)?.state === 'offline', 'offline');
    expect(await m.adapter.send(cmd({ point: 'setpoint', value: 30 }, 'c9'))).toBe('queued');
    expect(inbox.rows).toHaveLength(1);
    model.silent.delete(1);
    await waitFor(() => model.unit(1).holding.get(1) === 300, 'queued write drained once it answers', 5000);
    await waitFor(() => inbox.rows.length === 0, 'inbox row removed');
    expect(m.adapter.counters.writes.drained).toBe(1);
  });

  it('an adapter unplugged mid-request reports its devices offline, is reopened with backoff and polls on', async () => {
    model.setRegisters(1, 3, 0, [5]);
    const m = await startModbus(
      bus([{ name: 'm', unit: 1, poll: '50ms', points: [{ name: 'v', fc: 3, address: 0 }] }], {
        timeout: '2s',
      }),
    );
    adapter = m.adapter;
    await waitFor(() => m.latest('sensors/m/v') === '5', 'value');
    // The next request gets no answer: it is on the wire, waiting out its 2 s timeout, when the adapter goes.
    model.silent.add(1);
    const sent = model.requests.length;
    await waitFor(() => model.requests.length > sent, 'a request in flight');
    slave.close();
    await pty.unplug();
    await waitFor(() => m.events.at(-1)?.state === 'offline', 'offline on unplug');
    await waitFor(() => m.adapter.state$.value === 'retrying', 'retrying');
    model.silent.delete(1);
    await pty.plug();
    slave = new RtuSlave(pty.sensor, model);
    model.setRegisters(1, 3, 0, [6]);
    // Well within the 2 s timeout: the lost request was settled by the unplug, not left hanging.
    await waitFor(() => m.latest('sensors/m/v') === '6', 'polling after replug', 1500);
    expect(m.events.at(-1)?.state).toBe('online');
    expect(m.adapter.counters.link.lost).toBe(1);
  });
});
