import type { MetricSink } from '../../contracts/metric-sink.js';

export interface MqttsnDeviceCounts {
  active: number;
  asleep: number;
  lost: number;
}

/** The MQTT-SN metrics, read from `counts` at scrape time (none while it returns undefined). */
export function mqttsnMetrics(sink: MetricSink, counts: () => MqttsnDeviceCounts | undefined): void {
  sink.pulled<'state'>({
    name: 'mqttsn_devices',
    help: 'MQTT-SN clients by state.',
    labelNames: ['state'],
    type: 'gauge',
    read: () => {
      const c = counts();
      if (!c) return [];
      return (['active', 'asleep', 'lost'] as const).map((state) => ({ labels: { state }, value: c[state] }));
    },
  });
}
