import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, type Received, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';
import { startStatusGateway } from './gateway.js';

/**
 * The documented discovery schema (docs/operations.md, Home Assistant): what every sensor config must
 * carry for HA to create the entity under the gateway and follow its availability.
 */
function checkSensorConfig(c: Record<string, unknown>): void {
  for (const k of ['name', 'unique_id', 'state_topic', 'value_template', 'device', 'availability', 'origin'])
    expect(c, k).toHaveProperty(k);
  expect(c.availability_mode).toBe('all');
  const device = c.device as Record<string, unknown>;
  expect(device.identifiers).toEqual([expect.stringMatching(/^fieldgate_gw-ha_/)]);
  expect(device.via_device).toBe('fieldgate_gw-ha');
  expect(c.availability).toEqual([
    { topic: 'fieldgate/gw-ha/status', payload_available: 'online', payload_not_available: 'offline' },
    {
      topic: expect.stringMatching(/^fieldgate\/gw-ha\/devices\/[^/]+\/availability$/),
      payload_available: 'online',
      payload_not_available: 'offline',
    },
  ]);
  expect(c.origin).toMatchObject({ name: 'fieldgate', sw_version: expect.any(String) });
}

/** Home Assistant MQTT discovery against a real mosquitto: retained configs read back and checked. */
describe('Home Assistant discovery', () => {
  let broker: Mosquitto;
  let gateway: Gateway | undefined;
  let sub: Subscriber;
  let pty: PtyPair;
  let sensor: Sensor;
  const dir = tmpDir('fieldgate-ha-');
  const PRESSURE_RULE = `
  - name: pressure
    match: raw/+device/p
    publish: home/{device}/pressure
    ha: { device_class: pressure, unit: hPa, state_class: measurement }`;
  const yaml = (ha: string, extraRule = '') => `
gateway: { id: gw-ha, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - name: weather
    path: ${pty.device}
    format: kv
    topic: "raw/{device}/{field}"
    ha: ${ha}
  - name: bus
    path: ${pty.device}-absent
    format: json
    device_field: id
    topic: "bus/{device}"
    ha: { v: { device_class: voltage, unit: V } }
rules:${extraRule}
  - match: raw/+device/+field
    publish: home/{device}/{field}
homeassistant: { enabled: true }
http: { enabled: false }
`;
  const configs = (topic: string): Received[] => sub.messages.filter((m) => m.topic === topic);
  const T = 'homeassistant/sensor/gw-ha/weather_t/config';
  const H = 'homeassistant/sensor/gw-ha/weather_h/config';
  const GW = 'homeassistant/binary_sensor/gw-ha/connectivity/config';
  const P = 'homeassistant/sensor/gw-ha/weather_home_weather_pressure/config';

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pty = await PtyPair.open(tmpDir());
    sensor = await Sensor.open(pty.sensor);
    sub = await Subscriber.connect(broker.url, ['homeassistant/#', 'home/#'], { qos: 1 });
    ({ gateway } = await startStatusGateway(
      yaml(
        '{ t: { device_class: temperature, unit: "°C", state_class: measurement }, h: { device_class: humidity, unit: "%" } }',
        PRESSURE_RULE,
      ),
      dir,
    ));
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await sensor?.close();
    await pty?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('announces the gateway, then each field with ha: metadata once it reports, with the topic the rules publish to', async () => {
    await sub.waitForCount(1, 5000, GW);
    const gw = JSON.parse(configs(GW)[0]!.payload.toString());
    expect(gw).toMatchObject({
      unique_id: 'fieldgate_gw-ha_connectivity',
      state_topic: 'fieldgate/gw-ha/status',
    });
    expect(gw.device.identifiers).toEqual(['fieldgate_gw-ha']);

    await waitFor(() => gateway!.observability?.health().upstream === 'connected', 'connected');
    await sensor.write('t=21.5 h=40 x=1 p=1013\n');
    await sub.waitForCount(1, 5000, T);
    await sub.waitForCount(1, 5000, H);
    const t = JSON.parse(configs(T)[0]!.payload.toString());
    checkSensorConfig(t);
    expect(t).toMatchObject({
      unique_id: 'fieldgate_gw-ha_weather_t',
      state_topic: 'home/weather/t',
      value_template: '{{ value }}',
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
    });
    // The state topic is where the value really arrives.
    const value = await sub.waitForCount(1, 5000, t.state_topic);
    expect(value[0]!.payload.toString()).toBe('21.5');
    checkSensorConfig(JSON.parse(configs(H)[0]!.payload.toString()));
    expect(sub.messages.some((m) => m.topic.includes('weather_x'))).toBe(false); // no ha: metadata
    // A rule's output with ha: metadata is an entity too, on the rule's output topic.
    await sub.waitForCount(1, 5000, P);
    const p = JSON.parse(configs(P)[0]!.payload.toString());
    checkSensorConfig(p);
    expect(p).toMatchObject({
      name: 'pressure',
      state_topic: 'home/weather/pressure',
      unit_of_measurement: 'hPa',
    });
    expect((await sub.waitForCount(1, 5000, p.state_topic))[0]!.payload.toString()).toBe('1013');
  });

  it('republishes every config when Home Assistant comes online', async () => {
    const before = configs(T).length;
    await publishTo(broker.url, 'homeassistant/status', 'online');
    await sub.waitForCount(before + 1, 5000, T);
    await sub.waitForCount(2, 5000, GW);
  });

  it('clears the entities of a field removed from the config (empty retained config) at the next start', async () => {
    await gateway!.stop();
    gateway = undefined;
    ({ gateway } = await startStatusGateway(yaml('{ t: { device_class: temperature, unit: "°C" } }'), dir));
    await waitFor(() => configs(H).at(-1)?.payload.length === 0, 'empty config for the removed field', 5000);
    await waitFor(() => configs(P).at(-1)?.payload.length === 0, 'empty config for the removed rule', 5000);
    // A fresh subscriber sees the retained state: t still announced, h gone.
    const late = await Subscriber.connect(broker.url, 'homeassistant/#', { qos: 1 });
    try {
      await late.waitForCount(2, 5000);
      expect(late.messages.map((m) => m.topic).sort()).toEqual([GW, T]);
      expect(late.messages.every((m) => m.retain)).toBe(true);
    } finally {
      await late.close();
    }
  });
});
