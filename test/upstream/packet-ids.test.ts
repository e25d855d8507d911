import { describe, expect, it } from 'vitest';
import { PacketIds } from '../../gateway/upstream/packet-ids.js';

describe('PacketIds (pure)', () => {
  it('hands out 1..65535 in turn, skips held ids, counts each id once', () => {
    const ids = new PacketIds();
    expect([ids.take(), ids.take(), ids.take()]).toEqual([1, 2, 3]);
    ids.hold(5); // restored from the store
    ids.hold(5); // twice: still one
    expect(ids.size).toBe(4);
    expect(ids.take()).toBe(4);
    expect(ids.take()).toBe(6); // 5 is held
    ids.release(2);
    ids.release(2); // twice: still one release
    ids.release(0); // never an id: ignored
    expect(ids.size).toBe(5);
    expect(ids.isHeld(2)).toBe(false);
    expect(ids.isHeld(5)).toBe(true);
  });

  it('wraps after 65535, never hands out a held id, and is exhausted at 65535 held', () => {
    const ids = new PacketIds();
    for (let i = 1; i <= 65535; i++) expect(ids.take()).toBe(i);
    expect(ids.take()).toBeUndefined();
    ids.release(7);
    ids.release(3);
    expect(ids.take()).toBe(3); // wrapped, lowest free first from 1
    expect(ids.take()).toBe(7);
    expect(ids.take()).toBeUndefined();
    ids.clear();
    expect(ids.size).toBe(0);
    expect(ids.isHeld(3)).toBe(false);
    expect(ids.take()).toBe(8); // the turn goes on after a clear
  });
});
