import { describe, expect, it } from 'vitest';
import { engine, reading } from './helpers.js';

describe('rules: synchronous unless an expression looks at the reading', () => {
  it('default route and expression-free rules answer at once; a matching filter answers with a promise', async () => {
    const e = engine({
      rules: [
        { match: 'slow/#', filter: 'true' },
        { match: 'fast/#', publish: 'x/{topic}' },
      ],
    });
    const fast = e.uplink(reading({ topic: 'fast/1' }), 0);
    expect(fast).not.toBeInstanceOf(Promise);
    expect(fast).toMatchObject({ messages: [{ topic: 'x/fast/1' }] });
    expect(e.uplink(reading({ topic: 'other' }), 0)).not.toBeInstanceOf(Promise);
    const slow = e.uplink(reading({ topic: 'slow/1' }), 0);
    expect(slow).toBeInstanceOf(Promise);
    expect(await slow).toMatchObject({ messages: [{ topic: 'slow/1' }] });
  });

  it('a trigger whose source and topic match makes the reading asynchronous; others do not', async () => {
    const e = engine({
      triggers: [
        {
          match: 'sensors/+room/temp',
          when: 'payload > 30',
          to: 'serial:relay',
          topic: 'fan',
          payload: 'on',
        },
      ],
    });
    expect(e.uplink(reading({ topic: 'other/topic' }), 0)).not.toBeInstanceOf(Promise);
    const hot = e.uplink(reading({ topic: 'sensors/lab/temp', payload: '31' }), 0);
    expect(hot).toBeInstanceOf(Promise);
    expect((await hot).commands).toHaveLength(1);
  });

  it('an all-match run that meets a filter halfway goes on from there: each rule applied once, in order', async () => {
    const e = engine({
      rules: [
        { match: 'a/#', publish: 'one/{topic}', continue: true, report: { on_change: true } },
        { match: 'a/#', filter: 'true', publish: 'two/{topic}', continue: true },
        { match: 'a/#', publish: 'three/{topic}', report: { on_change: true } },
      ],
    });
    const first = await e.uplink(reading({ topic: 'a/1', payload: '5' }), 0);
    expect(first.messages.map((m) => m.topic)).toEqual(['one/a/1', 'two/a/1', 'three/a/1']);
    expect(first.trace.map((t) => t.rule)).toEqual(['rules.0', 'rules.1', 'rules.2']);
    // on_change saw the value once per rule: the same value again is 'unchanged' for both report rules.
    const again = await e.uplink(reading({ topic: 'a/1', payload: '5' }), 1);
    expect(again.messages.map((m) => m.topic)).toEqual(['two/a/1']);
  });

  it("one reading's errors and commands never show up in another's result (shared empty lists)", async () => {
    const e = engine({
      rules: [{ match: 'bad/#', filter: '$error("boom")' }],
      triggers: [{ match: 'hot/#', when: 'payload > 30', to: 'mqttsn', topic: 'fan', payload: 'on' }],
    });
    const bad = await e.uplink(reading({ topic: 'bad/1' }), 0);
    expect(bad.errors).toHaveLength(1);
    const hot = await e.uplink(reading({ topic: 'hot/1', payload: '31' }), 0);
    expect(hot.commands).toHaveLength(1);
    const plain = await e.uplink(reading({ topic: 'plain/1' }), 0);
    expect(plain).toMatchObject({ messages: [{ topic: 'plain/1' }], commands: [], errors: [] });
    const bad2 = await e.uplink(reading({ topic: 'bad/2' }), 0);
    expect(bad2.errors).toHaveLength(1);
    expect(bad.errors).toHaveLength(1); // the first result's list was not appended to
    expect(
      (await e.uplink(reading({ topic: 'hot/2', payload: '40', device: 'dev-b' }), 0)).commands,
    ).toHaveLength(1);
    expect(hot.commands).toHaveLength(1);
  });
});
