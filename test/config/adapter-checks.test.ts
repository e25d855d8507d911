import { describe, expect, it } from 'vitest';
import { configChecks } from '../../gateway/config/checks.js';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';

/** Checks that need every adapter section: command targets, names and device files (each kind's descriptor). */
function problems(lines: string[]): { path: string; message: string }[] {
  try {
    parseConfig(lines.join('\n'), 'test.yaml', {}, configChecks);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => ({ path: p.path, message: p.message }));
    throw err;
  }
  return [];
}

const head = ['gateway: { id: gw1 }', 'upstream:', '  url: mqtt://127.0.0.1:1883'];
const serial = (name: string, path: string) => [`  - name: ${name}`, `    path: ${path}`];
const bus = (name: string, path: string) => [
  `  - name: ${name}`,
  `    path: ${path}`,
  '    devices:',
  '      - name: meter',
  '        points: [{ name: v, fc: 3, address: 0 }]',
];
const command = (to: string) => ['  - subscribe: cmd/+device', `    to: "${to}"`, '    topic: cmd'];

describe('config checks that every adapter kind takes part in', () => {
  it('a command target must be an instance some adapter section configures', () => {
    const sections = [
      ...head,
      'serial:',
      ...serial('wx', '/dev/ttyUSB0'),
      'modbus:',
      ...bus('rs', '/dev/ttyUSB1'),
      'mqttsn: { enabled: true }',
    ];
    for (const to of ['serial:wx', 'modbus:rs', 'mqttsn'])
      expect(problems([...sections, 'commands:', ...command(to)])).toEqual([]);
    const bad = problems([...sections, 'commands:', ...command('serial:nope')]);
    expect(bad).toEqual([
      { path: 'commands.0.to', message: expect.stringContaining('unknown target "serial:nope"') },
    ]);
    for (const known of ['serial:wx', 'modbus:rs', 'mqttsn']) expect(bad[0]!.message).toContain(known);
    // A disabled MQTT-SN gateway is no target.
    expect(
      problems([...head, 'mqttsn: { enabled: false }', 'commands:', ...command('mqttsn')]).map((p) => p.path),
    ).toEqual(['commands.0.to']);
  });

  it('names repeat within a section only with an error at the repeated entry', () => {
    const found = problems([
      ...head,
      'serial:',
      ...serial('wx', '/dev/ttyUSB0'),
      ...serial('wx', '/dev/ttyUSB2'),
      'modbus:',
      ...bus('rs', '/dev/ttyUSB1'),
      ...bus('rs', '/dev/ttyUSB3'),
    ]);
    expect(found).toEqual([
      { path: 'serial.1.name', message: 'duplicate serial port name "wx"' },
      { path: 'modbus.1.name', message: 'duplicate modbus bus name "rs"' },
    ]);
  });

  it('two serial entries cannot open one port (each would hold the other off)', () => {
    expect(
      problems([...head, 'serial:', ...serial('a', '/dev/ttyUSB0'), ...serial('b', '/dev/ttyUSB0')]),
    ).toEqual([{ path: 'serial.1.path', message: '/dev/ttyUSB0 is already used by serial port "a"' }]);
  });

  it('a Modbus bus cannot open a port a serial entry or another bus opens', () => {
    const found = problems([
      ...head,
      'serial:',
      ...serial('wx', '/dev/ttyUSB0'),
      'modbus:',
      ...bus('a', '/dev/ttyUSB0'),
      ...bus('b', '/dev/ttyUSB1'),
      ...bus('c', '/dev/ttyUSB1'),
    ]);
    expect(found).toEqual([
      { path: 'modbus.0.path', message: '/dev/ttyUSB0 is already used by serial port "wx"' },
      { path: 'modbus.2.path', message: '/dev/ttyUSB1 is already used by modbus bus "b"' },
    ]);
  });
});
