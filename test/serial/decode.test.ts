import { describe, expect, it, vi } from 'vitest';
import { settleGroup } from '../../adapters/serial/ack.js';
import { decodeCsv } from '../../adapters/serial/decode/csv.js';
import { decodeJson } from '../../adapters/serial/decode/json.js';
import { decodeKv } from '../../adapters/serial/decode/kv.js';
import { encodeRaw } from '../../adapters/serial/decode/raw.js';
import { unescapeBytes } from '../../adapters/serial/escapes.js';
import { compileTopicTemplate } from '../../contracts/topic-template.js';
import { type FanOutContext, toReadings } from '../../adapters/serial/to-readings.js';
import { serialPortConfigSchema } from '../../adapters/serial/config.js';

const b = (s: string) => Buffer.from(s);

describe('kv decoding', () => {
  it('reads key:value and key=value pairs with any separator, numbers as numbers', () => {
    expect(decodeKv(b('temp:25 humi:47\r'))).toEqual({ temp: 25, humi: 47 });
    expect(decodeKv(b('temp=25.5,humi=-3;ok=yes'))).toEqual({ temp: 25.5, humi: -3, ok: 'yes' });
    expect(decodeKv(b('temp: 1e3  status = on'))).toEqual({ temp: 1000, status: 'on' });
    expect(decodeKv(b('name="shed 2" v=0x1F t=12:30'))).toEqual({ name: 'shed 2', v: '0x1F', t: '12:30' });
  });
  it('rejects frames that are not all pairs', () => {
    expect(decodeKv(b(''))).toBeUndefined();
    expect(decodeKv(b('hello'))).toBeUndefined();
    expect(decodeKv(b('\u0003\u00ffgarbage temp:25'))).toBeUndefined();
    expect(decodeKv(b('temp:25 humi'))).toBeUndefined();
  });
});

describe('json decoding', () => {
  it('accepts objects only', () => {
    expect(decodeJson(b(' {"temp":25,"id":"a"}\r'))).toEqual({ temp: 25, id: 'a' });
    expect(decodeJson(b('[1,2]'))).toBeUndefined();
    expect(decodeJson(b('42'))).toBeUndefined();
    expect(decodeJson(b('{"temp":'))).toBeUndefined();
  });
});

describe('csv decoding', () => {
  it('names values by columns and converts numbers', () => {
    expect(decodeCsv(b('25.1, 47,ok'), ['temp', 'humi', 'status'])).toEqual({
      temp: 25.1,
      humi: 47,
      status: 'ok',
    });
    expect(decodeCsv(b('25;47'), ['temp', 'humi'], ';')).toEqual({ temp: 25, humi: 47 });
  });
  it('rejects rows with the wrong number of values', () => {
    expect(decodeCsv(b('25.1,47'), ['temp', 'humi', 'status'])).toBeUndefined();
    expect(decodeCsv(b('1,2,3,4'), ['temp', 'humi', 'status'])).toBeUndefined();
  });
});

describe('raw encoding', () => {
  it('keeps bytes or turns them into hex/base64 text', () => {
    const f = Buffer.from([0, 1, 0xfe]);
    expect(encodeRaw(f, 'bytes')).toEqual(f);
    expect(encodeRaw(f, 'hex').toString()).toBe('0001fe');
    expect(encodeRaw(f, 'base64').toString()).toBe('AAH+');
  });
});

describe('escapes and templates', () => {
  it('unescapes config strings into bytes', () => {
    expect(unescapeBytes('\\r\\n')).toEqual(b('\r\n'));
    expect(unescapeBytes('\\x02|\\x03')).toEqual(Buffer.from([2, 0x7c, 3]));
    expect(unescapeBytes('\n')).toEqual(b('\n'));
  });
  it('renders placeholders and reports missing ones', () => {
    const t = compileTopicTemplate('a/{x}/{y}');
    expect(t.render((n) => ({ x: 1, y: 'b' })[n])).toBe('a/1/b');
    expect(t.render((n) => ({ x: 1 })[n as 'x'])).toBeUndefined();
  });
});

describe('topic fan-out', () => {
  const ctx = (topic: string, extra: Partial<FanOutContext> = {}): FanOutContext => ({
    source: 'serial:w',
    port: 'w',
    topic: compileTopicTemplate(topic),
    qos: 1,
    retain: false,
    ...extra,
  });
  const fields = (f: Record<string, unknown>) => ({ kind: 'fields' as const, fields: f });
  const fan = (...a: Parameters<typeof toReadings>) => {
    const r = toReadings(...a);
    if (typeof r === 'string') throw new Error(`no readings: ${r}`);
    return r;
  };

  it('makes one Reading per field with {field}, payload the value as text', () => {
    const rs = fan(fields({ temp: 25, humi: 47.5, tag: { a: 1 } }), ctx('s/{port}/{device}/{field}'), 7);
    expect(rs.map((r) => [r.topic, r.payload.toString()])).toEqual([
      ['s/w/w/temp', '25'],
      ['s/w/w/humi', '47.5'],
      ['s/w/w/tag', '{"a":1}'],
    ]);
    expect(rs[0]).toMatchObject({ source: 'serial:w', device: 'w', qos: 1, retain: false, receivedAt: 7 });
    expect(rs[0]!.fields).toEqual({ temp: 25, humi: 47.5, tag: { a: 1 } });
  });

  it('makes one JSON Reading per frame without {field}', () => {
    const rs = fan(fields({ temp: 25, room: 'k' }), ctx('s/{room}/all'), 1);
    expect(rs).toHaveLength(1);
    expect(rs[0]!.topic).toBe('s/k/all');
    expect(JSON.parse(rs[0]!.payload.toString())).toEqual({ temp: 25, room: 'k' });
  });

  it('takes the device from device_field and keeps label fields out of the per-field fan-out', () => {
    const c = ctx('s/{device}/{room}/{field}', { deviceField: 'id', seqField: 'seq' });
    const rs = fan(fields({ id: 'n-7', room: 'k/1', seq: 3, temp: 1 }), c, 1);
    expect(rs.map((r) => r.topic)).toEqual(['s/n-7/k_1/temp']);
    expect(rs[0]!.device).toBe('n-7');
    expect(toReadings(fields({ temp: 1 }), c, 1)).toBe('missing_field'); // {room} missing
    expect(fan(fields({ room: 'k', temp: 1 }), c, 1)[0]!.device).toBe('w'); // no id: port name
  });

  it('publishes raw frames whole', () => {
    const rs = fan({ kind: 'raw', payload: Buffer.from([1, 2]) }, ctx('s/{device}/{field}'), 1);
    expect(rs).toHaveLength(1);
    expect(rs[0]!.topic).toBe('s/w/raw');
    expect(rs[0]!.fields).toBeUndefined();
  });
});

describe('ack settle group', () => {
  it('acks once after every reading is stored or filtered', () => {
    const ack = vi.fn();
    const withhold = vi.fn();
    const [a, c] = settleGroup(2, ack, withhold);
    a!('stored');
    a!('stored'); // a second call for the same reading does not count
    expect(ack).not.toHaveBeenCalled();
    c!('filtered');
    expect(ack).toHaveBeenCalledOnce();
    expect(withhold).not.toHaveBeenCalled();
  });
  it('withholds the ack when any reading hits congestion or error', () => {
    const ack = vi.fn();
    const withhold = vi.fn();
    const [a, c] = settleGroup(2, ack, withhold);
    a!('congestion');
    c!('stored');
    expect(ack).not.toHaveBeenCalled();
    expect(withhold).toHaveBeenCalledWith('congestion');
  });
});

describe('config', () => {
  const base = { name: 'w', path: '/dev/ttyUSB0' };
  it('applies defaults', () => {
    const c = serialPortConfigSchema.parse(base);
    expect(c).toMatchObject({ baud: 9600, framing: 'line', format: 'kv', max_length: 1024, qos: 1 });
    expect(c.commands).toMatchObject({ framing: 'line', ttl: 3600e3, reply_timeout: 5000 });
    expect(c.reopen).toEqual({ min: 500, max: 30_000 });
  });
  it('rejects csv without columns, a bad reply regex and raw with frame-field topics', () => {
    expect(serialPortConfigSchema.safeParse({ ...base, format: 'csv' }).success).toBe(false);
    expect(serialPortConfigSchema.safeParse({ ...base, commands: { reply_pattern: '(' } }).success).toBe(
      false,
    );
    expect(serialPortConfigSchema.safeParse({ ...base, format: 'raw', topic: 'a/{room}' }).success).toBe(
      false,
    );
  });
});
