import type { Metrics } from './metrics.js';

/** The fieldgate metric values at one instant, as plain numbers (for the stats payload). */
export interface MetricsSnapshot {
  messagesIn: Record<string, number>;
  messagesOut: Record<string, number>;
  /** Summed over sources. */
  droppedByReason: Record<string, number>;
  outbox: { rows: number; bytes: number; oldestAgeSeconds: number };
  inboxRows: number;
  upstream: { connected: boolean; reconnects: number; inflight: number };
  mqttsnDevices: Record<string, number>;
  /** port -> state */
  serialPorts: Record<string, string>;
  commands: Record<string, number>;
  e2eLatency: { count: number; sumSeconds: number };
}

type Values = { value: number; labels: Record<string, string | number>; metricName?: string }[];

/** Read the registry once (gauge callbacks run) and fold it into a MetricsSnapshot. */
export async function takeSnapshot(metrics: Metrics): Promise<MetricsSnapshot> {
  const byName = new Map<string, Values>();
  for (const m of await metrics.registry.getMetricsAsJSON()) byName.set(m.name, m.values as Values);
  const values = (name: string): Values => byName.get(`fieldgate_${name}`) ?? [];
  const one = (name: string): number => values(name)[0]?.value ?? 0;
  const by = (name: string, label: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const v of values(name)) {
      const key = String(v.labels[label]);
      out[key] = (out[key] ?? 0) + v.value;
    }
    return out;
  };
  const serialPorts: Record<string, string> = {};
  for (const v of values('serial_ports'))
    if (v.value) serialPorts[String(v.labels.port)] = String(v.labels.state);
  const commands: Record<string, number> = {};
  for (const v of values('commands_total')) commands[`${v.labels.target}:${v.labels.outcome}`] = v.value;
  const hist = values('e2e_latency_seconds');
  const pick = (suffix: string) =>
    hist.find((v) => v.metricName === `fieldgate_e2e_latency_seconds_${suffix}`)?.value ?? 0;

  return {
    messagesIn: by('messages_in_total', 'source'),
    messagesOut: by('messages_out_total', 'qos'),
    droppedByReason: by('messages_dropped_total', 'reason'),
    outbox: {
      rows: one('outbox_rows'),
      bytes: one('outbox_bytes'),
      oldestAgeSeconds: one('outbox_oldest_age_seconds'),
    },
    inboxRows: one('inbox_rows'),
    upstream: {
      connected: one('upstream_connected') === 1,
      reconnects: one('upstream_reconnects_total'),
      inflight: one('upstream_inflight'),
    },
    mqttsnDevices: by('mqttsn_devices', 'state'),
    serialPorts,
    commands,
    e2eLatency: { count: pick('count'), sumSeconds: pick('sum') },
  };
}
