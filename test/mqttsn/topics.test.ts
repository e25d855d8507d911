import { describe, expect, it } from 'vitest';
import { matches, validFilter, validTopicName } from '../../adapters/mqttsn/topic-filter.js';
import { PredefinedTopics, TopicRegistry } from '../../adapters/mqttsn/topic-registry.js';

describe('mqttsn topic filters and registries', () => {
  it('matches MQTT wildcards', () => {
    expect(matches('a/+/c', 'a/b/c')).toBe(true);
    expect(matches('a/#', 'a')).toBe(true);
    expect(matches('a/#', 'a/b/c')).toBe(true);
    expect(matches('a/+', 'a/b/c')).toBe(false);
    expect(matches('+/b', '$SYS/b')).toBe(false);
    expect(matches('a/b', 'a/b/')).toBe(false);
  });
  it('validates filters and names', () => {
    expect(validFilter('a/#/b')).toBe(false);
    expect(validFilter('a+/b')).toBe(false);
    expect(validFilter('+/+/#')).toBe(true);
    expect(validTopicName('a/+')).toBe(false);
    expect(validTopicName('')).toBe(false);
  });
  it('assigns ids 1..0xFFFE, reuses them per name, and honours its size limit', () => {
    const r = new TopicRegistry(2);
    expect(r.assign('a')).toBe(1);
    expect(r.assign('b')).toBe(2);
    expect(r.assign('a')).toBe(1);
    expect(r.assign('c')).toBeUndefined();
    r.forget(1);
    expect(r.assign('c')).toBe(3);
    const copy = new TopicRegistry(10);
    copy.restore([...r.entries(), [0, 'bad'], [0xffff, 'bad']]);
    expect(copy.entries()).toEqual([
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(copy.assign('d')).toBe(4);
  });
  it('resolves per-client predefined ids before global ones', () => {
    const p = new PredefinedTopics({ 1: 'g/one', 2: 'g/two' }, { dev: { 2: 'dev/two' } });
    expect(p.nameOf('dev', 2)).toBe('dev/two');
    expect(p.nameOf('other', 2)).toBe('g/two');
    expect(p.nameOf(undefined, 1)).toBe('g/one');
    expect(p.idOf('dev', 'g/one')).toBe(1);
    expect(p.idOf('dev', 'nope')).toBeUndefined();
  });
});
