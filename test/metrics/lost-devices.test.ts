import { describe, expect, it } from 'vitest';
import { LostDevices } from '../../adapters/mqttsn/stats.js';

describe('LostDevices (fieldgate_mqttsn_devices{state="lost"})', () => {
  it('counts a lost device until any later lifecycle event of it', () => {
    const l = new LostDevices();
    l.state('a', 'lost', 0);
    l.state('b', 'lost', 0);
    expect(l.count(1)).toBe(2);
    l.state('a', 'connect', 2); // reconnected
    l.state('b', 'wake', 2); // a sleeper heard from again
    expect(l.count(3)).toBe(0);
    l.state('a', 'lost', 4);
    l.state('a', 'lost', 5); // the same device twice is one device
    expect(l.count(6)).toBe(1);
  });

  it('forgets a device lost for longer than the retention, and keeps at most max (oldest out first)', () => {
    const l = new LostDevices(1000, 3);
    l.state('a', 'lost', 0);
    l.state('b', 'lost', 500);
    expect(l.count(999)).toBe(2);
    expect(l.count(1000)).toBe(1); // a forgotten
    expect(l.count(1500)).toBe(0);
    for (const id of ['c', 'd', 'e', 'f']) l.state(id, 'lost', 2000);
    expect(l.count(2000)).toBe(3);
    l.state('c', 'connect', 2001); // c was the oldest, already evicted: nothing changes
    expect(l.count(2001)).toBe(3);
    l.state('d', 'connect', 2001);
    expect(l.count(2001)).toBe(2);
  });
});
