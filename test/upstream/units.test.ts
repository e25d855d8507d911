import { describe, expect, it } from 'vitest';
import { Backoff } from '../../gateway/lifecycle/backoff.js';
import { PacketIds } from '../../gateway/upstream/packet-ids.js';
import { connackReason } from '../../gateway/upstream/reasons.js';

describe('backoff', () => {
  it('grows exponentially with jitter between min and the capped ceiling, and resets', () => {
    const top = new Backoff(100, 1000, () => 1);
    expect([top.next(), top.next(), top.next(), top.next(), top.next(), top.next()]).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    top.reset();
    expect(top.next()).toBe(100);
    const bottom = new Backoff(100, 1000, () => 0);
    expect([bottom.next(), bottom.next(), bottom.next()]).toEqual([100, 100, 100]);
  });

  it('waits between max/2 and max after a refusal retrying cannot fix', () => {
    expect(new Backoff(100, 60_000, () => 0).long()).toBe(30_000);
    expect(new Backoff(100, 60_000, () => 1).long()).toBe(60_000);
  });
});

describe('packet ids', () => {
  it('never hands out a held id, wraps at 65535 and skips 0', () => {
    const ids = new PacketIds();
    ids.hold(1);
    ids.hold(3);
    expect([ids.take(), ids.take()]).toEqual([2, 4]);
    for (let i = 5; i <= 65535; i++) ids.take();
    expect(ids.take()).toBeUndefined();
    ids.release(7);
    expect(ids.take()).toBe(7);
  });
});

it('names CONNACK refusals in words', () => {
  expect(connackReason(4)).toBe('bad user name or password');
  expect(connackReason(5)).toBe('not authorized');
  expect(connackReason(2)).toBe('client identifier rejected');
});
