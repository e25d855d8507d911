import { describe, expect, it } from 'vitest';
import { createNoiseMeter, type NoiseBurst } from '../../adapters/serial/noise.js';

function meter() {
  let t = 0;
  let bytes = 0;
  const bursts: NoiseBurst[] = [];
  const add = createNoiseMeter(
    (n) => {
      bytes += n;
    },
    (b) => bursts.push(b),
    () => t,
  );
  return {
    add,
    bursts,
    bytes: () => bytes,
    at: (ms: number) => {
      t = ms;
    },
  };
}

describe('noise meter', () => {
  it('reports a burst once per window when enough undecodable bytes in enough drops pile up', () => {
    const m = meter();
    m.add('unparsable', 100);
    m.add('framing', 100);
    expect(m.bursts).toEqual([]); // two drops: not yet a burst
    m.add('stale_partial', 100);
    expect(m.bursts).toEqual([{ drops: 3, bytes: 300, windowMs: 10_000 }]);
    for (let i = 0; i < 50; i++) m.add('crc', 1);
    expect(m.bursts).toHaveLength(1); // once per window
    m.at(10_000);
    for (let i = 0; i < 3; i++) m.add('too_long', 200);
    expect(m.bursts).toHaveLength(2); // a new window, a new burst
    expect(m.bytes()).toBe(300 + 50 + 600);
  });

  it('one long line is not noise, nor are few small drops, nor drops of decoded frames', () => {
    const m = meter();
    m.add('too_long', 5000);
    m.add('unparsable', 3);
    for (let i = 0; i < 100; i++) m.add('bad_field_name', 100);
    for (let i = 0; i < 100; i++) m.add('unlisted_field', 100);
    expect(m.bursts).toEqual([]);
    m.at(20_000);
    for (let i = 0; i < 10; i++) m.add('framing', 2);
    expect(m.bursts).toEqual([]); // 20 bytes in 10 drops: a few stray bytes
    expect(m.bytes()).toBe(5003 + 20);
  });
});
