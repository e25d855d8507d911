import { describeAdapter, duplicates } from '../descriptor.js';
import { SerialAdapter } from './adapter.js';
import { serialConfigSchema } from './config.js';
import { serialMetrics } from './metrics.js';
import { serialPoints } from './points.js';

const isSerial = (a: unknown): a is SerialAdapter => a instanceof SerialAdapter;

/** `serial:`: one adapter per port. */
export const serialDescriptor = describeAdapter({
  key: 'serial',
  schema: serialConfigSchema,
  build: (ports, deps) =>
    ports.map((config) => new SerialAdapter({ config, inbox: deps.inbox, logger: deps.logger })),
  targets: (ports) => ports.map((p) => `serial:${p.name}`),
  check: (ports) =>
    duplicates(ports.map((p) => p.name)).map((i) => ({
      path: [i, 'name'],
      message: `duplicate serial port name "${ports[i]!.name}"`,
    })),
  opens: (ports) =>
    ports.map((p, i) => ({ path: [i, 'path'], file: p.path, owner: `serial port "${p.name}"` })),
  replies: (a) => (isSerial(a) ? a.replies$ : undefined),
  up: (a) => (isSerial(a) ? a.state$.value === 'open' : undefined),
  metrics: (sink) => {
    let ports: readonly SerialAdapter[] = [];
    serialMetrics(sink, () =>
      ports.map((a) => ({
        port: a.name,
        state: a.state$.value,
        dropped: a.counters.dropped,
        noise: a.counters.noise,
      })),
    );
    return {
      watch: (adapters) => {
        ports = adapters.filter(isSerial);
        return () => {
          ports = [];
        };
      },
    };
  },
  points: (ports) => new Map(ports.filter((p) => p.ha).map((p) => [`serial:${p.name}`, serialPoints(p)])),
});
