import type { Reading } from '../adapters/types.js';

/**
 * What filters, transforms and `when` conditions see (JSONata input), e.g. `payload.temp > 30`:
 *   topic, device, source, gateway, qos, retain, receivedAt,
 *   payload  - the payload parsed as JSON when it parses (so "21.5" is a number), else the text,
 *   fields   - the adapter's decoded fields, else the payload when it is a JSON object, else {},
 *   captures - the named wildcards of the matched pattern.
 */
export interface RuleInput {
  topic: string;
  device: string;
  source: string;
  gateway: string;
  qos: number;
  retain: boolean;
  receivedAt: number;
  payload: unknown;
  fields: Record<string, unknown>;
  captures: Record<string, string>;
}

/** Payload text and its JSON reading, computed once per message and shared by every rule. */
export interface DecodedPayload {
  text: string;
  value: unknown;
  fields: Record<string, unknown>;
}

export function decodePayload(payload: Buffer, fields?: Record<string, unknown>): DecodedPayload {
  const text = payload.toString('utf8');
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: rules see the text
  }
  const obj =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  return { text, value, fields: fields ?? obj };
}

export function ruleInput(
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
  captures: Record<string, string>,
): RuleInput {
  return {
    topic: reading.topic,
    device: reading.device,
    source: reading.source,
    gateway,
    qos: reading.qos,
    retain: reading.retain,
    receivedAt: reading.receivedAt,
    payload: decoded.value,
    fields: decoded.fields,
    captures,
  };
}

/** JSONata result -> bytes: Buffers and strings as they are, anything else as JSON. */
export function encodePayload(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.from(JSON.stringify(v), 'utf8');
}
