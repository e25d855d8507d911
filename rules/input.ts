import { timeTrusted, wallOf } from '../contracts/clock.js';
import type { Reading } from '../adapters/types.js';

/**
 * What filters, transforms and `when` conditions see (JSONata input), e.g. `payload.temp > 30`:
 *   topic, device, source, gateway, qos, retain, receivedAt (wall ms), timeSynchronized,
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
  /** false when receivedAt was read from a clock not (yet) synchronized: it may be wrong. */
  timeSynchronized: boolean;
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

/**
 * Decoded lazily: most readings pass rules that never look at the payload, and a failed
 * JSON.parse (plain text payloads) costs an exception per message. One object per reading, no closures.
 */
export function decodePayload(payload: Buffer, fields?: Record<string, unknown>): DecodedPayload {
  return new LazyPayload(payload, fields);
}

class LazyPayload implements DecodedPayload {
  private textCache: string | undefined;
  private valueCache: unknown;
  private parsed = false;

  constructor(
    private readonly payload: Buffer,
    private readonly given: Record<string, unknown> | undefined,
  ) {}

  get text(): string {
    this.textCache ??= this.payload.toString('utf8');
    return this.textCache;
  }

  get value(): unknown {
    if (!this.parsed) {
      this.parsed = true;
      this.valueCache = parseJson(this.text);
    }
    return this.valueCache;
  }

  get fields(): Record<string, unknown> {
    if (this.given) return this.given;
    const v = this.value;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  }
}

/** JSON when it parses, else the text itself; skips JSON.parse for text that cannot be JSON. */
function parseJson(text: string): unknown {
  if (!/^\s*[[{"\-0-9tfn]/.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: rules see the text
  }
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
    // Readings carry waiting-clock time; a rule sees the wall time (right since the last clock step).
    receivedAt: wallOf(reading.receivedAt),
    timeSynchronized: timeTrusted(reading.receivedAt),
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
