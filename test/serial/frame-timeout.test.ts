import { describe, expect, it } from 'vitest';
import { frameTimeoutMs } from '../../adapters/serial/frame-timeout.js';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';
import { portConfig } from './helpers.js';

function problems(serialLine: string): { path: string; line: number | null; message: string }[] {
  const yaml = ['gateway: { id: gw1 }', 'upstream: { url: "mqtt://127.0.0.1:1883" }', 'serial:', serialLine];
  try {
    parseConfig(yaml.join('\n'), 'test.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError)
      return err.problems.map((p) => ({ path: p.path, line: p.line, message: p.message }));
    throw err;
  }
  return [];
}

describe('frame_timeout', () => {
  it('defaults to 300ms, stretched to 32 character times at slow baud rates', () => {
    expect(frameTimeoutMs(portConfig({ baud: 115200 }))).toBe(300);
    expect(frameTimeoutMs(portConfig({ baud: 9600 }))).toBe(300);
    expect(frameTimeoutMs(portConfig({ baud: 1200 }))).toBe(300); // 32 × 8.3 ms = 267 ms
    expect(frameTimeoutMs(portConfig({ baud: 300 }))).toBe(1067); // 32 × 10 bits / 300 baud
    // 7E2 = 1 + 7 + 1 + 2 = 11 bits per character
    expect(frameTimeoutMs(portConfig({ baud: 300, data_bits: 7, parity: 'even', stop_bits: 2 }))).toBe(1174);
  });

  it('is taken as configured', () => {
    expect(frameTimeoutMs(portConfig({ frame_timeout: '2s' }))).toBe(2000);
    expect(frameTimeoutMs(portConfig({ baud: 300, frame_timeout: '150ms' }))).toBe(150);
  });

  it('refuses a value shorter than 3 characters at the port baud rate (or 10ms), naming the key', () => {
    const slow = problems('  - { name: s, path: /dev/ttyUSB0, baud: 300, frame_timeout: 50ms }');
    expect(slow).toEqual([expect.objectContaining({ path: 'serial.0.frame_timeout', line: 4 })]);
    expect(slow[0]!.message).toMatch(/at least 100ms .*300 baud/);
    expect(problems('  - { name: s, path: /dev/ttyUSB0, frame_timeout: 5ms }')[0]?.path).toBe(
      'serial.0.frame_timeout',
    );
    expect(problems('  - { name: s, path: /dev/ttyUSB0, baud: 300, frame_timeout: 100ms }')).toEqual([]);
    expect(
      problems('  - { name: s, path: /dev/ttyUSB0, framing: idle-timeout, frame_timeout: 1s }')[0]?.message,
    ).toMatch(/idle-timeout frames end after `idle`/);
    expect(problems('  - { name: s, path: /dev/ttyUSB0, frame_timeout: banana }')[0]?.path).toBe(
      'serial.0.frame_timeout',
    );
  });
});
