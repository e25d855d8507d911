import { describe, expect, it } from 'vitest';
import { Problems } from '../../rules/errors.js';
import { compileSourcePattern, compileTopicPattern } from '../../rules/topic-pattern.js';

function compile(pattern: string) {
  const problems = new Problems();
  const p = compileTopicPattern(pattern, { gateway: 'gw1' }, problems, ['rules', 0, 'match']);
  return { p, problems: problems.list };
}

describe('topic patterns', () => {
  it('captures named single- and multi-level wildcards', () => {
    const { p } = compile('sensors/+device/#rest');
    expect(p!.match('sensors/t1/a/b')).toEqual({ device: 't1', rest: 'a/b' });
    expect(p!.filter).toBe('sensors/+/#');
    expect(p!.names).toEqual(['device', 'rest']);
  });

  it('matches plain + and # without capturing, with MQTT semantics', () => {
    const { p } = compile('a/+/c/#');
    expect(p!.match('a/b/c/d/e')).toEqual({});
    expect(p!.match('a/b/c')).toEqual({}); // "#" also matches the parent level
    expect(p!.match('a/b/x/d')).toBeNull();
    expect(compile('a/+').p!.match('a/b/c')).toBeNull();
    expect(compile('a/+').p!.match('a')).toBeNull();
  });

  it('gives an empty capture when #name matches no level', () => {
    expect(compile('a/#rest').p!.match('a')).toEqual({ rest: '' });
  });

  it('matches literal topics exactly, including empty levels', () => {
    const { p } = compile('a//b');
    expect(p!.match('a//b')).toEqual({});
    expect(p!.match('a/b')).toBeNull();
  });

  it('does not let a leading wildcard match $-topics', () => {
    expect(compile('#').p!.match('$SYS/broker/load')).toBeNull();
    expect(compile('+x/y').p!.match('$SYS/y')).toBeNull();
    expect(compile('$SYS/#').p!.match('$SYS/broker/load')).toEqual({});
  });

  it('substitutes {gateway} at compile time', () => {
    const { p } = compile('cmd/{gateway}/+device');
    expect(p!.filter).toBe('cmd/gw1/+');
    expect(p!.match('cmd/gw1/d1')).toEqual({ device: 'd1' });
    expect(p!.match('cmd/gw2/d1')).toBeNull();
  });

  it.each([
    ['a/#/b', '"#" must be the last level'],
    ['a/b+/c', 'must fill a whole level'],
    ['a/+x/+x', 'used twice'],
    ['a/+1bad', 'bad wildcard name'],
    ['a/+topic', 'reserved'],
    ['a/{device}', 'unknown placeholder {device}'],
  ])('rejects %s', (pattern, message) => {
    const { p, problems } = compile(pattern);
    expect(p).toBeUndefined();
    expect(problems).toEqual([{ path: ['rules', 0, 'match'], message: expect.stringContaining(message) }]);
  });
});

describe('source patterns', () => {
  it('globs adapter names with *', () => {
    const serial = compileSourcePattern('serial:*');
    expect(serial('serial:weather')).toBe(true);
    expect(serial('mqttsn')).toBe(false);
    expect(compileSourcePattern('mqttsn')('mqttsn')).toBe(true);
    expect(compileSourcePattern('mqttsn')('mqttsn2')).toBe(false);
    expect(compileSourcePattern('*')('anything')).toBe(true);
    expect(compileSourcePattern('serial:w.*')('serial:wx1')).toBe(false); // "." is literal
  });
});
