import { describe, expect, it } from 'vitest';
import { compileRules } from '../../rules/compile.js';
import { RulesCompileError } from '../../rules/errors.js';
import { engine, parseRules, type RawRules, reading } from './helpers.js';

function problems(raw: RawRules) {
  try {
    compileRules(parseRules(raw), { gatewayId: 'gw1' });
  } catch (err) {
    expect(err).toBeInstanceOf(RulesCompileError);
    return (err as RulesCompileError).problems;
  }
  throw new Error('expected a RulesCompileError');
}

describe('compile errors', () => {
  it('collects every problem with its config path', () => {
    const found = problems({
      rules: [
        { match: 'ok/#', publish: 'fine/{gateway}' },
        { match: 'a/#x/b', publish: 'x' },
        {
          match: 'sensors/+device',
          filter: 'payload >',
          transform: '{"a": }',
          publish: 'site/{devce}/{temp}',
        },
        { match: 'x', drop: true, publish: 'y' },
      ],
      default_route: { prefix: '{nope}/' },
      commands: [
        { subscribe: 'cmd/+id', to: 'mqttsn' },
        { subscribe: 'cmd/+device', to: 'mqttsn', payload: 'a', transform: 'b', result_topic: '{what}' },
      ],
      triggers: [{ match: 'a/+b', when: '((', to: 'mqttsn', device: '{c}' }],
    });
    expect(found.map((p) => p.path.join('.'))).toEqual([
      'rules.1.match',
      'rules.2.filter',
      'rules.2.transform',
      'rules.2.publish',
      'rules.2.publish',
      'rules.3.drop',
      'default_route.prefix',
      'commands.0.device',
      'commands.1.transform',
      'commands.1.result_topic',
      'triggers.0.when',
      'triggers.0.device',
      'triggers.0.payload',
    ]);
    expect(found[1]!.message).toMatch(/^JSONata: .*\(at character \d+\)$/);
    expect(found[3]!.message).toContain('unknown placeholder {devce}');
    expect(found[7]!.message).toContain('no +device wildcard');
  });

  it('error message lists the problems for logs', () => {
    expect(() => compileRules(parseRules({ rules: [{ match: 'a/#/b' }] }), { gatewayId: 'g' })).toThrow(
      /1 rule problem\(s\)\n {2}rules\.0\.match: "#" must be the last level/,
    );
  });

  it('an empty config compiles to an engine that passes everything through', async () => {
    const e = compileRules({}, { gatewayId: 'g' });
    expect((await e.uplink(reading(), 0)).messages).toHaveLength(1);
    expect(e.subscriptions()).toEqual([]);
  });

  it('generates UUID command ids by default', async () => {
    const e = compileRules(parseRules({ commands: [{ subscribe: 'c/+device', to: 'mqttsn' }] }), {
      gatewayId: 'g',
    });
    const { commands } = await e.downlink('c/d', Buffer.from('x'), 0);
    expect(commands[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('engine immutability and reload', () => {
  it('is frozen after compile', () => {
    const e = engine({});
    expect(Object.isFrozen(e)).toBe(true);
  });

  it('adoptStateFrom carries report state and trigger cool-downs over to the matching rules', async () => {
    const raw: RawRules = {
      rules: [
        {
          name: 'temp',
          match: 'sensors/+d/temp',
          publish: 'out/{d}',
          report: { on_change: true, heartbeat: '1m' },
        },
      ],
      triggers: [{ name: 'fan', match: 'sensors/#', when: 'payload > 30', to: 'mqttsn', payload: 'on' }],
    };
    const old = engine(raw);
    await old.uplink(reading({ payload: '31' }), 0);

    const fresh = engine(raw);
    fresh.adoptStateFrom(old);
    const r = await fresh.uplink(reading({ payload: '31' }), 1000);
    expect(r.dropped).toBe('unchanged');
    expect(r.commands).toEqual([]); // still cooling down
    expect(fresh.tick(60_000)).toHaveLength(1);

    const reset = engine(raw); // without adopting, state starts empty
    expect((await reset.uplink(reading({ payload: '31' }), 1000)).messages).toHaveLength(1);
  });

  it('does not share state objects with the old engine', async () => {
    const raw: RawRules = { rules: [{ name: 't', match: '#', report: { on_change: true } }] };
    const old = engine(raw);
    await old.uplink(reading({ payload: '1' }), 0);
    const fresh = engine(raw);
    fresh.adoptStateFrom(old);
    await old.uplink(reading({ payload: '2' }), 1); // the old engine finishing in-flight work
    expect((await fresh.uplink(reading({ payload: '1' }), 2)).dropped).toBe('unchanged');
  });
});
