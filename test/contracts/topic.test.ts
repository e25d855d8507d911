import { describe, expect, it } from 'vitest';
import {
  decodeUtf8,
  filterMatches,
  topicFilterProblem,
  MAX_TOPIC_BYTES,
  MAX_TOPIC_LEVELS,
  type TopicProblem,
  topicNameProblem,
} from '../../contracts/topic.js';

describe('topicNameProblem', () => {
  it('accepts ordinary, non-ASCII and empty-level topics (mosquitto accepts them too)', () => {
    for (const t of [
      'sensors/weather/temp',
      'a//b',
      '/a',
      'a/',
      '/',
      '$aws/things/x',
      'a b',
      'caf\u00e9/\u00a0/\u2028',
      'emoji/\u{1F600}',
      '\uFEFFbom',
      'a\uFFFD',
      'private/\uE000',
    ]) {
      expect(topicNameProblem(t), JSON.stringify(t)).toBeUndefined();
    }
  });

  const cases: [string, TopicProblem][] = [
    ['', 'empty'],
    ['a'.repeat(MAX_TOPIC_BYTES + 1), 'too_long'],
    [`x/${'\u00e9'.repeat(32767)}`, 'too_long'], // 65536 bytes in only 32769 UTF-16 units
    [
      Array(MAX_TOPIC_LEVELS + 1)
        .fill('a')
        .join('/'),
      'too_many_levels',
    ],
    ['a/\uD800', 'invalid_utf8'], // lone high surrogate
    ['a/\uDC00b', 'invalid_utf8'], // lone low surrogate
    ['a\u0000b', 'null_char'],
    ['te\u0013mp', 'control_char'], // line noise seen on a real serial line
    ['a\u001F', 'control_char'],
    ['a\u007F', 'control_char'],
    ['a\u0085', 'control_char'],
    ['a\u009F', 'control_char'],
    ['a\tb', 'control_char'],
    ['a\uFFFF', 'noncharacter'],
    ['a\uFFFE', 'noncharacter'],
    ['a\uFDD0', 'noncharacter'],
    ['a\u{1FFFF}', 'noncharacter'],
    ['a\u{10FFFF}', 'noncharacter'],
    ['a/+', 'wildcard'],
    ['#', 'wildcard'],
    ['#a', 'wildcard'], // an MQTT-SN short topic id
    ['\u00e9/a+b', 'wildcard'],
    ['$SYS', 'reserved'],
    ['$SYS/broker/x', 'reserved'],
    ['$share/g/fz', 'reserved'],
    ['$queue/x', 'reserved'],
  ];
  it.each(cases)('refuses %j as %s', (topic, reason) => {
    expect(topicNameProblem(topic)).toBe(reason);
  });

  it('draws the limits exactly at the boundary', () => {
    expect(topicNameProblem('a'.repeat(MAX_TOPIC_BYTES))).toBeUndefined();
    expect(topicNameProblem(`${'\u00e9'.repeat(32767)}a`)).toBeUndefined(); // 65535 bytes
    expect(topicNameProblem(Array(MAX_TOPIC_LEVELS).fill('a').join('/'))).toBeUndefined();
    expect(topicNameProblem('a\u0020\u007E\u00A0')).toBeUndefined();
    // Other $ topics are the broker's to allow (AWS IoT's device shadow topics are published to).
    expect(topicNameProblem('$aws/things/t1/shadow/update')).toBeUndefined();
    expect(topicNameProblem('$SYSTEM/x')).toBeUndefined();
    expect(topicNameProblem('a/$SYS/x')).toBeUndefined();
  });
});

describe('decodeUtf8', () => {
  it('decodes UTF-8 and keeps a BOM', () => {
    expect(decodeUtf8(Buffer.from('caf\u00e9'))).toBe('caf\u00e9');
    expect(decodeUtf8(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('\uFEFFa');
  });
  it('refuses bytes that are not UTF-8 instead of replacing them', () => {
    expect(decodeUtf8(Buffer.from([0x61, 0xff]))).toBeUndefined();
    expect(decodeUtf8(Buffer.from([0xc3]))).toBeUndefined(); // truncated sequence
    expect(decodeUtf8(Buffer.from([0x61, 0xc0, 0xaf]))).toBeUndefined(); // overlong '/'
    expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBeUndefined(); // encoded surrogate
  });
});

describe('filterMatches', () => {
  it('matches + and # per MQTT, not $ topics by a leading wildcard', () => {
    expect(filterMatches('cmd/gw/+/#', 'cmd/gw/dev/x')).toBe(true);
    expect(filterMatches('cmd/gw/+/#', 'cmd/gw/dev')).toBe(true);
    expect(filterMatches('cmd/gw/+', 'cmd/gw/dev/x')).toBe(false);
    expect(filterMatches('cmd/gw/+', 'cmd/gw2/dev')).toBe(false);
    expect(filterMatches('fieldgate/gw/status', 'fieldgate/gw/status')).toBe(true);
    expect(filterMatches('#', '$SYS/x')).toBe(false);
    expect(filterMatches('a//b', 'a//b')).toBe(true);
    expect(filterMatches('a/+/b', 'a//b')).toBe(true);
  });
});

describe('topicFilterProblem: what a device may subscribe to (the broker ends the connection on the rest)', () => {
  it.each([
    ['a/#', undefined],
    ['#', undefined],
    ['+/+/temp', undefined],
    ['$share/g/a/#', undefined],
    ['$SYS/#', undefined],
    ['a//b', undefined],
    ['a/b#', 'wildcard'],
    ['a/#/b', 'wildcard'],
    ['a+/b', 'wildcard'],
    ['fz/\u0001', 'control_char'],
    ['a/\u0000', 'null_char'],
    ['a/\uFFFF/#', 'noncharacter'],
    ['a/\uD800', 'invalid_utf8'],
    ['', 'empty'],
  ] as const)('%j -> %s', (filter, problem) => {
    expect(topicFilterProblem(filter)).toBe(problem);
  });

  it('bounds levels and bytes like a name', () => {
    expect(topicFilterProblem(Array(MAX_TOPIC_LEVELS).fill('+').join('/'))).toBeUndefined();
    expect(
      topicFilterProblem(
        Array(MAX_TOPIC_LEVELS + 1)
          .fill('+')
          .join('/'),
      ),
    ).toBe('too_many_levels');
    expect(topicFilterProblem(`${'a'.repeat(MAX_TOPIC_BYTES)}/#`)).toBe('too_long');
  });
});
