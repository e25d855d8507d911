import type { Subscription } from 'rxjs';
import { describeAdapter, duplicates } from '../descriptor.js';
import { ModbusAdapter } from './adapter.js';
import { modbusPoints } from './catalogue.js';
import { modbusConfigSchema } from './config.js';
import { modbusMetrics } from './metrics.js';

/** `modbus:`: one adapter per bus (RTU port or TCP connection). */
export const modbusDescriptor = describeAdapter({
  key: 'modbus',
  schema: modbusConfigSchema,
  build: (buses, deps) =>
    buses.map((config) => new ModbusAdapter({ config, inbox: deps.inbox, logger: deps.logger })),
  targets: (buses) => buses.map((b) => `modbus:${b.name}`),
  check: (buses) =>
    duplicates(buses.map((b) => b.name)).map((i) => ({
      path: [i, 'name'],
      message: `duplicate modbus bus name "${buses[i]!.name}"`,
    })),
  opens: (buses) =>
    buses.flatMap((b, i) =>
      b.path === undefined ? [] : [{ path: [i, 'path'], file: b.path, owner: `modbus bus "${b.name}"` }],
    ),
  metrics: (sink) => {
    const count = modbusMetrics(sink);
    return {
      watch: (adapters) => {
        const subs: Subscription[] = [];
        for (const a of adapters) if (a instanceof ModbusAdapter) subs.push(a.stats$.subscribe(count));
        return () => {
          for (const s of subs) s.unsubscribe();
        };
      },
    };
  },
  up: (a) => (a instanceof ModbusAdapter ? a.isOpen : undefined),
  points: (buses) => new Map(buses.map((b) => [`modbus:${b.name}`, modbusPoints(b)])),
});
