import { describe, expect, it } from 'vitest';
import { commandResult } from '../../rules/command-rules.js';
import { engine, text } from './helpers.js';

const cmds = () =>
  engine({
    commands: [
      {
        name: 'serial-cmd',
        subscribe: 'cmd/{gateway}/+device/#path',
        to: 'serial:weather',
        ttl: '10m',
        result_topic: 'cmd/{gateway}/{device}/result',
      },
      {
        subscribe: 'fan/+room/set',
        to: 'mqttsn',
        device: 'fan-{room}',
        topic: 'fan',
        qos: 2,
        transform: '{"on": payload = "ON"}',
      },
      {
        subscribe: 'all/+device',
        to: 'mqttsn',
        payload: 'say {fields.msg} to {device}',
        report_expired: true,
        result_topic: 'r/{device}',
      },
    ],
  });

describe('downlink', () => {
  it('subscribes upstream with plain MQTT filters, {gateway} substituted', () => {
    expect(cmds().subscriptions()).toEqual([
      { topic: 'cmd/gw1/+/#', qos: 1 },
      { topic: 'fan/+/set', qos: 2 },
      { topic: 'all/+', qos: 1 },
    ]);
  });

  it('merges identical filters, keeping the highest QoS', () => {
    const e = engine({
      commands: [
        { subscribe: 'c/+device', to: 'a', qos: 0 },
        { subscribe: 'c/+device', to: 'b', qos: 2 },
      ],
    });
    expect(e.subscriptions()).toEqual([{ topic: 'c/+', qos: 2 }]);
  });

  it('maps an upstream message to a command: device from +device, payload as is, topic = upstream topic', async () => {
    const payload = Buffer.from([0x01, 0xff]);
    const r = await cmds().downlink('cmd/gw1/t1/relay/1', payload, 1000);
    expect(r.results).toEqual([]);
    expect(r.commands).toEqual([
      {
        id: 'id-1',
        target: 'serial:weather',
        device: 't1',
        topic: 'cmd/gw1/t1/relay/1',
        payload,
        qos: 1,
        expiresAt: 1000 + 600_000,
        resultTopic: 'cmd/gw1/t1/result',
        reportExpired: false,
      },
    ]);
  });

  it('renders device and topic templates and a JSONata payload', async () => {
    const r = await cmds().downlink('fan/lab/set', Buffer.from('ON'), 0);
    expect(r.commands[0]).toMatchObject({ target: 'mqttsn', device: 'fan-lab', topic: 'fan', qos: 2 });
    expect(text(r.commands[0]!.payload)).toBe('{"on":true}');
  });

  it('renders a payload template over JSON fields', async () => {
    const r = await cmds().downlink('all/d9', Buffer.from('{"msg":"hi"}'), 0);
    expect(text(r.commands[0]!.payload)).toBe('say hi to d9');
  });

  it('ignores topics no command rule subscribed to', async () => {
    expect(await cmds().downlink('cmd/other-gw/t1/x', Buffer.from('1'), 0)).toMatchObject({
      commands: [],
      results: [],
    });
  });

  it('answers on result_topic when the command cannot be built', async () => {
    const r = await cmds().downlink('all/d9', Buffer.from('{}'), 5);
    expect(r.commands).toEqual([]);
    expect(r.errors).toEqual([{ rule: 'commands.2', message: '{fields.msg} has no value' }]);
    expect(r.results).toHaveLength(1);
    expect(r.results[0]!.topic).toBe('r/d9');
    expect(JSON.parse(text(r.results[0]!.payload))).toEqual({
      id: 'id-1',
      outcome: 'rejected',
      reason: '{fields.msg} has no value',
      topic: 'all/d9',
      at: 5,
    });
  });

  describe('commandResult', () => {
    it("builds the result message for the command's outcome", async () => {
      const e = cmds();
      const [c] = (await e.downlink('cmd/gw1/t1/x', Buffer.from('go'), 0)).commands;
      const m = e.commandResult(c!, 'delivered', 42)!;
      expect(m).toMatchObject({
        topic: 'cmd/gw1/t1/result',
        qos: 1,
        retain: false,
        source: 'serial:weather',
        device: 't1',
        receivedAt: 42,
      });
      expect(JSON.parse(text(m.payload))).toEqual({
        id: 'id-1',
        outcome: 'delivered',
        target: 'serial:weather',
        device: 't1',
        at: 42,
      });
    });

    it('reports expiry only when the rule asks for it, and nothing without result_topic', async () => {
      const e = cmds();
      const [withoutExpiry] = (await e.downlink('cmd/gw1/t1/x', Buffer.from('go'), 0)).commands;
      expect(commandResult(withoutExpiry!, 'expired', 1)).toBeUndefined();
      const [withExpiry] = (await e.downlink('all/d1', Buffer.from('{"msg":"x"}'), 0)).commands;
      expect(commandResult(withExpiry!, 'expired', 1)?.topic).toBe('r/d1');
      const [noResult] = (await e.downlink('fan/lab/set', Buffer.from('ON'), 0)).commands;
      expect(commandResult(noResult!, 'delivered', 1)).toBeUndefined();
    });
  });
  it('refuses a value that would add topic levels or wildcards to a topic or a device id', async () => {
    const e = engine({
      commands: [
        {
          subscribe: 'zone/+device/#rest',
          to: 'mqttsn',
          topic: 'cmd/{fields.zone}/{rest}', // a #rest capture may span levels; a payload field may not
          result_topic: 'r/{device}',
        },
        { subscribe: 'to/+x', to: 'mqttsn', device: '{payload}', topic: 'cmd' },
      ],
    });
    const ok = await e.downlink('zone/d1/a/b', Buffer.from('{"zone":"z1"}'), 0);
    expect(ok.commands[0]).toMatchObject({ device: 'd1', topic: 'cmd/z1/a/b' });
    for (const zone of ['z1/../other-device', 'z+', '#', 'a\u0000b']) {
      const r = await e.downlink('zone/d1/a', Buffer.from(JSON.stringify({ zone })), 0);
      expect(r.commands, zone).toEqual([]);
      expect(r.errors[0]!.message).toMatch(
        /\{fields\.zone\} has '\/', '\+', '#' or NUL in its value: refused/,
      );
      // Reported as rejected on the result topic, as any command that cannot be built.
      expect(JSON.parse(text(r.results[0]!.payload))).toMatchObject({ outcome: 'rejected' });
    }
    const bad = await e.downlink('to/x', Buffer.from('dev-2/cmd'), 0);
    expect(bad.commands).toEqual([]);
    expect(bad.errors[0]!.message).toMatch(/\{payload\} has '\/'/);
  });
});
