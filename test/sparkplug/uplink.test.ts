import { describe, expect, it } from 'vitest';
import type { Reading } from '../../adapters/types.js';
import { modbusPoints } from '../../adapters/modbus/catalogue.js';
import { modbusBusSchema } from '../../adapters/modbus/config.js';
import { sparkplugSourceSchema } from '../../gateway/sparkplug/config.js';
import { DeviceModel } from '../../gateway/sparkplug/model.js';
import { SPARKPLUG_LANE, SparkplugUplink } from '../../gateway/sparkplug/uplink.js';

const bus = modbusBusSchema.parse({
  name: 'meters',
  tcp: '127.0.0.1:502',
  topic: 'plain/{device}',
  devices: [
    {
      name: 'm1',
      points: [
        { name: 'voltage', fc: 4, address: 0, scale: 0.1, unit: 'V', low: 0, high: 300 },
        { name: 'current', fc: 4, address: 1, type: 'float32' },
        { name: 'count', fc: 4, address: 3, type: 'uint64' },
        { name: 'raw', fc: 3, address: 7, type: 'int32', writable: true },
        { name: 'on', fc: 1, address: 0 },
        { name: 'model', fc: 4, address: 20, type: 'string', length: 4 },
      ],
    },
  ],
});

function setup(source: Record<string, unknown> = {}) {
  const model = new DeviceModel(
    new Map([
      [
        'modbus:meters',
        {
          config: sparkplugSourceSchema.parse({ source: 'modbus:meters', ...source }),
          catalogue: modbusPoints(bus),
        },
      ],
    ]),
  );
  return { model, up: new SparkplugUplink(model, { group: 'g', node: 'n' }, 0) };
}

const reading = (fields: Record<string, unknown>, at = 1000): Reading => ({
  source: 'modbus:meters',
  device: 'm1',
  topic: 'plain/m1',
  payload: Buffer.from(JSON.stringify(fields)),
  qos: 1,
  retain: false,
  receivedAt: at,
  fields,
});
const stored = (m: { payload: Buffer } | undefined) => (m ? JSON.parse(m.payload.toString()).m : undefined);

describe('Sparkplug uplink: readings to lane rows, metrics from the Modbus points', () => {
  it('declares each point with its exact datatype (scaled values are Double) and units and range as properties', () => {
    const { model } = setup();
    expect(model.metrics('modbus:meters', 'm1')).toEqual([
      {
        name: 'voltage',
        type: 'Double',
        writable: false,
        properties: {
          engUnit: { type: 'String', value: 'V' },
          engLow: { type: 'Double', value: 0 },
          engHigh: { type: 'Double', value: 300 },
        },
      },
      { name: 'current', type: 'Float', writable: false },
      { name: 'count', type: 'UInt64', writable: false },
      { name: 'raw', type: 'Int32', writable: true },
      { name: 'on', type: 'Boolean', writable: false },
      { name: 'model', type: 'String', writable: false },
    ]);
  });

  it('a reading becomes a lane-1 row with its values and read time; the current values are kept for births', () => {
    const { up, model } = setup();
    const m = up.message(reading({ voltage: 230.1, count: '18446744073709551615' }, 1234))!;
    expect(m).toMatchObject({
      lane: SPARKPLUG_LANE,
      device: 'm1',
      receivedAt: 1234,
      qos: 0,
      topic: 'spBv1.0/g/DDATA/n/m1',
    });
    expect(stored(m)).toEqual({ voltage: 230.1, count: '18446744073709551615' });
    expect(model.valueOf('m1', 'count')).toEqual({ value: '18446744073709551615', at: 1234 });
  });

  it('by exception: only changed values, within a deadband nothing; every_poll: everything', () => {
    const { up } = setup({ deadband: { voltage: 0.5 } });
    expect(stored(up.message(reading({ voltage: 230, on: true })))).toEqual({ voltage: 230, on: true });
    expect(up.message(reading({ voltage: 230.4, on: true }))).toBeUndefined();
    expect(stored(up.message(reading({ voltage: 230.6, on: true })))).toEqual({ voltage: 230.6 });
    expect(stored(up.message(reading({ voltage: 230.6, on: false })))).toEqual({ on: false });
    const every = setup({ report: 'every_poll' }).up;
    expect(stored(every.message(reading({ voltage: 1 })))).toEqual({ voltage: 1 });
    expect(stored(every.message(reading({ voltage: 1 })))).toEqual({ voltage: 1 });
  });

  it('a device can have its own report and deadband', () => {
    const { up } = setup({ deadband: { voltage: 5 }, devices: { m1: { report: 'every_poll' } } });
    expect(stored(up.message(reading({ voltage: 230 })))).toEqual({ voltage: 230 });
    expect(stored(up.message(reading({ voltage: 230 })))).toEqual({ voltage: 230 });
    const banded = setup({ deadband: { voltage: 5 }, devices: { m1: { deadband: { voltage: 0.1 } } } }).up;
    banded.message(reading({ voltage: 230 }));
    expect(stored(banded.message(reading({ voltage: 230.5 })))).toEqual({ voltage: 230.5 });
  });

  it('publish: sparkplug drops what the rules made of the reading; both keeps it', () => {
    const rules = () => ({
      uplink: (r: Reading) => ({
        messages: [{ ...r, topic: 'plain/m1' }],
        commands: [],
      }),
    });
    const only = setup({ publish: 'sparkplug' })
      .up.wrap(rules)()
      .uplink(reading({ voltage: 1 }), 0);
    expect(only).not.toBeInstanceOf(Promise);
    expect((only as { messages: { lane?: number }[] }).messages.map((m) => m.lane)).toEqual([SPARKPLUG_LANE]);
    const both = setup({ publish: 'both' })
      .up.wrap(rules)()
      .uplink(reading({ voltage: 1 }), 0);
    expect((both as { messages: { lane?: number }[] }).messages.map((m) => m.lane)).toEqual([
      undefined,
      SPARKPLUG_LANE,
    ]);
  });

  it('a rule that fails loses its own messages, not the Sparkplug row', async () => {
    const seen: string[] = [];
    const model = setup().model;
    const up = new SparkplugUplink(model, { group: 'g', node: 'n' }, 0, (_r, err) => seen.push(String(err)));
    const throwing = () => ({
      uplink: (): never => {
        throw new Error('boom');
      },
    });
    const out = up
      .wrap(throwing)()
      .uplink(reading({ voltage: 1 }), 0) as { messages: { lane?: number }[]; dropped?: string };
    expect(out.messages.map((m) => m.lane)).toEqual([SPARKPLUG_LANE]);
    expect(out.dropped).toBe('rule_error');
    expect(seen).toEqual(['Error: boom']);
    const rejecting = () => ({ uplink: () => Promise.reject(new Error('later')) });
    const later = await up
      .wrap(rejecting)()
      .uplink(reading({ voltage: 2 }), 0);
    expect(later.messages.map((m) => m.lane)).toEqual([SPARKPLUG_LANE]);
    // Nothing for Sparkplug (unchanged by exception): the rule's error goes on to ingest as before.
    expect(() =>
      up
        .wrap(throwing)()
        .uplink(reading({ voltage: 2 }), 0),
    ).toThrow('boom');
  });

  it('a source with no declared points: metrics learnt from the readings, typed from their values', () => {
    const model = new DeviceModel(
      new Map([['serial:wx', { config: sparkplugSourceSchema.parse({ source: 'serial:wx' }) }]]),
    );
    const up = new SparkplugUplink(model, { group: 'g', node: 'n' }, 1);
    const r: Reading = { ...reading({ t: 21.5, ok: true, id: 'a' }), source: 'serial:wx', device: 'wx1' };
    expect(up.message(r)?.qos).toBe(1);
    expect(model.metrics('serial:wx', 'wx1')).toEqual([
      { name: 't', type: 'Double', writable: false },
      { name: 'ok', type: 'Boolean', writable: false },
      { name: 'id', type: 'String', writable: false },
    ]);
    // A reading without fields (an MQTT-SN payload): one metric named by the topic's last level.
    const sn: Reading = {
      ...r,
      topic: 'sensors/wx1/humidity',
      payload: Buffer.from('55.5'),
      fields: undefined,
    };
    delete sn.fields;
    expect(stored(up.message(sn))).toEqual({ humidity: 55.5 });
  });

  it('the readings of one poll (per-point topics share one fields object) make one row; an undeclared field is a learnt metric', () => {
    const { up } = setup({ report: 'every_poll' });
    const fields = { voltage: 230, on: true, label: 'x' };
    const a = up.message({ ...reading(fields), topic: 'plain/m1/voltage' });
    const b = up.message({ ...reading(fields), topic: 'plain/m1/on' });
    expect(stored(a)).toEqual({ voltage: 230, on: true, label: 'x' });
    expect(b).toBeUndefined();
    const { model } = setup();
    model.update('modbus:meters', 'm1', { label: 'x' }, 1);
    expect(model.metrics('modbus:meters', 'm1').at(-1)).toEqual({
      name: 'label',
      type: 'String',
      writable: false,
    });
  });

  it('a configured device belongs to its source before it reports (DCMD, DDEATH after a restart)', () => {
    const { model } = setup();
    expect(model.ownerOf('m1')).toBe('modbus:meters');
    expect(model.ownerOf('nobody')).toBeUndefined();
  });

  it('a device id Sparkplug cannot carry (a / in it) is not published as Sparkplug', () => {
    const { up } = setup();
    expect(up.message({ ...reading({ voltage: 1 }), device: 'a/b' })).toBeUndefined();
  });
});

describe('host commands (pure)', () => {
  it('DCMD metrics become writes to the device source; unknown, read-only and null ones are refused', async () => {
    const { dcmdWrites, parseState } = await import('../../gateway/sparkplug/commands.js');
    const { encode } = await import('./decode.js');
    const { model } = setup();
    const ids = { group: 'g', node: 'n' };
    const payload = encode({
      timestamp: 1,
      metrics: [
        { name: 'raw', type: 'Int32', value: -5 },
        { name: 'voltage', type: 'Double', value: 1 },
        { name: 'nonesuch', type: 'Int32', value: 1 },
        { alias: 7, type: 'Int32', value: 9 },
      ],
    });
    const byAlias = (a: number) => (a === 7 ? { device: 'm1', name: 'raw' } : undefined);
    const { commands, refused } = dcmdWrites(model, ids, 'm1', payload, byAlias);
    expect(commands.map((c) => [c.target, c.device, JSON.parse(c.payload.toString())])).toEqual([
      ['modbus:meters', 'm1', { point: 'raw', value: -5 }],
      ['modbus:meters', 'm1', { point: 'raw', value: 9 }],
    ]);
    expect(refused.map((r) => r.reason)).toEqual(['dcmd_read_only', 'dcmd_unknown_metric']);
    expect(dcmdWrites(model, ids, 'ghost', payload, byAlias).refused.map((r) => r.reason)).toEqual([
      'dcmd_unknown_device',
    ]);
    expect(dcmdWrites(model, ids, 'm1', Buffer.from([0xff, 0xff]), byAlias).refused[0]!.reason).toBe(
      'dcmd_bad_payload',
    );
    expect(parseState(Buffer.from('{"online":true,"timestamp":5}'))).toEqual({ online: true, timestamp: 5 });
    expect(typeof parseState(Buffer.from('ONLINE'))).toBe('string'); // Sparkplug 2.2's plain text
    expect(typeof parseState(Buffer.from('{"online":"yes","timestamp":5}'))).toBe('string');
  });
});
