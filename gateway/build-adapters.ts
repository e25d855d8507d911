import { ModbusAdapter } from '../adapters/modbus/index.js';
import { MqttSnAdapter } from '../adapters/mqttsn/index.js';
import { SerialAdapter } from '../adapters/serial/index.js';
import type { Adapter } from '../adapters/types.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import type { DeviceSessionStore, Inbox, KvState } from '../contracts/store.js';

/** One adapter per serial port and per Modbus bus, plus the MQTT-SN gateway when enabled; keyed by adapter name. */
export function buildAdapters(
  config: Config,
  deps: { inbox: Inbox; state: KvState; devices: DeviceSessionStore; logger: Logger },
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
    });
    adapters.set(a.name, a);
  }
  return adapters;
}
