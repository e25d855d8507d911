import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../contracts/store.js';
import { pastFullQos2Window } from '../../gateway/upstream/qos2-pass.js';

const row = (id: number, device: string, qos: 0 | 1 | 2, source = 'mqttsn'): OutboxRow => ({
  id,
  source,
  device,
  topic: `t/${device}`,
  payload: Buffer.from(String(id)),
  qos,
  retain: false,
  receivedAt: 0,
  state: 'queued',
  packetId: null,
});

describe('pastFullQos2Window (pure: which rows go while the QoS 2 window is full)', () => {
  it("other devices' rows go past a waiting QoS 2 row; its device's later rows wait; `free` caps the rest", () => {
    const rows = [
      row(1, 'a', 1),
      row(2, 'q', 2), // the window is full here
      row(3, 'b', 1),
      row(4, 'q', 1), // after q's QoS 2 row: waits
      row(5, 'c', 0),
      row(6, 'b', 2), // a QoS 2 row of b: waits, and b's later rows with it
      row(7, 'b', 1),
      row(8, 'a', 1),
      row(9, 'q', 0, 'serial:x'), // another source's device "q" is another device
    ];
    const { out, kept } = pastFullQos2Window(rows, 1, 100);
    expect(out.map((r) => r.id)).toEqual([1, 3, 5, 8, 9]);
    expect(kept.map((r) => r.id)).toEqual([2, 4, 6, 7]);
    const capped = pastFullQos2Window(rows, 1, 3);
    expect(capped.out.map((r) => r.id)).toEqual([1, 3, 5]);
    expect(capped.kept.map((r) => r.id)).toEqual([2, 4, 6, 7, 8, 9]);
  });

  it('random mixes: nothing lost or doubled, each device in order, no row after a waiting QoS 2 row of its device', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 200; round++) {
      const rows = Array.from({ length: 1 + Math.floor(rand() * 60) }, (_, i) =>
        row(i + 1, `d${Math.floor(rand() * 5)}`, Math.floor(rand() * 3) as 0 | 1 | 2),
      );
      const n = Math.floor(rand() * rows.length);
      const free = n + Math.floor(rand() * 40);
      const { out, kept } = pastFullQos2Window(rows, n, free);
      expect([...out, ...kept].map((r) => r.id).sort((x, y) => x - y)).toEqual(rows.map((r) => r.id));
      expect(out.length).toBeLessThanOrEqual(Math.max(free, n));
      for (const list of [out, kept])
        for (let i = 1; i < list.length; i++) expect(list[i]!.id).toBeGreaterThan(list[i - 1]!.id);
      // Per device: every row sent comes before every row of that device that waits.
      for (const r of out.slice(n)) {
        expect(r.qos).not.toBe(2);
        expect(kept.some((k) => k.device === r.device && k.id < r.id)).toBe(false);
      }
    }
  });
});
