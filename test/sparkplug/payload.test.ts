import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodePayload, type Metric } from '../../gateway/sparkplug/payload.js';
import { big, encode } from './decode.js';

const require = createRequire(import.meta.url);
const tahu = require('sparkplug-payload').get('spBv1.0');
// Tahu's generated protobuf module, to read the raw fields (which oneof member carries a value).
const raw = require('sparkplug-payload/lib/sparkplugPayloadProto.js').org.eclipse.tahu.protobuf.Payload;

interface TahuMetric {
  name: string;
  type: string;
  value: unknown;
  isNull?: boolean;
  isHistorical?: boolean;
  timestamp?: unknown;
  properties?: Record<string, { type: string; value: unknown }>;
}
const decoded = (metrics: Metric[], seq = 7) => {
  const p = tahu.decodePayload(encodePayload({ timestamp: 1_700_000_000_123, seq, metrics }));
  return { p, m: p.metrics as TahuMetric[] };
};

describe('Sparkplug B payload codec (decoded by Tahu, which the gateway does not use)', () => {
  it('payload timestamp and seq; an NDEATH-shaped payload has no seq', () => {
    const { p } = decoded([], 255);
    expect(big(p.timestamp)).toBe(1_700_000_000_123n);
    expect(big(p.seq)).toBe(255n);
    const death = tahu.decodePayload(
      encodePayload({ timestamp: 1, metrics: [{ name: 'bdSeq', type: 'Int64', value: 3 }] }),
    );
    expect(death.seq).toBeUndefined();
    expect(death.metrics[0].type).toBe('Int64');
  });

  it("every scalar datatype keeps its value, signed ones as two's complement", () => {
    const { m } = decoded([
      { name: 'i8', type: 'Int8', value: -128 },
      { name: 'i16', type: 'Int16', value: -2 },
      { name: 'i32', type: 'Int32', value: -2147483648 },
      { name: 'u8', type: 'UInt8', value: 255 },
      { name: 'u16', type: 'UInt16', value: 65535 },
      { name: 'f', type: 'Float', value: 230.5 },
      { name: 'd', type: 'Double', value: 12345.678901234 },
      { name: 'b', type: 'Boolean', value: false },
      { name: 's', type: 'String', value: 'SDM630' },
    ]);
    expect(m.map((x) => [x.name, x.type, x.value])).toEqual([
      ['i8', 'Int8', -128],
      ['i16', 'Int16', -2],
      ['i32', 'Int32', -2147483648],
      ['u8', 'UInt8', 255],
      ['u16', 'UInt16', 65535],
      ['f', 'Float', 230.5],
      ['d', 'Double', 12345.678901234],
      ['b', 'Boolean', false],
      ['s', 'String', 'SDM630'],
    ]);
  });

  it('64-bit integers and DateTime are exact beyond 2^53', () => {
    const { m } = decoded([
      { name: 'i64', type: 'Int64', value: -(2n ** 62n) },
      { name: 'u64', type: 'UInt64', value: '18446744073709551615' },
      { name: 'dt', type: 'DateTime', value: 1_700_000_000_000 },
    ]);
    expect(BigInt.asIntN(64, big(m[0]!.value)!)).toBe(-(2n ** 62n));
    expect(big(m[1]!.value)).toBe(2n ** 64n - 1n);
    expect(big(m[2]!.value)).toBe(1_700_000_000_000n);
    expect(m[2]!.type).toBe('DateTime');
  });

  it('UInt32 goes in int_value as the specification says (Tahu JS 1.0.3 reads it from long_value)', () => {
    const bytes = encodePayload({
      timestamp: 1,
      metrics: [{ name: 'u32', type: 'UInt32', value: 4_000_000_000 }],
    });
    const fields = raw.decode(bytes).metrics[0];
    expect(fields.intValue).toBe(4_000_000_000);
    expect(decodeCommand(bytes)[0]!.value).toBe(4_000_000_000);
  });

  it('is_null, is_historical, metric timestamps and properties (engUnit, engLow, engHigh)', () => {
    const { m } = decoded([
      { name: 'v', type: 'Double', value: null },
      {
        name: 'e',
        type: 'Double',
        value: 1.5,
        historical: true,
        timestamp: 1_600_000_000_000,
        properties: {
          engUnit: { type: 'String', value: 'kWh' },
          engLow: { type: 'Double', value: 0 },
          engHigh: { type: 'Double', value: 1e6 },
        },
      },
    ]);
    expect(m[0]).toMatchObject({ name: 'v', type: 'Double', value: null });
    const nulled = encodePayload({ timestamp: 1, metrics: [{ name: 'v', type: 'Double', value: null }] });
    expect(raw.decode(nulled).metrics[0].isNull).toBe(true);
    expect(m[1]).toMatchObject({ isHistorical: true, value: 1.5 });
    expect(big(m[1]!.timestamp)).toBe(1_600_000_000_000n);
    expect(m[1]!.properties).toEqual({
      engUnit: { type: 'String', value: 'kWh' },
      engLow: { type: 'Double', value: 0 },
      engHigh: { type: 'Double', value: 1e6 },
    });
  });

  it('decodes what a host encodes with Tahu (NCMD, DCMD), signed and 64-bit values included', () => {
    const bytes = encode({
      timestamp: Date.now(),
      metrics: [
        { name: 'Node Control/Rebirth', type: 'Boolean', value: true },
        { name: 'sp', type: 'Int16', value: -42 },
        { name: 'big', type: 'Int64', value: -5 },
        { name: 'x', type: 'Double', value: 61.5 },
        { name: 't', type: 'String', value: 'on' },
      ],
    });
    expect(decodeCommand(bytes)).toEqual([
      { name: 'Node Control/Rebirth', type: 11, value: true },
      { name: 'sp', type: 2, value: -42 },
      { name: 'big', type: 4, value: -5 },
      { name: 'x', type: 10, value: 61.5 },
      { name: 't', type: 12, value: 'on' },
    ]);
  });

  it('bytes that are not a Sparkplug payload throw (the edge node refuses and counts them)', () => {
    expect(() => decodeCommand(Buffer.from([0xff, 0xff, 0xff]))).toThrow();
  });
});
