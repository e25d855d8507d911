import { waitingNow } from '../../contracts/clock.js';
import { describeAdapter } from '../descriptor.js';
import type { Adapter } from '../types.js';
import { MqttSnAdapter } from './adapter.js';
import { mqttsnConfigSchema } from './config.js';
import { mqttsnMetrics } from './metrics.js';
import { LostDevices } from './stats.js';

const isMqttSn = (a: Adapter): a is MqttSnAdapter => a instanceof MqttSnAdapter;

/** `mqttsn:`: one MQTT-SN gateway on one UDP socket, when enabled. */
export const mqttsnDescriptor = describeAdapter({
  key: 'mqttsn',
  schema: mqttsnConfigSchema,
  build: (config, deps) =>
    config.enabled
      ? [
          new MqttSnAdapter({
            config,
            inbox: deps.inbox,
            state: deps.state,
            devices: deps.devices,
            logger: deps.logger.child({ adapter: 'mqttsn' }),
            name: 'mqttsn',
            reserved: deps.reserved,
          }),
        ]
      : [],
  targets: (config) => (config.enabled ? ['mqttsn'] : []),
  hasAvailability: (config, _source, device) =>
    Object.hasOwn(config.clients, device) ||
    Object.hasOwn(config.client_topics, device) ||
    config.allow.includes(device),
  metrics: (sink) => {
    let counts: (() => { active: number; asleep: number; lost: number }) | undefined;
    mqttsnMetrics(sink, () => counts?.());
    return {
      watch: (adapters) => {
        const gateway = adapters.find(isMqttSn);
        if (!gateway) return () => {};
        const lost = new LostDevices();
        counts = () => {
          const c = gateway.stats().clients;
          return { active: c.active + c.awake, asleep: c.asleep, lost: lost.count(waitingNow()) };
        };
        const sub = gateway.events$.subscribe((e) => {
          if (e.kind === 'state') lost.state(e.clientId, e.state, waitingNow());
        });
        return () => {
          sub.unsubscribe();
          counts = undefined;
        };
      },
    };
  },
  observe: (adapters, report) => {
    const subs = adapters.filter(isMqttSn).map((a) =>
      a.events$.subscribe((e) => {
        if (e.kind === 'drop') report.dropped(a.name, e.reason, e.device);
      }),
    );
    return () => {
      for (const s of subs) s.unsubscribe();
    };
  },
  listening: (a) => bound(a),
  up: (a) => bound(a),
});

/** The instance's UDP socket is bound (undefined for another kind's instance). */
function bound(a: Adapter): boolean | undefined {
  if (!isMqttSn(a)) return undefined;
  try {
    return a.address().port > 0;
  } catch {
    return false; // dgram throws when the socket is not bound
  }
}
