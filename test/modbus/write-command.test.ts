import { describe, expect, it } from 'vitest';
import { modbusBusSchema } from '../../adapters/modbus/config.js';
import { resolvePoints } from '../../adapters/modbus/points.js';
import { parseWriteCommand, type WriteTarget } from '../../adapters/modbus/write-command.js';

const bus = modbusBusSchema.parse({
  name: 'b',
  path: '/dev/null',
  devices: [
    {
      name: 'plc',
      unit: 4,
      byte_order: 'CDAB',
      points: [
        { name: 'relay', fc: 1, address: 2, writable: true },
        { name: 'temp_set', fc: 3, address: 10, type: 'float32', writable: true },
        { name: 'limit', fc: 3, address: 20, type: 'uint16', scale: 0.5, writable: true },
        { name: 'input', fc: 4, address: 0 },
      ],
    },
  ],
});
const devices = new Map<string, WriteTarget>(
  bus.devices.map((d) => [
    d.name,
    { unit: d.unit, points: new Map(resolvePoints(d).map((p) => [p.name, p])) },
  ]),
);
const parse = (body: unknown, device = 'plc') =>
  parseWriteCommand(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), device, devices);

describe('modbus write commands', () => {
  it('picks the write function and encodes the value in the point byte order and scale', () => {
    expect(parse({ point: 'relay', value: 'on' }).write).toEqual({ fc: 5, address: 2, values: [true] });
    // float32 1.5 is 0x3FC00000; CDAB sends the low word first.
    expect(parse({ point: 'temp_set', value: 1.5 }).write).toEqual({
      fc: 16,
      address: 10,
      values: [0x0000, 0x3fc0],
    });
    expect(parse({ point: 'limit', value: '12.5' }).write).toEqual({ fc: 6, address: 20, values: [25] });
  });

  it('the payload may name the device; a device the bus lacks has no write', () => {
    expect(parse({ device: 'plc', point: 'relay', value: 0 }, 'other').device).toBe('plc');
    expect(parse({ point: 'relay', value: 0 }, 'nobody')).toEqual({ device: 'nobody' });
  });

  it('refuses what can never be written, saying why', () => {
    expect(() => parse('relay=1')).toThrow(/must be JSON/);
    expect(() => parse([1])).toThrow(/JSON object/);
    expect(() => parse({ point: 'input', value: 1 })).toThrow(/not writable/);
    expect(() => parse({ point: 'gone', value: 1 })).toThrow(/no point "gone"/);
    expect(() => parse({ point: 'limit' })).toThrow(/no "value"/);
    expect(() => parse({ point: 'limit', value: 40000 })).toThrow(/does not fit uint16/);
    expect(() => parse({ point: 'limit', value: 0.3 })).toThrow(/whole number/);
  });
});
