import { afterEach, describe, expect, it } from 'vitest';
import type { ModbusAdapter } from '../../adapters/modbus/adapter.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { startModbus } from './helpers.js';
import { SlaveModel, TcpSlave } from './slave.js';

/** Modbus TCP against a simulated slave on 127.0.0.1: a dropped connection is reopened. */
describe('modbus TCP', () => {
  let slave: TcpSlave | undefined;
  let adapter: ModbusAdapter | undefined;

  afterEach(async () => {
    await adapter?.stop();
    await slave?.close();
    cleanupTmpDirs();
  });

  it('polls over TCP and reconnects after the server drops the connection', async () => {
    const model = new SlaveModel();
    model.setRegisters(3, 3, 0, [1, 2]);
    slave = await TcpSlave.start(model);
    const m = await startModbus({
      tcp: `127.0.0.1:${slave.port}`,
      timeout: '200ms',
      topic: 'plant/{bus}/{device}',
      devices: [
        {
          name: 'vfd',
          unit: 3,
          poll: '50ms',
          points: [
            { name: 'a', fc: 3, address: 0 },
            { name: 'b', fc: 3, address: 1 },
          ],
        },
      ],
    });
    adapter = m.adapter;
    await waitFor(() => m.latest('plant/rs485/vfd') === '{"a":1,"b":2}', 'a JSON poll over TCP');
    expect(m.readings.at(-1)?.fields).toEqual({ a: 1, b: 2 });
    const opens = m.adapter.counters.link.opens;
    slave.dropConnections();
    model.setRegisters(3, 3, 0, [5, 6]);
    await waitFor(() => m.latest('plant/rs485/vfd') === '{"a":5,"b":6}', 'polling after reconnect', 5000);
    expect(m.adapter.counters.link.opens).toBe(opens + 1);
  });
});
