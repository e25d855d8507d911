import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { adapterDescriptors, adapterKinds } from '../../adapters/registry.js';
import { buildAdapters } from '../../gateway/build-adapters.js';
import { parseConfig } from '../../gateway/config/load.js';
import { configSchema } from '../../gateway/config/schema.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(() => cleanupTmpDirs());

const config = parseConfig(
  [
    'gateway: { id: gw1 }',
    'upstream: { url: "mqtt://127.0.0.1:1883" }',
    'serial:',
    '  - name: wx',
    '    path: /dev/ttyUSB0',
    '    fields: [temp, humi]',
    '    ha: { temp: { device_class: temperature, unit: "°C" } }',
    'modbus:',
    '  - name: rs',
    '    path: /dev/ttyUSB1',
    '    devices:',
    '      - name: meter',
    '        points:',
    '          - { name: power, fc: 3, address: 0, type: float32, unit: W, ha: { device_class: power } }',
    '          - { name: relay, fc: 1, address: 0, writable: true }',
    '          - { name: label, fc: 4, address: 10, type: string, length: 4 }',
    'mqttsn: { enabled: true, listen: "127.0.0.1:0" }',
  ].join('\n'),
);

describe('the adapter registry', () => {
  it('owns one config section per adapter kind, each key once', () => {
    const keys = adapterDescriptors.map((d) => d.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const d of adapterDescriptors) expect(configSchema.shape[d.key]).toBe(d.schema);
  });

  it('builds every configured instance through the descriptors, in registry order', () => {
    const store = openStore({
      dir: tmpDir(),
      durability: 'process-crash',
      limits: config.store,
      logger: pino({ level: 'silent' }),
    });
    try {
      const adapters = buildAdapters(config, {
        inbox: store.inbox,
        state: store.state,
        devices: store.devices,
        logger: pino({ level: 'silent' }),
      });
      expect([...adapters.keys()]).toEqual(['serial:wx', 'modbus:rs', 'mqttsn']);
      // Each instance has its command targets' name, and only its own kind claims its replies.
      const targets = adapterKinds.flatMap((k) => k.targets(config[k.key as keyof typeof config]));
      expect(targets).toEqual([...adapters.keys()]);
      const withReplies = [...adapters.values()].filter((a) => adapterKinds.some((k) => k.replies?.(a)));
      expect(withReplies.map((a) => a.name)).toEqual(['serial:wx']);
    } finally {
      void store.close();
    }
  });

  it('lists the points each instance knows, with type, datatype, unit and writability', () => {
    const modbus = adapterDescriptors[1].points!(config.modbus).get('modbus:rs')!;
    expect(modbus.points('meter')).toEqual([
      {
        name: 'power',
        type: 'number',
        // The register's exact type, for Sparkplug births.
        datatype: 'Float',
        unit: 'W',
        writable: false,
        ha: expect.objectContaining({ device_class: 'power', unit: 'W' }),
      },
      { name: 'relay', type: 'boolean', datatype: 'Boolean', writable: true },
      { name: 'label', type: 'string', datatype: 'String', writable: false },
    ]);
    expect(modbus.points('other')).toEqual([]);
    const serial = adapterDescriptors[0].points!(config.serial).get('serial:wx')!;
    expect(serial.points('any-device')).toEqual([
      {
        name: 'temp',
        type: 'unknown',
        unit: '°C',
        writable: false,
        ha: expect.objectContaining({ unit: '°C' }),
      },
      { name: 'humi', type: 'unknown', writable: false },
    ]);
  });
});
