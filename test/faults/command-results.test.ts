import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';

/**
 * A command that waited in the inbox (sleeping MQTT-SN device, unplugged serial
 * port) reports `queued`, then `delivered` on its result topic once it is delivered.
 */
describe('results of commands delivered later from the inbox', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let sub: Subscriber;
  let port: number;
  let pty: PtyPair;
  let sensor: Sensor | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    port = await freeUdpPort();
    pty = await PtyPair.open();
    await pty.unplug(); // the valve's port is absent at start
    sub = await Subscriber.connect(broker.url, 'res/#', { qos: 1 });
    ({ gateway } = await startGateway(`
gateway: { id: gwr, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
serial:
  - name: valve
    path: ${pty.device}
    format: raw
    topic: valve/{device}
    reopen: { min: 50ms, max: 200ms }
commands:
  - subscribe: cmd/{gateway}/sn/+device
    to: mqttsn
    topic: cm
    qos: 1
    result_topic: res/{device}
  - subscribe: cmd/{gateway}/valve
    to: serial:valve
    device: valve
    result_topic: res/valve
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
    await subscribed();
    expect(outcomes('res/nobody')[0]).toBe('unknown-device');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sensor?.close();
    await pty?.close();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  /** Outcomes reported on a result topic, in arrival order. */
  const outcomes = (topic: string) =>
    sub.messages
      .filter((m) => m.topic === topic)
      .map((m) => (JSON.parse(m.payload.toString()) as { outcome: string }).outcome);

  /** The gateway subscribes after connecting: probe (with an unknown device) until a result comes back. */
  async function subscribed(): Promise<void> {
    await waitFor(
      async () => {
        await publishTo(broker.url, 'cmd/gwr/sn/nobody', 'probe', { qos: 1 });
        return waitFor(() => outcomes('res/nobody').length > 0, 'probe result', 500).catch(() => false);
      },
      'the gateway subscribed to commands',
      10_000,
    );
  }

  async function command(topic: string, payload: string, resultTopic: string): Promise<void> {
    await publishTo(broker.url, topic, payload, { qos: 1 });
    await waitFor(() => outcomes(resultTopic).length > 0, `first result on ${resultTopic}`, 5000);
  }

  it('an MQTT-SN sleeper: queued, then delivered when it wakes', async () => {
    const dev = await SnClient.open(port);
    try {
      expect((await dev.connect('sleepy')).returnCode).toBe(0);
      await dev.send({ type: 'disconnect', duration: 60 });
      await dev.expect('disconnect');
      await command('cmd/gwr/sn/sleepy', 'open', 'res/sleepy');
      expect(outcomes('res/sleepy')).toEqual(['queued']);
      await dev.send({ type: 'pingreq', clientId: 'sleepy' });
      const pub = await dev.expect('publish');
      expect(pub.data.toString()).toBe('open');
      await dev.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
      await dev.expect('pingresp');
      await waitFor(() => outcomes('res/sleepy').length === 2, 'second result', 5000);
      expect(outcomes('res/sleepy')).toEqual(['queued', 'delivered']);
    } finally {
      await dev.close();
    }
  });

  it('a serial port: queued while absent, then delivered once it is plugged in and written', async () => {
    await command('cmd/gwr/valve', 'OPEN', 'res/valve');
    expect(outcomes('res/valve')).toEqual(['queued']);
    await pty.plug();
    sensor = await Sensor.open(pty.sensor);
    await waitFor(() => sensor?.text() === 'OPEN\n', 'command written after replug', 5000);
    await waitFor(() => outcomes('res/valve').length === 2, 'second result', 5000);
    expect(outcomes('res/valve')).toEqual(['queued', 'delivered']);
  });
});
