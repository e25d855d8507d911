import { describe, expect, it } from 'vitest';
import { Session } from '../../adapters/mqttsn/session.js';

describe('Session uplink memory', () => {
  it('remembers the last 16 acked msgIds to recognise a DUP resend, forgetting the oldest first', () => {
    const s = new Session('dev', 10);
    for (let id = 1; id <= 20; id++) s.markAcked(id);
    expect([...s.uplink.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 5));
    expect(s.inflightUp()).toBe(0);
  });

  it('keeps an id that is in use again when its old ack is forgotten', () => {
    const s = new Session('dev', 10);
    s.markAcked(1);
    s.uplink.set(1, { state: 'settling' }); // a new message reusing id 1
    for (let id = 2; id <= 17; id++) s.markAcked(id);
    expect(s.uplink.get(1)?.state).toBe('settling');
    expect(s.inflightUp()).toBe(1);
    s.markAcked(1);
    for (let id = 18; id <= 25; id++) s.markAcked(id); // pushes the first ack of 1 out, not the second
    expect(s.uplink.get(1)?.state).toBe('acked');
  });
});
