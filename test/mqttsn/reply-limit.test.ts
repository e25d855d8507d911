import { describe, expect, it } from 'vitest';
import { ReplyLimit } from '../../adapters/mqttsn/reply-limit.js';

describe('ReplyLimit (pure)', () => {
  it('one answer per peer per one to two seconds, and at most perSecond in all', () => {
    let now = 10_000;
    const l = new ReplyLimit(3, () => now);
    expect(l.allow('a')).toBe(true);
    expect(l.allow('a')).toBe(false);
    now += 999;
    expect(l.allow('a')).toBe(false); // the same second
    now += 1;
    expect(l.allow('a')).toBe(false); // the next: still remembered
    now += 1000;
    expect(l.allow('a')).toBe(true); // two seconds on
    expect(l.allow('b')).toBe(true);
    expect(l.allow('c')).toBe(true);
    expect(l.allow('d')).toBe(false); // 3 in this second already
    now += 5000;
    expect(l.allow('d')).toBe(true);
  });
});
