import { describe, expect, it } from 'vitest';
import { engine, reading, text } from './helpers.js';

describe('uplink rules', () => {
  it('renames a topic with captures and {gateway}, keeping payload, qos, retain and metadata', async () => {
    const e = engine({
      rules: [{ match: 'sensors/+device/temp', publish: 'site/{gateway}/{device}/temperature' }],
    });
    const r = await e.uplink(reading({ topic: 'sensors/t1/temp', retain: true }), 5000);
    expect(r.dropped).toBeUndefined();
    expect(r.messages).toHaveLength(1);
    const m = r.messages[0]!;
    expect(m).toMatchObject({
      topic: 'site/gw1/t1/temperature',
      qos: 1,
      retain: true,
      source: 'serial:weather',
      device: 'dev-a',
      receivedAt: 1000,
    });
    expect(text(m.payload)).toBe('21.5');
  });

  it("uses rule qos/retain over the reading's", async () => {
    const e = engine({ rules: [{ match: '#', publish: 'x', qos: 2, retain: true }] });
    const [m] = (await e.uplink(reading({ qos: 0 }), 0)).messages;
    expect(m).toMatchObject({ qos: 2, retain: true });
  });

  it("omitting publish keeps the reading's topic", async () => {
    const e = engine({ rules: [{ match: 'sensors/#', transform: '"x"' }] });
    expect((await e.uplink(reading(), 0)).messages[0]!.topic).toBe('sensors/t1/temp');
  });

  it('matches sources by glob', async () => {
    const e = engine({
      rules: [
        { source: 'mqttsn', match: '#', publish: 'from/sn' },
        { source: 'serial:*', match: '#', publish: 'from/serial' },
      ],
    });
    expect((await e.uplink(reading({ source: 'serial:weather' }), 0)).messages.map((m) => m.topic)).toEqual([
      'from/serial',
    ]);
    expect((await e.uplink(reading({ source: 'mqttsn' }), 0)).messages.map((m) => m.topic)).toEqual([
      'from/sn',
    ]);
  });

  it('puts payload fields into topics as {fields.x}, from adapter fields or a JSON object payload', async () => {
    const e = engine({ rules: [{ match: 'sensors/#', publish: 'room/{fields.room}/{device}' }] });
    const viaFields = await e.uplink(reading({ payload: 'room=lab', fields: { room: 'lab' } }), 0);
    expect(viaFields.messages[0]!.topic).toBe('room/lab/dev-a');
    const viaJson = await e.uplink(reading({ payload: '{"room":"hall"}' }), 0);
    expect(viaJson.messages[0]!.topic).toBe('room/hall/dev-a');
    const missing = await e.uplink(reading({ payload: '{"x":1}' }), 0);
    expect(missing).toMatchObject({ messages: [], dropped: 'missing_field' });
  });

  it('refuses field values that would put wildcards into a publish topic', async () => {
    const e = engine({ rules: [{ match: 'sensors/#', publish: 'room/{fields.room}' }] });
    expect(await e.uplink(reading({ payload: '{"room":"a/#"}' }), 0)).toMatchObject({
      messages: [],
      dropped: 'invalid_topic',
    });
  });

  it('refuses field values that would put control characters or bad UTF-8 into a publish topic', async () => {
    const e = engine({ rules: [{ match: 'sensors/#', publish: 'room/{fields.room}' }] });
    for (const room of ['te\u0013mp', 'a\u0000b', 'x\uFFFF', '\uD800']) {
      const r = await e.uplink(reading({ payload: JSON.stringify({ room }) }), 0);
      expect(r, JSON.stringify(room)).toMatchObject({ messages: [], dropped: 'invalid_topic' });
    }
    expect(
      (await e.uplink(reading({ payload: '{"room":"a//b"}' }), 0)).messages[0]?.topic,
      'empty levels are valid MQTT',
    ).toBe('room/a//b');
  });

  describe('filter', () => {
    const e = () =>
      engine({
        rules: [
          {
            match: 'sensors/+device/temp',
            filter: 'payload < 100 and captures.device != "bad" and source = "serial:weather"',
            publish: 'ok/{device}',
          },
          { match: '#', publish: 'fallback' },
        ],
      });

    it('keeps a reading the filter accepts (payload parsed as JSON, captures, source)', async () => {
      expect((await e().uplink(reading({ payload: '42' }), 0)).messages.map((m) => m.topic)).toEqual([
        'ok/t1',
      ]);
    });

    it('drops a reading it rejects, and the drop is final under first-match', async () => {
      expect(await e().uplink(reading({ payload: '420' }), 0)).toMatchObject({
        messages: [],
        dropped: 'filtered',
      });
      expect(await e().uplink(reading({ topic: 'sensors/bad/temp' }), 0)).toMatchObject({
        messages: [],
        dropped: 'filtered',
      });
    });

    it('sees non-JSON payloads as text and adapter fields as fields', async () => {
      const e2 = engine({ rules: [{ match: '#', filter: 'payload = "on" and fields.v = 1' }] });
      expect((await e2.uplink(reading({ payload: 'on', fields: { v: 1 } }), 0)).messages).toHaveLength(1);
      expect((await e2.uplink(reading({ payload: 'on', fields: { v: 2 } }), 0)).dropped).toBe('filtered');
    });

    it('reports a failing filter as an error and drops the reading', async () => {
      const e2 = engine({ rules: [{ name: 'boom', match: '#', filter: '$error("nope")' }] });
      const r = await e2.uplink(reading(), 0);
      expect(r).toMatchObject({ messages: [], dropped: 'filter_error' });
      expect(r.errors).toEqual([{ rule: 'boom', message: expect.stringContaining('nope') }]);
    });

    it('stops a runaway expression instead of hanging', async () => {
      const e2 = engine({ rules: [{ match: '#', filter: '($f := function($n){ $f($n + 1) }; $f(0))' }] });
      const r = await e2.uplink(reading(), 0);
      expect(r.dropped).toBe('filter_error');
      expect(r.errors[0]!.message).toMatch(/too deep|took over/);
    });

    it('stops it inside object and array constructors too (every shape), and a regex that never yields', async () => {
      const rec = '($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(payload))';
      const e2 = engine({
        rules: [
          { match: 'o', transform: `{ 'a': ${rec}, 'b': 1 }` },
          { match: 'a', transform: `[1, ${rec}]` },
          { match: 'r', transform: "{ 'm': $contains(payload, /^(a+)+$/), 'n': 1 }" },
        ],
      });
      for (const [topic, payload] of [
        ['o', '100000'],
        ['a', '100000'],
        ['r', `${'a'.repeat(40)}!`],
      ]) {
        const t0 = Date.now();
        const r = await e2.uplink(reading({ topic, payload: payload! }), 0);
        expect(r.dropped, topic).toBe('transform_error');
        expect(r.errors[0]!.message).toMatch(/too deep|took over 250 ms/);
        expect(Date.now() - t0).toBeLessThan(3000);
      }
      // The next evaluation runs (after the worker that was killed for the regex).
      const ok = await e2.uplink(reading({ topic: 'o', payload: '4' }), 0);
      expect(ok.messages[0]!.payload.toString()).toBe('{"a":4,"b":1}');
    });
  });

  describe('transform', () => {
    it('JSON-encodes objects and numbers, passes strings as they are', async () => {
      const e = engine({
        rules: [
          { match: 'a', transform: '{"celsius": payload, "dev": device}' },
          { match: 'b', transform: 'payload * 2' },
          { match: 'c', transform: '"T=" & $string(fields.t)' },
        ],
      });
      expect(text((await e.uplink(reading({ topic: 'a' }), 0)).messages[0]!.payload)).toBe(
        '{"celsius":21.5,"dev":"dev-a"}',
      );
      expect(text((await e.uplink(reading({ topic: 'b' }), 0)).messages[0]!.payload)).toBe('43');
      expect(
        text((await e.uplink(reading({ topic: 'c', payload: '{"t":3}' }), 0)).messages[0]!.payload),
      ).toBe('T=3');
    });

    it('drops when the transform yields nothing, or fails', async () => {
      const e = engine({
        rules: [
          { match: 'a', transform: 'payload.missing' },
          { match: 'b', transform: '$number("x")' },
        ],
      });
      expect((await e.uplink(reading({ topic: 'a', payload: '{}' }), 0)).dropped).toBe('transform_empty');
      const failed = await e.uplink(reading({ topic: 'b' }), 0);
      expect(failed.dropped).toBe('transform_error');
      expect(failed.errors).toHaveLength(1);
    });
  });

  describe('first-match and continue', () => {
    it('stops at the first matching rule by default', async () => {
      const e = engine({
        rules: [
          { match: 'sensors/#', publish: 'one' },
          { match: 'sensors/+/temp', publish: 'two' },
        ],
      });
      expect((await e.uplink(reading(), 0)).messages.map((m) => m.topic)).toEqual(['one']);
    });

    it('lets later rules match too after a rule with continue: true', async () => {
      const e = engine({
        rules: [
          { match: 'sensors/#', publish: 'raw/{topic}', continue: true },
          { match: 'sensors/+d/temp', publish: 'temp/{d}' },
          { match: '#', publish: 'never' },
        ],
      });
      expect((await e.uplink(reading(), 0)).messages.map((m) => m.topic)).toEqual([
        'raw/sensors/t1/temp',
        'temp/t1',
      ]);
    });

    it('continues past a rule whose filter dropped the reading, reporting no drop when another published', async () => {
      const e = engine({
        rules: [
          { match: '#', filter: 'payload > 100', publish: 'hot', continue: true },
          { match: '#', publish: 'all' },
        ],
      });
      const r = await e.uplink(reading(), 0);
      expect(r.messages.map((m) => m.topic)).toEqual(['all']);
      expect(r.dropped).toBeUndefined();
      expect(r.trace.map((t) => t.outcome)).toEqual(['filtered', 'published']);
    });
  });

  describe('drop rules', () => {
    it('drop: true silences matching topics before broader rules', async () => {
      const e = engine({
        rules: [
          { match: 'sensors/+/debug', drop: true },
          { match: 'sensors/#', publish: 'x' },
        ],
      });
      expect(await e.uplink(reading({ topic: 'sensors/t1/debug' }), 0)).toMatchObject({
        messages: [],
        dropped: 'rule_drop',
      });
      expect((await e.uplink(reading(), 0)).messages).toHaveLength(1);
    });

    it('with a filter, drops only what the filter accepts and leaves the rest to later rules', async () => {
      const e = engine({
        rules: [
          { match: '#', drop: true, filter: 'payload = "NaN"' },
          { match: '#', publish: 'x' },
        ],
      });
      expect((await e.uplink(reading({ payload: 'NaN' }), 0)).dropped).toBe('rule_drop');
      expect((await e.uplink(reading({ payload: '1' }), 0)).messages.map((m) => m.topic)).toEqual(['x']);
    });
  });

  describe('default route', () => {
    it('passes an unmatched reading through under the prefix', async () => {
      const e = engine({
        rules: [{ match: 'other', publish: 'x' }],
        default_route: { prefix: 'raw/{gateway}/' },
      });
      const r = await e.uplink(reading(), 0);
      expect(r.messages.map((m) => m.topic)).toEqual(['raw/gw1/sensors/t1/temp']);
      expect(r.trace).toEqual([
        { rule: 'default_route', outcome: 'published', topic: 'raw/gw1/sensors/t1/temp' },
      ]);
    });

    it('passes through unchanged by default', async () => {
      expect((await engine({}).uplink(reading(), 0)).messages[0]!.topic).toBe('sensors/t1/temp');
    });

    it('drops with reason no_rule when configured to drop', async () => {
      const e = engine({ default_route: { action: 'drop' } });
      expect(await e.uplink(reading(), 0)).toMatchObject({ messages: [], dropped: 'no_rule' });
    });

    it('does not apply to a reading a rule matched but filtered out', async () => {
      const e = engine({ rules: [{ match: '#', filter: 'false' }] });
      expect(await e.uplink(reading(), 0)).toMatchObject({ messages: [], dropped: 'filtered' });
    });
  });
});
