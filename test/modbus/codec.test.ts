import { describe, expect, it } from 'vitest';
import { decodeRegisters, encodeRegisters } from '../../adapters/modbus/codec.js';
import { BYTE_ORDERS, modbusBusSchema, type PointType } from '../../adapters/modbus/config.js';
import { planReads } from '../../adapters/modbus/planner.js';
import { type Point, resolvePoints } from '../../adapters/modbus/points.js';
import { toRaw, toValue } from '../../adapters/modbus/value.js';

const noScale = { scale: 1, offset: 0 };

describe('modbus point codecs', () => {
  it('reads 0x12345678 in each byte order from the words a device of that order sends', () => {
    const wire = {
      ABCD: [0x1234, 0x5678],
      BADC: [0x3412, 0x7856],
      CDAB: [0x5678, 0x1234],
      DCBA: [0x7856, 0x3412],
    };
    for (const order of BYTE_ORDERS) expect(decodeRegisters(wire[order], 'uint32', order)).toBe(0x12345678);
  });

  it('16-bit values swap bytes for BADC/DCBA only', () => {
    expect(decodeRegisters([0x1234], 'uint16', 'CDAB')).toBe(0x1234);
    expect(decodeRegisters([0x3412], 'uint16', 'BADC')).toBe(0x1234);
    expect(decodeRegisters([0xfffe], 'int16', 'ABCD')).toBe(-2);
  });

  it('every type round-trips through encode/decode in every byte order', () => {
    const cases: [PointType, number | bigint | string | boolean][] = [
      ['bool', true],
      ['int16', -1234],
      ['uint16', 65000],
      ['int32', -123456789],
      ['uint32', 4000000000],
      ['float32', 230.5],
      ['int64', -(2n ** 62n) - 5n],
      ['uint64', 2n ** 64n - 2n],
      ['float64', 12345.678901234],
    ];
    for (const order of BYTE_ORDERS)
      for (const [type, v] of cases)
        expect(decodeRegisters(encodeRegisters(v, type, order), type, order)).toBe(v);
    expect(decodeRegisters(encodeRegisters('SDM630', 'string', 'ABCD', 5), 'string', 'ABCD')).toBe('SDM630');
  });

  it('refuses values that do not fit the type', () => {
    expect(() => encodeRegisters(70000, 'uint16', 'ABCD')).toThrow(RangeError);
    expect(() => encodeRegisters(-1, 'uint32', 'ABCD')).toThrow(RangeError);
    expect(() => encodeRegisters('too long text', 'string', 'ABCD', 2)).toThrow(RangeError);
  });

  it('a bool on a register picks one bit', () => {
    expect(decodeRegisters([0b100], 'bool', 'ABCD', 2)).toBe(true);
    expect(decodeRegisters([0b100], 'bool', 'ABCD', 1)).toBe(false);
  });
});

describe('modbus values without float noise', () => {
  it('123456 x 0.01 prints 1234.56', () => {
    expect(toValue(123456, 'uint32', { scale: 0.01, offset: 0 }).text).toBe('1234.56');
    // Where plain multiplication leaves noise: 2731 * 0.01 is 27.310000000000002, 3 * 0.1 is 0.30000000000000004.
    expect(toValue(2731, 'uint16', { scale: 0.01, offset: 0 }).text).toBe('27.31');
    expect(toValue(3, 'uint16', { scale: 0.1, offset: 0 }).text).toBe('0.3');
    expect(toValue(1234567, 'uint32', { scale: 0.1, offset: 0 }).text).toBe('123456.7');
  });

  it('float32 prints its shortest decimal; scale, offset and decimals apply', () => {
    const f = Math.fround(230.1);
    expect(toValue(f, 'float32', noScale).text).toBe('230.1');
    expect(toValue(2731, 'int16', { scale: 0.1, offset: -273.1 }).text).toBe('0');
    expect(toValue(Math.fround(1234.5677), 'float32', { scale: 1, offset: 0, decimals: 2 }).text).toBe(
      '1234.57',
    );
    expect(toValue(7, 'uint16', { scale: 10, offset: 0 }).text).toBe('70');
  });

  it('64-bit integers stay exact as text', () => {
    const v = toValue(2n ** 63n - 1n, 'int64', noScale);
    expect(v.text).toBe('9223372036854775807');
    expect(v.kind).toBe('number');
  });

  it('writes invert scale and offset, rounding float noise but refusing real fractions', () => {
    expect(toRaw(1234.56, 'uint32', { scale: 0.01, offset: 0 })).toBe(123456);
    expect(toRaw('21.5', 'int16', { scale: 0.1, offset: 0 })).toBe(215);
    expect(() => toRaw(1.5, 'uint16', noScale)).toThrow(/whole number/);
    expect(toRaw('on', 'bool', noScale)).toBe(true);
    expect(() => toRaw('maybe', 'bool', noScale)).toThrow(RangeError);
  });
});

function points(list: Record<string, unknown>[]): Point[] {
  const bus = modbusBusSchema.parse({ name: 'b', path: '/dev/null', devices: [{ name: 'd', points: list }] });
  return resolvePoints(bus.devices[0]!);
}

describe('modbus read planner', () => {
  it('merges adjacent registers of one function code, never across function codes', () => {
    const plans = planReads(
      points([
        { name: 'a', fc: 4, address: 0, type: 'float32' },
        { name: 'b', fc: 4, address: 2, type: 'float32' },
        { name: 'c', fc: 4, address: 10, type: 'uint16' },
        { name: 'd', fc: 3, address: 4 },
        { name: 'e', fc: 1, address: 0 },
        { name: 'f', fc: 1, address: 1 },
      ]),
      125,
      0,
    );
    expect(plans.map((p) => [p.fc, p.address, p.count, p.points.map((x) => x.name).join('')])).toEqual([
      [1, 0, 2, 'ef'],
      [3, 4, 1, 'd'],
      [4, 0, 4, 'ab'],
      [4, 10, 1, 'c'],
    ]);
  });

  it('merge_gap spans small holes; max registers splits long runs', () => {
    const list = Array.from({ length: 100 }, (_, i) => ({
      name: `p${i}`,
      fc: 3,
      address: i * 2,
      type: 'uint32',
    }));
    const plans = planReads(points(list), 125, 0);
    expect(plans.map((p) => p.count)).toEqual([124, 76]);
    expect(plans.every((p) => p.count <= 125)).toBe(true);
    const holes = points([
      { name: 'a', fc: 3, address: 0 },
      { name: 'b', fc: 3, address: 3 },
    ]);
    expect(planReads(holes, 125, 0)).toHaveLength(2);
    expect(planReads(holes, 125, 2).map((p) => p.count)).toEqual([4]);
  });
});

describe('modbus config', () => {
  const parse = (bus: Record<string, unknown>) => modbusBusSchema.safeParse({ name: 'b', ...bus });
  const messages = (r: ReturnType<typeof parse>) =>
    r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

  it('refuses what an installer gets wrong, with the key path', () => {
    const r = parse({
      path: '/dev/ttyUSB0',
      topic: 'x/{device}/{nope}',
      devices: [
        {
          name: 'm',
          unit: 0,
          points: [
            { name: 'a', fc: 4, address: 0, writable: true },
            { name: 'a', fc: 1, address: 0, type: 'float32' },
            { name: 's', fc: 3, address: 0, type: 'string' },
          ],
        },
      ],
    });
    expect(messages(r)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^topic: unknown placeholder \{nope\}/),
        expect.stringMatching(/^devices\.0\.unit: an RTU unit id is 1-247/),
        expect.stringMatching(/^devices\.0\.points\.0\.writable: fc 4 is read-only/),
        expect.stringMatching(/^devices\.0\.points\.1\.name: duplicate point name/),
        expect.stringMatching(/^devices\.0\.points\.1\.type: fc 1 reads bits/),
        expect.stringMatching(/^devices\.0\.points\.2\.length: type string needs length/),
      ]),
    );
    expect(
      messages(parse({ devices: [{ name: 'm', points: [{ name: 'a', fc: 3, address: 0 }] }] }))[0],
    ).toMatch(/either path .* or tcp/);
  });
});
