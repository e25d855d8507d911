import { describe, expect, it } from 'vitest';
import { configChecks } from '../../gateway/config/checks.js';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';

const base = `gateway: { id: gw, state_dir: /tmp/x }
upstream: { url: mqtt://127.0.0.1:1883 }
`;

function problems(yaml: string) {
  try {
    parseConfig(base + yaml, 'f.yaml', {}, configChecks);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** `fieldgate check` on a modbus section: the key path and line of each mistake. */
describe('modbus config in fieldgate check', () => {
  it('points at the line of a wrong point and an unknown byte order', () => {
    const p = problems(`modbus:
  - name: rs485a
    path: /dev/ttyUSB0
    devices:
      - name: meter1
        points:
          - { name: voltage, fc: 4, address: 0, type: float32, order: CDAB }
          - { name: relay, fc: 2, address: 0, writable: true }
          - { name: energy, fc: 3, address: 10, type: uint32, order: ABDC }
`);
    expect(p).toEqual([expect.objectContaining({ path: 'modbus.0.devices.0.points.2.order', line: 11 })]);
    // The cross-field checks run once the shape parses: with the byte order fixed, the next mistake shows.
    const q = problems(`modbus:
  - name: rs485a
    path: /dev/ttyUSB0
    devices:
      - name: meter1
        points:
          - { name: voltage, fc: 4, address: 0, type: float32, order: CDAB }
          - { name: relay, fc: 2, address: 0, writable: true }
`);
    expect(q).toEqual([
      expect.objectContaining({
        path: 'modbus.0.devices.0.points.1.writable',
        line: 10,
        message: expect.stringMatching(/read-only/),
      }),
    ]);
  });

  it('commands may target a modbus bus; an unknown one is refused', () => {
    const bus = `modbus:
  - { name: rs485a, path: /dev/ttyUSB0, devices: [{ name: m, points: [{ name: r, fc: 1, address: 0, writable: true }] }] }
`;
    expect(problems(`${bus}commands:\n  - { subscribe: "cmd/+device", to: "modbus:rs485a" }\n`)).toEqual([]);
    expect(problems(`${bus}commands:\n  - { subscribe: "cmd/+device", to: "modbus:other" }\n`)).toEqual([
      expect.objectContaining({
        path: 'commands.0.to',
        message: expect.stringMatching(/known: modbus:rs485a/),
      }),
    ]);
  });

  it('a port cannot be both a serial port and a Modbus bus, nor two buses', () => {
    expect(
      problems(`serial:
  - { name: weather, path: /dev/ttyUSB0 }
modbus:
  - { name: a, path: /dev/ttyUSB1, devices: [{ name: m, points: [{ name: r, fc: 3, address: 0 }] }] }
  - { name: b, path: /dev/ttyUSB0, devices: [{ name: m, points: [{ name: r, fc: 3, address: 0 }] }] }
  - { name: c, path: /dev/ttyUSB1, devices: [{ name: m, points: [{ name: r, fc: 3, address: 0 }] }] }
`),
    ).toEqual([
      expect.objectContaining({
        path: 'modbus.1.path',
        line: 7,
        message: expect.stringMatching(/serial port "weather"/),
      }),
      expect.objectContaining({
        path: 'modbus.2.path',
        line: 8,
        message: expect.stringMatching(/modbus bus "a"/),
      }),
    ]);
  });
});
