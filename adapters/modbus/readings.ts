import { compileTopicTemplate, type TopicTemplate, topicLevel } from '../../contracts/topic-template.js';
import type { QoS, Reading } from '../types.js';
import type { PointValue } from './value.js';

export interface ReadingContext {
  /** "modbus:<bus>". */
  source: string;
  bus: string;
  device: string;
  topic: TopicTemplate;
  qos: QoS;
  retain: boolean;
}

export function readingContext(
  source: string,
  bus: string,
  device: string,
  topic: string,
  qos: QoS,
  retain: boolean,
): ReadingContext {
  return { source, bus, device, topic: compileTopicTemplate(topic), qos, retain };
}

/**
 * One poll's values -> Readings. With {point} in the topic: one per point, payload the value as
 * text (1234.56, true, the string); without: one JSON object per poll. `fields` holds every value
 * of the poll for rules either way.
 */
export function toReadings(ctx: ReadingContext, values: Map<string, PointValue>, at: number): Reading[] {
  const fields = Object.fromEntries([...values].map(([k, v]) => [k, v.value]));
  const topicFor = (point: string) => pointTopic(ctx, point);
  const reading = (topic: string, payload: string): Reading => ({
    source: ctx.source,
    device: ctx.device,
    topic,
    payload: Buffer.from(payload),
    qos: ctx.qos,
    retain: ctx.retain,
    receivedAt: at,
    fields,
  });
  if (!ctx.topic.names.has('point')) {
    const topic = topicFor('');
    return topic === undefined ? [] : [reading(topic, jsonOf(values))];
  }
  const out: Reading[] = [];
  for (const [point, v] of values) {
    const topic = topicFor(point);
    if (topic !== undefined) out.push(reading(topic, v.text));
  }
  return out;
}

/** The topic a point's value goes out on (with {point}), or the device's one topic ('' for point). */
export function pointTopic(
  ctx: Pick<ReadingContext, 'bus' | 'device' | 'topic'>,
  point: string,
): string | undefined {
  return ctx.topic.render(
    (n) => (n === 'bus' ? ctx.bus : n === 'device' ? ctx.device : n === 'point' ? point : undefined),
    topicLevel,
  );
}

/** JSON with numbers written as their exact text (64-bit integers beyond 2^53 stay exact). */
function jsonOf(values: Map<string, PointValue>): string {
  const parts = [...values].map(
    ([k, v]) => `${JSON.stringify(k)}:${v.kind === 'string' ? JSON.stringify(v.text) : v.text}`,
  );
  return `{${parts.join(',')}}`;
}
