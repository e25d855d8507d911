import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';

/**
 * Commands carry data, not structure: a value rendered into a line-framed serial command cannot
 * smuggle a second command in, and a trigger's cool-down protects the port it switches, however
 * many devices' readings set it off. Real gateway parts: mosquitto, socat ptys, MQTT-SN over UDP.
 */
describe('commands carry data, not structure', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let sub: Subscriber;
  let sn: number;
  let heaterPty: PtyPair;
  let fanPty: PtyPair;
  let heater: Sensor;
  let fan: Sensor;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    sn = await freeUdpPort();
    heaterPty = await PtyPair.open();
    fanPty = await PtyPair.open();
    heater = await Sensor.open(heaterPty.sensor);
    fan = await Sensor.open(fanPty.sensor);
    sub = await Subscriber.connect(broker.url, 'res/#', { qos: 1 });
    ({ gateway } = await startGateway(`
gateway: { id: gwi, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${sn} }
serial:
  - { name: heater, path: ${heaterPty.device}, format: raw, topic: "heater/{device}" }
  - { name: fan, path: ${fanPty.device}, format: raw, topic: "fan/{device}" }
commands:
  - subscribe: cmd/{gateway}/heater
    to: serial:heater
    device: heater
    payload: "SET {payload}"
    result_topic: res/heater
triggers:                     # the example in docs/configuration.md
  - match: sensors/+device/temp
    when: "$number(payload) > 30"
    to: serial:fan
    payload: "ON"
    cooldown: 5m
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await heater?.close();
    await fan?.close();
    await heaterPty?.close();
    await fanPty?.close();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const outcomes = () => sub.messages.map((m) => JSON.parse(m.payload.toString()).outcome as string);

  it('a serial command whose value holds the line delimiter is refused, not split into two', async () => {
    // The gateway subscribes once connected: send until a result comes back.
    await waitFor(
      async () => {
        await publishTo(broker.url, 'cmd/gwi/heater', '5\nFACTORY_RESET', { qos: 1 });
        return waitFor(() => sub.messages.length > 0, 'a result', 500).catch(() => false);
      },
      'the gateway answering',
      15_000,
      0,
    );
    expect(new Set(outcomes())).toEqual(new Set(['rejected']));
    await sleep(300);
    expect(heater.text()).toBe(''); // neither "SET 5" nor "FACTORY_RESET" reached the device
    const before = sub.messages.length;
    await publishTo(broker.url, 'cmd/gwi/heater', '5', { qos: 1 });
    await waitFor(() => heater.text() === 'SET 5\n', 'the plain command at the device', 5000);
    await waitFor(() => sub.messages.length > before, 'its result');
    expect(outcomes().at(-1)).toBe('delivered');
  }, 30_000);

  it("a trigger's cool-down holds for the port, whichever device's reading fires it", async () => {
    for (const id of ['t1', 't2', 't3']) {
      const c = await SnClient.open(sn);
      try {
        expect((await c.connect(id)).returnCode).toBe(0);
        await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: `sensors/${id}/temp` });
        const { topicId } = await c.expect('regack');
        await c.send({
          type: 'publish',
          flags: flags({ qos: 1 }),
          topicId,
          msgId: 2,
          data: Buffer.from('35'),
        });
        expect((await c.expect('puback')).returnCode).toBe(0);
      } finally {
        await c.close();
      }
    }
    await waitFor(() => fan.text().includes('ON'), 'the fan switched', 5000);
    await sleep(500);
    expect(fan.text()).toBe('ON\n'); // once, not three times in five minutes
  }, 30_000);
});
