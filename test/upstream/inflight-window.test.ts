import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../contracts/store.js';
import { InFlightWindow, RELEASED, SENT } from '../../gateway/upstream/inflight-window.js';

const row = (id: number, qos: 0 | 1 | 2): OutboxRow => ({
  id,
  source: 's',
  device: 'd',
  topic: 't',
  payload: Buffer.from('x'),
  qos,
  retain: false,
  receivedAt: 0,
  state: 'queued',
  packetId: null,
});

describe('InFlightWindow (pure)', () => {
  it('holds rows by packet id with their state, and counts all and QoS 2 ones', () => {
    const w = new InFlightWindow();
    const a = row(10, 1);
    const b = row(11, 2);
    w.set(65535, a, SENT);
    w.set(1, b, SENT);
    expect(w.size).toBe(2);
    expect(w.qos2).toBe(1);
    expect(w.get(65535)).toBe(a);
    expect(w.get(2)).toBeUndefined();
    w.release(1);
    expect(w.state(1)).toBe(RELEASED);
    expect(w.state(65535)).toBe(SENT);
    // The same id again (a resend after a refusal): replaced, not counted twice.
    w.set(1, b, SENT);
    expect([w.size, w.qos2, w.state(1)]).toEqual([2, 1, SENT]);
    w.delete(1);
    w.delete(1);
    expect([w.size, w.qos2]).toEqual([1, 0]);
    expect(w.get(1)).toBeUndefined();
  });

  it('lists the rows in flight by row id, and clears', () => {
    const w = new InFlightWindow();
    w.set(9, row(3, 1), SENT);
    w.set(2, row(5, 2), RELEASED);
    w.set(40000, row(1, 1), SENT);
    expect(w.list().map((r) => r.id)).toEqual([1, 3, 5]);
    w.clear();
    expect([w.size, w.qos2, w.list().length]).toEqual([0, 0, 0]);
    expect(w.get(9)).toBeUndefined();
    expect(w.state(2)).toBe(0);
  });
});
