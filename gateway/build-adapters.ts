import { ModbusAdapter } from '../adapters/modbus/index.js';
import { MqttSnAdapter } from '../adapters/mqttsn/index.js';
import { SerialAdapter } from '../adapters/serial/index.js';
import type { Reserved } from '../adapters/mqttsn/index.js';
import type { Adapter } from '../adapters/types.js';
import { reportsDevices } from './availability.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import type { DeviceSessionStore, Inbox, KvState } from '../contracts/store.js';

/** One adapter per serial port and per Modbus bus, plus the MQTT-SN gateway when enabled; keyed by adapter name. */
export function buildAdapters(
  config: Config,
  deps: {
    inbox: Inbox;
    state: KvState;
    devices: DeviceSessionStore;
    logger: Logger;
    /** The gateway's own topic filters (commands, status, availability), current after a reload. */
    ownTopics?: () => readonly string[];
  },
): Map<string, Adapter> {
  const adapters = new Map<string, Adapter>();
  for (const port of config.serial) {
    const a = new SerialAdapter({ config: port, inbox: deps.inbox, logger: deps.logger });
    adapters.set(a.name, a);
  }
  for (const bus of config.modbus) {
    const a = new ModbusAdapter({ config: bus, inbox: deps.inbox, logger: deps.logger });
    adapters.set(a.name, a);
  }
  if (config.mqttsn.enabled) {
    const a = new MqttSnAdapter({
      config: config.mqttsn,
      inbox: deps.inbox,
      state: deps.state,
      devices: deps.devices,
      logger: deps.logger.child({ adapter: 'mqttsn' }),
      name: 'mqttsn',
      reserved: reservedForDevices(config, deps.ownTopics ?? (() => []), [...adapters.values()]),
    });
    adapters.set(a.name, a);
  }
  return adapters;
}

/** Device ids other adapters reported (serial `device_field` ids): at most this many are kept. */
const SEEN_MAX = 10_000;

/**
 * What an MQTT-SN device may not claim: the gateway's id, the serial and Modbus device names, and the
 * device ids the other adapters have reported so far (a serial frame's `device_field` id): their
 * availability and command topics are keyed by that name alone. And the gateway's own topics as
 * subscriptions. The same object until the own topics change.
 */
function reservedForDevices(
  config: Config,
  ownTopics: () => readonly string[],
  others: Adapter[],
): () => Reserved {
  const clientIds = new Set([
    config.gateway.id,
    ...config.serial.map((p) => p.name),
    ...config.modbus.flatMap((b) => b.devices.map((d) => d.name)),
  ]);
  // Hot streams: subscribing starts nothing; they complete when their adapter stops.
  for (const a of others)
    if (reportsDevices(a))
      a.devices$.subscribe((e) => {
        if (clientIds.size < SEEN_MAX) clientIds.add(e.device);
      });
  let last: Reserved = { clientIds, filters: [] };
  return () => {
    const filters = ownTopics();
    if (filters !== last.filters) last = { clientIds, filters };
    return last;
  };
}
