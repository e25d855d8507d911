import protobuf from 'protobufjs';

/**
 * The Sparkplug B payload (spBv1.0), written from the 3.0 specification's schema (chapter 6). Only
 * the parts an edge node of scalar metrics uses are declared: DataSet, Template and extension
 * values are left out, and a decoder skips them as unknown fields.
 */
const SCHEMA = `
syntax = "proto2";
package spb;
message PropertyValue {
  optional uint32 type = 1;
  optional bool is_null = 2;
  oneof value {
    uint32 int_value = 3;
    uint64 long_value = 4;
    float float_value = 5;
    double double_value = 6;
    bool boolean_value = 7;
    string string_value = 8;
  }
}
message PropertySet {
  repeated string keys = 1;
  repeated PropertyValue values = 2;
}
message Metric {
  optional string name = 1;
  optional uint64 alias = 2;
  optional uint64 timestamp = 3;
  optional uint32 datatype = 4;
  optional bool is_historical = 5;
  optional bool is_transient = 6;
  optional bool is_null = 7;
  optional PropertySet properties = 9;
  oneof value {
    uint32 int_value = 10;
    uint64 long_value = 11;
    float float_value = 12;
    double double_value = 13;
    bool boolean_value = 14;
    string string_value = 15;
    bytes bytes_value = 16;
  }
}
message Payload {
  optional uint64 timestamp = 1;
  repeated Metric metrics = 2;
  optional uint64 seq = 3;
  optional string uuid = 4;
  optional bytes body = 5;
}
`;

/** Sparkplug data types (the specification's enum values) this edge node publishes. */
export const DataType = {
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
} as const;
export type DataTypeName = keyof typeof DataType;

/** A metric value: 64-bit integers as bigint (or a decimal string) so they stay exact. */
export type MetricValue = number | bigint | boolean | string;

export interface Metric {
  /** Left out of a DDATA when the metric has an alias (its births carry both). */
  name?: string;
  alias?: number;
  type: DataTypeName;
  /** Absent or null: sent with is_null (no value known yet). */
  value?: MetricValue | null;
  /** Wall-clock ms. */
  timestamp?: number;
  historical?: boolean;
  /** Metric properties (engUnit, engLow, engHigh …), each a typed value. */
  properties?: Record<string, { type: DataTypeName; value: MetricValue }>;
}

export interface Payload {
  /** Wall-clock ms when the payload was built. */
  timestamp: number;
  /** Absent on NDEATH. */
  seq?: number;
  metrics: Metric[];
}

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const PayloadType = root.lookupType('spb.Payload');

const U32 = 0x1_0000_0000;
const U64 = 1n << 64n;

/** Which protobuf field carries a type, and the value as that field wants it. */
function wire(type: DataTypeName, v: MetricValue): [field: string, value: unknown] {
  switch (type) {
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'UInt8':
    case 'UInt16':
    case 'UInt32': {
      // Signed values as two's complement in the uint32 field (the specification's rule).
      const n = Math.trunc(Number(v));
      return ['int_value', n < 0 ? n + U32 : n];
    }
    case 'Int64':
    case 'UInt64':
    case 'DateTime': {
      let n = typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? Math.trunc(v) : String(v));
      if (n < 0n) n += U64;
      return ['long_value', longOf(n)];
    }
    case 'Float':
      return ['float_value', Number(v)];
    case 'Double':
      return ['double_value', Number(v)];
    case 'Boolean':
      return ['boolean_value', v === true || v === 'true' || v === 1];
    case 'String':
      return ['string_value', String(v)];
  }
}

/** A uint64 for protobufjs: low and high 32 bits (exact beyond 2^53). */
function longOf(n: bigint): { low: number; high: number; unsigned: boolean } {
  return { low: Number(n & 0xffff_ffffn) | 0, high: Number((n >> 32n) & 0xffff_ffffn) | 0, unsigned: true };
}

function propertySet(props: NonNullable<Metric['properties']>) {
  const keys = Object.keys(props);
  return {
    keys,
    values: keys.map((k) => {
      const p = props[k]!;
      const [field, value] = wire(p.type, p.value);
      // PropertyValue's fields have other numbers than Metric's, but the same names without value_.
      return { type: DataType[p.type], [field]: value };
    }),
  };
}

export function encodePayload(p: Payload): Buffer {
  const metrics = p.metrics.map((m) => {
    const out: Record<string, unknown> = { datatype: DataType[m.type] };
    if (m.name !== undefined) out.name = m.name;
    if (m.alias !== undefined) out.alias = longOf(BigInt(m.alias));
    if (m.timestamp !== undefined) out.timestamp = longOf(BigInt(Math.round(m.timestamp)));
    if (m.historical) out.is_historical = true;
    if (m.value === undefined || m.value === null) out.is_null = true;
    else {
      const [field, value] = wire(m.type, m.value);
      out[field] = value;
    }
    if (m.properties && Object.keys(m.properties).length > 0) out.properties = propertySet(m.properties);
    return out;
  });
  const msg: Record<string, unknown> = { timestamp: longOf(BigInt(Math.round(p.timestamp))), metrics };
  if (p.seq !== undefined) msg.seq = longOf(BigInt(p.seq));
  return Buffer.from(PayloadType.encode(PayloadType.fromObject(msg)).finish());
}

/** A decoded command metric: its name, datatype and value (64-bit integers as bigint). */
export interface DecodedMetric {
  /** '' when the host sent only an alias. */
  name: string;
  alias?: number;
  type: number;
  value: MetricValue | null;
}

/** Decodes what a host sends (NCMD, DCMD); throws on bytes that are not a Sparkplug payload. */
export function decodeCommand(bytes: Buffer): DecodedMetric[] {
  const obj = PayloadType.toObject(PayloadType.decode(bytes), { longs: String }) as {
    metrics?: Record<string, unknown>[];
  };
  return (obj.metrics ?? []).map((m) => ({
    name: String(m.name ?? ''),
    ...(m.alias !== undefined && { alias: Number(m.alias) }),
    type: Number(m.datatype ?? 0),
    value: m.is_null === true ? null : metricValueOf(Number(m.datatype ?? 0), m),
  }));
}

function metricValueOf(type: number, m: Record<string, unknown>): MetricValue | null {
  if (m.int_value !== undefined) {
    const n = Number(m.int_value);
    // Int8, Int16, Int32: two's complement in the uint32 field.
    return type >= 1 && type <= 3 && n >= 0x8000_0000 ? n - U32 : n;
  }
  if (m.long_value !== undefined) {
    let n = BigInt(String(m.long_value));
    if (type === DataType.Int64 && n >= 1n << 63n) n -= U64;
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  for (const f of ['float_value', 'double_value', 'boolean_value', 'string_value'])
    if (m[f] !== undefined) return m[f] as MetricValue;
  return null;
}
