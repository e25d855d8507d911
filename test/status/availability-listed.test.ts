import { describe, expect, it } from 'vitest';
import { hasAvailability } from '../../gateway/availability-listed.js';
import { configSchema } from '../../gateway/config/schema.js';

describe('hasAvailability: which devices get an availability topic (and HA entities one to follow)', () => {
  const sn = configSchema.parse({
    gateway: { id: 'gw' },
    upstream: { url: 'mqtt://127.0.0.1:1883' },
    mqttsn: {
      enabled: true,
      clients: { 'door-3': { address: '10.0.0.3' }, 'meter-1': {} },
      client_topics: { 'valve-2': { 5: 'v/2' } },
      allow: ['pump-1', '10.0.0.9'],
    },
    serial: [{ name: 'weather', path: '/dev/ttyUSB0', topic: 'sensors/{device}/{field}' }],
  });

  it('MQTT-SN client ids only when configured; every other source always', () => {
    for (const id of ['door-3', 'meter-1', 'valve-2', 'pump-1'])
      expect(hasAvailability(sn, 'mqttsn', id)).toBe(true);
    expect(hasAvailability(sn, 'mqttsn', 'fresh-7')).toBe(false);
    expect(hasAvailability(sn, 'mqttsn', '10.0.0.9')).toBe(true); // an allow entry names it (QoS -1 ids)
    expect(hasAvailability(sn, 'serial:weather', 'weather')).toBe(true);
    expect(hasAvailability(sn, 'modbus:bus1', 'anything')).toBe(true);
  });
});
