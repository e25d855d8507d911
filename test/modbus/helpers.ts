import { ModbusAdapter } from '../../adapters/modbus/adapter.js';
import { modbusBusSchema } from '../../adapters/modbus/config.js';
import type { DeviceEvent, Reading } from '../../adapters/types.js';
import type { Inbox } from '../../contracts/store.js';
import { waitFor } from '../harness/wait.js';
import { MemoryInbox, memoryLogger } from '../serial/helpers.js';

/** A Modbus adapter on a bus config as the YAML loader would parse it, with readings and device events collected. */
export async function startModbus(bus: Record<string, unknown>, inbox: Inbox = new MemoryInbox()) {
  const { logger, lines } = memoryLogger();
  const config = modbusBusSchema.parse({ name: 'rs485', reopen: { min: '50ms', max: '200ms' }, ...bus });
  const adapter = new ModbusAdapter({ config, logger, inbox });
  const readings: Reading[] = [];
  const events: DeviceEvent[] = [];
  adapter.readings$.subscribe((r) => readings.push(r));
  adapter.devices$.subscribe((e) => events.push(e));
  await adapter.start();
  await waitFor(() => adapter.state$.value === 'open', 'modbus link open', 5000);
  const latest = (topic: string) =>
    readings
      .filter((r) => r.topic === topic)
      .at(-1)
      ?.payload.toString();
  return { adapter, readings, events, lines, inbox, latest };
}
