import { describe, expect, it } from 'vitest';
import { rememberedTopicVerdicts, type TopicProblem, topicNameProblem } from '../../contracts/topic.js';

const cases: [string, TopicProblem | undefined][] = [
  ['sensors/weather/temp', undefined],
  ['a//b', undefined],
  ['caf\u00e9/x', undefined],
  ['', 'empty'],
  ['a/+/b', 'wildcard'],
  ['a/#', 'wildcard'],
  ['a\u0000b', 'null_char'],
  ['a\u0001b', 'control_char'],
  ['a\uFFFEb', 'noncharacter'],
  ['a\uD800b', 'invalid_utf8'],
  ['$SYS/broker', 'reserved'],
  ['$share/g/t', 'reserved'],
];

describe('topicNameProblem remembers recent verdicts', () => {
  it('gives the same verdict the first time, the next times, and after the memory was cleared', () => {
    for (const [t, want] of cases) {
      expect(topicNameProblem(t), JSON.stringify(t)).toBe(want);
      expect(topicNameProblem(t), `${JSON.stringify(t)} again`).toBe(want);
    }
    for (let i = 0; i < 3000; i++) topicNameProblem(`flood/${i}`); // clears the memory at least once
    for (const [t, want] of cases) expect(topicNameProblem(t), JSON.stringify(t)).toBe(want);
  });

  it('stays bounded however many distinct topics a device makes up, and keeps no long topic', () => {
    for (let i = 0; i < 5000; i++) topicNameProblem(`made/up/${i}`);
    expect(rememberedTopicVerdicts()).toBeLessThanOrEqual(1024);
    const before = rememberedTopicVerdicts();
    const long = `x/${'y'.repeat(300)}`;
    expect(topicNameProblem(long)).toBeUndefined();
    expect(topicNameProblem(`${long}+`)).toBe('wildcard');
    expect(rememberedTopicVerdicts()).toBe(before);
  });
});
