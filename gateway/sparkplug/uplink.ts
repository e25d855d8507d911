import type { Reading } from '../../adapters/types.js';
import type { OutboxMessage } from '../../contracts/store.js';
import type { UplinkOutput, UplinkRules } from '../ingest/index.js';
import type { DeviceModel, MetricDef, StoredValue } from './model.js';
import type { DataTypeName } from './payload.js';
import { mapTopic } from './topic-map.js';
import { deviceTopic, type EdgeIds, validDeviceId } from './topics.js';

/** Outbox lane of Sparkplug rows: sent by the Sparkplug connection alone. */
export const SPARKPLUG_LANE = 1;

/** What a Sparkplug row's payload holds: the metrics' values; the DDATA is built when it is sent. */
export interface StoredMetrics {
  m: Record<string, StoredValue>;
}

/**
 * Readings of the configured sources become Sparkplug rows (lane 1) beside, or instead of, what the
 * rules made of them. The row keeps the values, not a Sparkplug payload: `seq`, the historical flag
 * and the wall-clock timestamp are only known when it is sent.
 */
export class SparkplugUplink {
  /** `fields` objects already published (the readings of one frame or poll share one). */
  private readonly seen = new WeakSet<object>();
  /** Last value reported by exception, per device and metric. */
  private readonly reported = new Map<string, Map<string, StoredValue>>();

  constructor(
    private readonly model: DeviceModel,
    private readonly ids: EdgeIds,
    private readonly qos: 0 | 1,
    /** A rule failed on a reading whose Sparkplug row is kept (logged: ingest does not see the error). */
    private readonly onRuleError?: (reading: Reading, err: unknown) => void,
  ) {}

  /** The rules, with the Sparkplug rows added to their output. */
  wrap(rules: () => UplinkRules): () => UplinkRules {
    const wrapped: UplinkRules = {
      uplink: (reading, now) => {
        const src = this.model.source(reading.source);
        if (!src) return rules().uplink(reading, now);
        const spb = this.message(reading);
        const add = (o: UplinkOutput): UplinkOutput => {
          const messages = src.config.publish === 'sparkplug' ? [] : o.messages;
          return spb ? { ...o, messages: [...messages, spb] } : { ...o, messages };
        };
        // A rule that fails loses its own messages, not the Sparkplug row (its values are taken).
        const failed = (err: unknown): UplinkOutput => {
          if (!spb) throw err;
          this.onRuleError?.(reading, err);
          return { messages: [spb], commands: [], dropped: 'rule_error' };
        };
        let out: ReturnType<UplinkRules['uplink']>;
        try {
          out = rules().uplink(reading, now);
        } catch (err) {
          return failed(err);
        }
        return out instanceof Promise ? out.then(add, failed) : add(out);
      },
    };
    return () => wrapped;
  }

  /** The Sparkplug row of one reading, or none (nothing changed, not a device Sparkplug can name). */
  message(reading: Reading): OutboxMessage | undefined {
    const src = this.model.source(reading.source);
    if (!src) return undefined;
    let device = reading.device;
    let values: Record<string, StoredValue> | undefined;
    let def: MetricDef | undefined;
    if (src.config.metrics) {
      // Mapped topics (MQTT-SN): the config says which device and metric, and the datatype.
      const m = mapTopic(src.config.metrics, reading.topic, reading.device);
      const value = m && parseAs(m.map.datatype, reading.payload.toString('utf8'));
      if (!m || value === undefined) return undefined;
      device = m.device;
      values = { [m.name]: value };
      def = {
        name: m.name,
        type: m.map.datatype,
        writable: m.map.command_topic !== undefined,
        ...(m.map.command_topic !== undefined && { commandTopic: m.map.command_topic }),
        ...(m.map.unit !== undefined && { properties: { engUnit: { type: 'String', value: m.map.unit } } }),
      };
    } else values = this.valuesOf(reading);
    if (!values || !validDeviceId(device)) return undefined;
    if (!this.model.update(reading.source, device, values, reading.receivedAt, def, reading.device))
      return undefined;
    const own = src.config.devices[device];
    const report = own?.report ?? src.config.report;
    const deadband = own?.deadband ? { ...src.config.deadband, ...own.deadband } : src.config.deadband;
    const changed = report === 'every_poll' ? values : this.changed(device, values, deadband);
    if (Object.keys(changed).length === 0) return undefined;
    const stored: StoredMetrics = { m: changed };
    return {
      source: reading.source,
      device,
      topic: deviceTopic(this.ids, 'DDATA', device),
      payload: Buffer.from(JSON.stringify(stored)),
      qos: this.qos,
      retain: false,
      receivedAt: reading.receivedAt,
      lane: SPARKPLUG_LANE,
    };
  }

  /**
   * The values a reading carries: its decoded fields, else its payload as one value named by the
   * topic's last level. The readings an adapter fans out of one frame or poll (one per field or
   * point) share one `fields` object: the first of them carries them all, in one DDATA.
   */
  private valuesOf(r: Reading): Record<string, StoredValue> | undefined {
    const out: Record<string, StoredValue> = {};
    const fields = r.fields;
    if (fields) {
      if (this.seen.has(fields)) return undefined;
      this.seen.add(fields);
      for (const [k, v] of Object.entries(fields)) if (isValue(v)) out[k] = v;
    } else {
      const name = r.topic.slice(r.topic.lastIndexOf('/') + 1) || r.topic;
      const text = r.payload.toString('utf8');
      const n = Number(text);
      out[name] =
        text.trim() !== '' && Number.isFinite(n)
          ? n
          : text === 'true'
            ? true
            : text === 'false'
              ? false
              : text;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /** Report by exception: what differs from the last value reported by more than its deadband. */
  private changed(
    device: string,
    values: Record<string, StoredValue>,
    deadband: Record<string, number>,
  ): Record<string, StoredValue> {
    let last = this.reported.get(device);
    if (!last) {
      last = new Map();
      this.reported.set(device, last);
    }
    const out: Record<string, StoredValue> = {};
    for (const [name, v] of Object.entries(values)) {
      const prev = last.get(name);
      const band = deadband[name] ?? deadband['*'] ?? 0;
      const same =
        prev !== undefined &&
        (typeof v === 'number' && typeof prev === 'number'
          ? Math.abs(v - prev) <= band && (band > 0 || v === prev)
          : v === prev);
      if (same) continue;
      last.set(name, v);
      out[name] = v;
    }
    return out;
  }
}

/** A one-value payload as `type` wants it; undefined when it is not one (a word for a number). */
function parseAs(type: DataTypeName, text: string): StoredValue | undefined {
  const t = text.trim();
  if (type === 'String') return text;
  if (type === 'Boolean') {
    if (['true', '1', 'on'].includes(t.toLowerCase())) return true;
    if (['false', '0', 'off'].includes(t.toLowerCase())) return false;
    return undefined;
  }
  if (/^-?\d+$/.test(t) && (type === 'Int64' || type === 'UInt64' || type === 'DateTime')) return t;
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) return undefined;
  if (type === 'Float' || type === 'Double') return n;
  return Number.isInteger(n) ? n : undefined;
}

function isValue(v: unknown): v is StoredValue {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';
}
