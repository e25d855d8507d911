import { createRequire } from 'node:module';
import type { Received } from '../harness/subscriber.js';

/**
 * Tahu's own JavaScript decoder (sparkplug-payload): independent of the gateway's codec, which is
 * protobufjs with a schema written from the specification. 64-bit fields come back as Long.
 */
const require = createRequire(import.meta.url);
const tahu = require('sparkplug-payload').get('spBv1.0') as {
  decodePayload(b: Uint8Array): TahuPayload;
  encodePayload(p: unknown): Uint8Array;
};

interface TahuMetric {
  name: string;
  alias?: unknown;
  type: string;
  value: unknown;
  timestamp?: unknown;
  isHistorical?: boolean;
  isNull?: boolean;
  properties?: Record<string, { type: string; value: unknown }>;
}
interface TahuPayload {
  timestamp?: unknown;
  seq?: unknown;
  metrics?: TahuMetric[];
}

/** Long, number or undefined -> bigint (Long printed as unsigned when it carries an Int64). */
export function big(v: unknown): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'bigint') return BigInt(v);
  const l = v as { low: number; high: number };
  return (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
}

export interface SpbMessage {
  topic: string;
  verb: string;
  device?: string;
  seq?: number;
  timestamp?: number;
  metrics: (TahuMetric & { ts?: number; num?: bigint })[];
}

export function decode(m: Received): SpbMessage {
  const parts = m.topic.split('/');
  const p = tahu.decodePayload(m.payload);
  const seq = big(p.seq);
  const ts = big(p.timestamp);
  return {
    topic: m.topic,
    verb: parts[2]!,
    ...(parts[4] !== undefined && { device: parts[4] }),
    ...(seq !== undefined && { seq: Number(seq) }),
    ...(ts !== undefined && { timestamp: Number(ts) }),
    metrics: (p.metrics ?? []).map((x) => {
      const t = big(x.timestamp);
      const isLong = typeof x.value === 'object' && x.value !== null && 'low' in (x.value as object);
      return {
        ...x,
        ...(t !== undefined && { ts: Number(t) }),
        ...(isLong && { num: BigInt.asIntN(64, big(x.value)!) }),
      };
    }),
  };
}

export function encode(p: unknown): Buffer {
  return Buffer.from(tahu.encodePayload(p));
}

export const metric = (m: SpbMessage, name: string) => m.metrics.find((x) => x.name === name);
