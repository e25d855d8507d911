import { describe, expect, it } from 'vitest';
import { triggersConfigSchema } from '../../rules/config.js';
import { Problems } from '../../rules/errors.js';
import { decodePayload } from '../../rules/input.js';
import { CompiledTrigger } from '../../rules/triggers.js';
import { engine, reading, text } from './helpers.js';

const fan = () =>
  engine({
    triggers: [
      {
        name: 'fan',
        match: 'sensors/+room/temp',
        when: 'payload > 30',
        to: 'serial:relay',
        device: 'fan-{room}',
        topic: 'fan/set',
        payload: '{"on":true,"temp":{payload}}',
        cooldown: '1m',
        ttl: '30s',
      },
    ],
  });

describe('local triggers', () => {
  it('turns a reading that meets `when` into a command for another device', async () => {
    const r = await fan().uplink(reading({ topic: 'sensors/lab/temp', payload: '31' }), 1000);
    expect(r.commands).toHaveLength(1);
    const c = r.commands[0]!;
    expect(c).toMatchObject({
      id: 'id-1',
      target: 'serial:relay',
      device: 'fan-lab',
      topic: 'fan/set',
      qos: 1,
      expiresAt: 31_000,
    });
    expect(text(c.payload)).toBe('{"on":true,"temp":31}');
    // the reading itself still goes upstream (default route)
    expect(r.messages).toHaveLength(1);
  });

  it('does not fire when the condition is false', async () => {
    expect((await fan().uplink(reading({ topic: 'sensors/lab/temp', payload: '25' }), 0)).commands).toEqual(
      [],
    );
  });

  it('cools down per trigger and per serial port, whatever the topic capture', async () => {
    const e = fan();
    const hot = (room: string, now: number) =>
      e.uplink(reading({ topic: `sensors/${room}/temp`, payload: '35' }), now);
    expect((await hot('lab', 0)).commands).toHaveLength(1);
    const again = await hot('lab', 59_999);
    expect(again.commands).toEqual([]);
    expect(again.trace).toContainEqual({ rule: 'fan', outcome: 'cooldown' });
    // Readings from t1, t2, t3 (the example in docs/configuration.md) must not switch one port three times.
    expect((await hot('hall', 30_000)).commands).toEqual([]);
    expect((await hot('attic', 40_000)).commands).toEqual([]);
    expect((await hot('lab', 60_000)).commands).toHaveLength(1);
  });

  it('cools down per addressed device on MQTT-SN and Modbus targets', async () => {
    for (const to of ['mqttsn', 'modbus:bus1']) {
      const e = engine({
        triggers: [
          { match: 'sensors/+device/temp', when: 'payload > 30', to, payload: 'on', cooldown: '1m' },
        ],
      });
      const hot = (device: string, now: number) =>
        e.uplink(reading({ topic: `sensors/${device}/temp`, payload: '35' }), now);
      expect((await hot('t1', 0)).commands, to).toHaveLength(1);
      expect((await hot('t2', 1)).commands, to).toHaveLength(1); // another addressee
      expect((await hot('t1', 2)).commands, to).toEqual([]);
    }
  });

  it('builds the payload with JSONata when given transform, and fires alongside uplink rules', async () => {
    const e = engine({
      rules: [{ match: 'sensors/#', publish: 'up' }],
      triggers: [
        {
          match: 'sensors/+device/temp',
          when: 'fields.t > 1',
          to: 'mqttsn',
          transform: '{"level": fields.t * 10}',
        },
      ],
    });
    const r = await e.uplink(reading({ payload: '{"t":2}' }), 0);
    expect(r.messages.map((m) => m.topic)).toEqual(['up']);
    expect(r.commands[0]).toMatchObject({ target: 'mqttsn', device: 't1', topic: 'sensors/t1/temp' });
    expect(text(r.commands[0]!.payload)).toBe('{"level":20}');
  });

  it('refuses a device or topic value with topic structure in it', async () => {
    const e = engine({
      triggers: [
        {
          match: 'sensors/+device/temp',
          when: 'true',
          to: 'mqttsn',
          device: '{fields.target}',
          payload: 'on',
        },
      ],
    });
    const r = await e.uplink(reading({ topic: 'sensors/t1/temp', payload: '{"target":"fan/+"}' }), 0);
    expect(r.commands).toEqual([]);
    expect(r.errors[0]!.message).toMatch(
      /\{fields\.target\} has '\/', '\+', '#' or NUL in its value: refused/,
    );
    const ok = await e.uplink(reading({ topic: 'sensors/t1/temp', payload: '{"target":"fan-1"}' }), 1);
    expect(ok.commands[0]).toMatchObject({ device: 'fan-1' });
  });

  it('does not start the cool-down when building the command failed', async () => {
    const e = engine({ triggers: [{ match: '#', when: 'true', to: 'mqttsn', payload: '{fields.level}' }] });
    const bad = await e.uplink(reading({ payload: '{}' }), 0);
    expect(bad.commands).toEqual([]);
    expect(bad.errors).toEqual([{ rule: 'triggers.0', message: '{fields.level} has no value' }]);
    expect((await e.uplink(reading({ payload: '{"level":3}' }), 1)).commands).toHaveLength(1);
  });
});

describe('trigger state', () => {
  it('forgets devices whose cool-down ran out, so the state stays bounded however many devices fire', async () => {
    const problems = new Problems();
    const [cfg] = triggersConfigSchema.parse([
      {
        match: 'sensors/+room/temp',
        when: 'payload > 30',
        to: 'mqttsn',
        device: 'fan-{room}',
        topic: 'fan/set',
        payload: 'on',
        cooldown: '1m',
      },
    ]);
    const trigger = CompiledTrigger.compile(cfg!, 0, 'gw1', problems)!;
    expect(problems.list).toEqual([]);
    const fire = (room: string, now: number) => {
      const r = reading({ topic: `sensors/${room}/temp`, payload: '35' });
      return trigger.fire(r, decodePayload(r.payload, r.fields), 'gw1', now, () => 'id');
    };
    for (let i = 0; i < 1000; i++) expect((await fire(`a${i}`, 0)).command).toBeDefined();
    expect(trigger.remembered).toBe(1000);
    // A minute later the first thousand are out of their cool-down: sweeping keeps only the new ones.
    for (let i = 0; i < 5000; i++) await fire(`b${i}`, 60_000 + i);
    expect(trigger.remembered).toBe(5000); // the first thousand are gone, every new one is kept
    // Still cooling down: a device fired at within the minute does not fire again.
    expect(await fire('b4999', 61_000)).toEqual({ cooling: true });
  });
});
