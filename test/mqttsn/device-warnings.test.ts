import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DeviceWarnings } from '../../adapters/mqttsn/device-warnings.js';
import type { LogLine } from '../harness/gateway-process.js';

describe('DeviceWarnings (pure, clock passed in)', () => {
  it('one line per device and reason a minute with the count since, at most 10 lines a second in all', () => {
    const lines: LogLine[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
    let now = 1_000_000;
    const w = new DeviceWarnings(log, () => now);

    w.report('delivery_failed', 'd1', '127.0.0.1:5000', 'm1');
    w.report('delivery_failed', 'd1', '127.0.0.1:5000', 'm2');
    w.report('oversize', 'd1', '127.0.0.1:5000');
    expect(lines.map((l) => [l.reason, l.device, l.count])).toEqual([
      ['delivery_failed', 'd1', 1],
      ['oversize', 'd1', 1],
    ]);
    now += 60_000;
    w.report('delivery_failed', 'd1', '127.0.0.1:5000', 'm3');
    expect(lines[2]).toMatchObject({ reason: 'delivery_failed', device: 'd1', count: 2 }); // m2 and m3

    // 30 devices misbehaving in the same second: 10 lines; the next line says how many were held back.
    lines.length = 0;
    now += 1000;
    for (let i = 0; i < 30; i++) w.report('out_of_state', `dev-${i}`, undefined);
    expect(lines).toHaveLength(10);
    now += 1000;
    w.report('out_of_state', 'dev-29', undefined);
    expect(lines[10]).toMatchObject({ device: 'dev-29', suppressed: 20, count: 2 });
  });
});
