import { describe, expect, it } from 'vitest';
import { serialPortConfigSchema } from '../../adapters/serial/config.js';
import { createDecoder } from '../../adapters/serial/decode/index.js';
import { compileConfig } from '../../adapters/serial/compiled.js';
import { toReadings } from '../../adapters/serial/to-readings.js';

const port = (over: Record<string, unknown> = {}) =>
  serialPortConfigSchema.parse({ name: 'weather', path: '/dev/null', ...over });
const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

describe('serial field names (line noise must not become topics)', () => {
  it('kv: a field with an implausible name is dropped and reported, the rest kept', () => {
    const decode = createDecoder(port());
    expect(decode(b('te\u0013mp:21.5 humi:40'))).toEqual({
      kind: 'fields',
      fields: { humi: 40 },
      dropped: [{ name: 'te\u0013mp', reason: 'bad_field_name' }],
    });
    expect(decode(b('t\u00e9mp:1 a+b:2 x#:3 ok_1.a-b:4'))).toMatchObject({
      fields: { 'ok_1.a-b': 4 },
      dropped: [
        { name: 't\u00e9mp', reason: 'bad_field_name' },
        { name: 'a+b', reason: 'bad_field_name' },
        { name: 'x#', reason: 'bad_field_name' },
      ],
    });
    expect(decode(b(`${'k'.repeat(65)}:1`))).toMatchObject({ dropped: [{ reason: 'bad_field_name' }] });
    expect(decode(b('temp:21.5'))).toEqual({ kind: 'fields', fields: { temp: 21.5 } });
  });

  it('json: keys get the same check', () => {
    const decode = createDecoder(port({ format: 'json' }));
    expect(decode(b('{"temp":1,"a/b":2,"":3,"\\u0000":4}'))).toEqual({
      kind: 'fields',
      fields: { temp: 1 },
      dropped: [
        { name: 'a/b', reason: 'bad_field_name' },
        { name: '', reason: 'bad_field_name' },
        { name: '\u0000', reason: 'bad_field_name' },
      ],
    });
  });

  it('a frame that is not UTF-8 is unparsable (not keys and values with U+FFFD in them)', () => {
    expect(createDecoder(port())(b([0x74, 0xff, 0x3a, 0x31]))).toBeUndefined();
    expect(
      createDecoder(port({ format: 'json' }))(b([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d])),
    ).toBeUndefined();
    expect(createDecoder(port({ format: 'csv', columns: ['a'] }))(b([0xfe]))).toBeUndefined();
    expect(createDecoder(port())(b('\uFEFFtemp:1'))).toEqual({ kind: 'fields', fields: { temp: 1 } }); // BOM ok
  });

  it('fields: [..] keeps only listed fields, plus the fields the config reads', () => {
    const cfg = port({
      fields: ['temp', 'humi'],
      device_field: 'id',
      ack: { seq_field: 'seq' },
      topic: 'sensors/{room}/{device}/{field}',
    });
    const decoded = createDecoder(cfg)(b('temp:1 humi:2 id:n7 seq:3 room:lab vbat:3.1'));
    expect(decoded).toEqual({
      kind: 'fields',
      fields: { temp: 1, humi: 2, id: 'n7', seq: 3, room: 'lab' },
      dropped: [{ name: 'vbat', reason: 'unlisted_field' }],
    });
    const rs = toReadings(decoded!, compileConfig(cfg).fanOut, 1);
    expect(Array.isArray(rs) && rs.map((r) => r.topic)).toEqual([
      'sensors/lab/n7/temp',
      'sensors/lab/n7/humi',
    ]);
  });

  it('a frame whose every field was dropped gives no readings, not an empty JSON message', () => {
    const cfg = port({ topic: 'sensors/{device}' }); // one JSON message per frame
    const decoded = createDecoder(cfg)(b('\u0001x:1'));
    expect(toReadings(decoded!, compileConfig(cfg).fanOut, 1)).toEqual([]);
  });

  it('device_field: an implausible device id drops the frame', () => {
    const cfg = port({ device_field: 'id' });
    const fanOut = compileConfig(cfg).fanOut;
    const decode = createDecoder(cfg);
    expect(toReadings(decode(b('id:"n/7" temp:1'))!, fanOut, 1)).toBe('bad_device_id');
    expect(toReadings(decode(b('id:"a\u0013" temp:1'))!, fanOut, 1)).toBe('bad_device_id');
    const ok = toReadings(decode(b('id:17 temp:1'))!, fanOut, 1);
    expect(Array.isArray(ok) && ok[0]!.topic).toBe('sensors/17/temp');
  });

  it('config: field names, csv columns, device_field and topic fixed text are checked', () => {
    const bad = (over: Record<string, unknown>) => {
      const r = serialPortConfigSchema.safeParse({ name: 'w', path: '/dev/null', ...over });
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(bad({ fields: ['temp', 'h umi'] })).toEqual(['fields.1']);
    expect(bad({ format: 'csv', columns: ['a', 'b/c'] })).toEqual(['columns.1']);
    expect(bad({ device_field: 'a#' })).toEqual(['device_field']);
    expect(bad({ topic: 'sensors/+/{field}' })).toEqual(['topic']);
    expect(bad({ topic: 'sensors/\u0007/{field}' })).toEqual(['topic']);
    expect(bad({ format: 'raw', fields: ['a'] })).toEqual(['fields']);
    expect(bad({ fields: ['temp'], topic: 'sensors//{device}/{field}' })).toEqual([]);
  });
});
