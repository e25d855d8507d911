import type { QoS, Reading } from '../types.js';
import { isPlausibleName } from '../../contracts/field-name.js';
import type { Decoded } from './decode/index.js';
import { type TopicTemplate, topicLevel, valueText } from '../../contracts/topic-template.js';

export interface FanOutContext {
  /** Adapter instance, "serial:<port>". */
  source: string;
  /** Port name: the device id unless the frame carries one. */
  port: string;
  topic: TopicTemplate;
  qos: QoS;
  retain: boolean;
  /** Frame field naming the device (multi-drop buses, radio bridges). */
  deviceField?: string;
  /** Ack sequence field: protocol bookkeeping, not a measurement. */
  seqField?: string;
}

const BUILTINS = new Set(['port', 'device', 'field']);

/**
 * The device a frame is from: its device_field when present, else the port name; undefined when the
 * field holds something that is not a plausible id (it goes into topics and logs: no `/`, no noise).
 */
export function deviceOf(decoded: Decoded, ctx: FanOutContext): string | undefined {
  const v = ctx.deviceField && decoded.kind === 'fields' ? decoded.fields[ctx.deviceField] : undefined;
  if (v === undefined || v === null || v === '') return ctx.port;
  const id = valueText(v);
  return isPlausibleName(id) ? id : undefined;
}

/** Why a decoded frame gave no Readings at all. */
export type FanOutFailure = 'missing_field' | 'bad_device_id';

/**
 * One decoded frame -> Readings. With {field} in the topic: one Reading per field, payload the value
 * as text; fields used as labels (device_field, the ack seq field, other {placeholders}) are not
 * published as values. Without {field}: one Reading per frame, payload the JSON of all fields.
 * Raw frames are one Reading with the bytes as payload ({field} renders as "raw").
 * Fails when the topic needs a frame field the frame lacks, or the device id is implausible. A frame
 * whose every field was dropped for its name gives no Readings (nothing plausible to say).
 */
export function toReadings(
  decoded: Decoded,
  ctx: FanOutContext,
  receivedAt: number,
): Reading[] | FanOutFailure {
  const device = deviceOf(decoded, ctx);
  if (device === undefined) return 'bad_device_id';
  const fields = decoded.kind === 'fields' ? decoded.fields : undefined;
  if (fields && decoded.kind === 'fields' && decoded.dropped?.length && Object.keys(fields).length === 0)
    return [];
  const topicFor = (field: string) =>
    ctx.topic.render(
      (name) =>
        name === 'port' ? ctx.port : name === 'device' ? device : name === 'field' ? field : fields?.[name],
      topicLevel,
    );
  const reading = (topic: string, payload: Buffer): Reading => ({
    source: ctx.source,
    device,
    topic,
    payload,
    qos: ctx.qos,
    retain: ctx.retain,
    receivedAt,
    ...(fields && { fields }),
  });

  if (decoded.kind === 'raw') {
    const topic = topicFor('raw');
    return topic === undefined ? 'missing_field' : [reading(topic, decoded.payload)];
  }
  if (!ctx.topic.names.has('field')) {
    const topic = topicFor('');
    return topic === undefined
      ? 'missing_field'
      : [reading(topic, Buffer.from(JSON.stringify(decoded.fields)))];
  }
  const labels = new Set([...ctx.topic.names].filter((n) => !BUILTINS.has(n)));
  if (ctx.deviceField) labels.add(ctx.deviceField);
  if (ctx.seqField) labels.add(ctx.seqField);
  const out: Reading[] = [];
  for (const [field, value] of Object.entries(decoded.fields)) {
    if (labels.has(field)) continue;
    const topic = topicFor(field);
    if (topic === undefined) return 'missing_field';
    out.push(reading(topic, Buffer.from(valueText(value))));
  }
  return out;
}
