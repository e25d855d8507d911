import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';
import { startGateway } from './start.js';

/**
 * The whole gateway through real parts: socat ptys as serial sensors, real UDP
 * MQTT-SN devices, a real mosquitto upstream, a real SQLite file.
 */
describe('gateway end to end', () => {
  let broker: Mosquitto;
  let weather: PtyPair;
  let fan: PtyPair;
  let weatherEnd: Sensor;
  let fanEnd: Sensor;
  let gateway: Gateway;
  let sub: Subscriber;
  let udpPort: number;
  let httpPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start({ persistence: true });
    weather = await PtyPair.open(tmpDir());
    fan = await PtyPair.open(tmpDir());
    weatherEnd = await Sensor.open(weather.sensor);
    fanEnd = await Sensor.open(fan.sensor);
    udpPort = await freeUdpPort();
    httpPort = await freePort();
    // A persistent session: the broker keeps what arrives while this subscriber reconnects.
    sub = await Subscriber.connect(broker.url, ['site/#', 'raw/#'], {
      qos: 1,
      clientId: 'e2e-sub',
      clean: false,
    });
    ({ gateway } = await startGateway(`
gateway: { id: gw1, state_dir: state }
upstream:
  url: ${broker.url}
  keepalive: 5
  reconnect: { min: 100ms, max: 400ms }
store: { durability: power-loss }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${udpPort}
  predefined_topics: { 1: sensors/sn1/temp }
serial:
  - name: weather
    path: ${weather.device}
    baud: 9600
    format: kv
    topic: sensors/{device}/{field}
    reopen: { min: 50ms, max: 200ms }
  - name: fan
    path: ${fan.device}
    format: raw
    topic: fan/{device}
rules:
  - match: sensors/+device/temp
    publish: site/{gateway}/{device}/temperature
    qos: 1
default_route: { action: pass, prefix: raw/ }
commands:
  - subscribe: cmd/{gateway}/serial/+device
    to: serial:weather
  - subscribe: cmd/{gateway}/sn/+device
    to: mqttsn
    topic: cmd
triggers:
  - match: sensors/+device/temp
    when: "$number(payload) > 30"
    to: serial:fan
    device: fan
    payload: "FAN ON"
    cooldown: 1m
http: { listen: 127.0.0.1:${httpPort} }
`));
    await waitFor(
      () => gateway.observability?.health().upstream === 'connected',
      'gateway connected upstream',
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await weatherEnd?.close();
    await fanEnd?.close();
    await weather?.close();
    await fan?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('publishes retained online on the status topic', async () => {
    const late = await Subscriber.connect(broker.url, 'fieldgate/gw1/status', { qos: 1 });
    try {
      const [m] = await late.waitForCount(1, 5000);
      expect(m?.payload.toString()).toBe('online');
      expect(m?.retain).toBe(true);
    } finally {
      await late.close();
    }
  });

  it('a serial frame arrives upstream under the remapped topic; unmatched fields pass under the prefix', async () => {
    await weatherEnd.write('temp:21.5 humi:47\n');
    const [t] = await sub.waitForCount(1, 5000, 'site/gw1/weather/temperature');
    expect(t?.payload.toString()).toBe('21.5');
    const [h] = await sub.waitForCount(1, 5000, 'raw/sensors/weather/humi');
    expect(h?.payload.toString()).toBe('47');
  });

  it('an MQTT-SN QoS 1 publish is acked after commit and arrives upstream', async () => {
    const dev = await SnClient.open(udpPort);
    try {
      expect((await dev.connect('sn1')).returnCode).toBe(0);
      await dev.send({
        type: 'publish',
        flags: flags({ qos: 1, topicIdType: 1 }),
        topicId: 1,
        msgId: 7,
        data: Buffer.from('19.0'),
      });
      const ack = await dev.expect('puback');
      expect([ack.msgId, ack.returnCode]).toEqual([7, 0]);
      const [m] = await sub.waitForCount(1, 5000, 'site/gw1/sn1/temperature');
      expect(m?.payload.toString()).toBe('19.0');
    } finally {
      await dev.close();
    }
  });

  it('a command published to the broker is written to the serial port', async () => {
    await publishTo(broker.url, 'cmd/gw1/serial/weather', 'LED ON', { qos: 1 });
    await waitFor(() => weatherEnd.text().includes('LED ON\n'), 'command on the weather pty');
  });

  it('a command for a sleeping MQTT-SN device waits, and is delivered when it wakes, before PINGRESP', async () => {
    const dev = await SnClient.open(udpPort);
    try {
      await dev.connect('dev2');
      await dev.send({ type: 'disconnect', duration: 60 });
      await dev.expect('disconnect');
      await publishTo(broker.url, 'cmd/gw1/sn/dev2', 'open valve', { qos: 1 });
      // Spooled first (acked upstream), then handed to the adapter, which queues it for the sleeper.
      const queued = async () =>
        (await gateway.observability!.metrics.commands.get()).values.find(
          (v) => v.labels.target === 'mqttsn' && v.labels.outcome === 'queued',
        )?.value;
      await waitFor(async () => (await queued()) === 1, 'command queued in the inbox');
      expect(gateway.observability?.health().inbox?.rows).toBe(1);
      await dev.send({ type: 'pingreq', clientId: 'dev2' });
      const reg = await dev.expect('register');
      expect(reg.topicName).toBe('cmd');
      await dev.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
      const pub = await dev.expect('publish');
      expect(pub.data.toString()).toBe('open valve');
      expect(pub.topicId).toBe(reg.topicId);
      if (pub.flags.qos === 1)
        await dev.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
      await dev.expect('pingresp');
      await waitFor(() => gateway.observability?.health().inbox?.rows === 0, 'inbox empty after delivery');
    } finally {
      await dev.close();
    }
  });

  it('with the broker stopped: a local trigger still fires, readings buffer, and arrive after it returns', async () => {
    await broker.stop();
    await waitFor(() => gateway.observability?.health().upstream === 'disconnected', 'upstream down');
    const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(health.status).toBe(200); // buffering is the point: an outage is not unhealthy
    await weatherEnd.write('temp:35.2\n');
    await waitFor(() => fanEnd.text().includes('FAN ON'), 'trigger command on the fan pty');
    await waitFor(
      () => (gateway.observability?.health().outbox.rows ?? 0) >= 1,
      'reading waiting in the outbox',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/fieldgate_upstream_connected 0/);
    expect(metrics).toMatch(/fieldgate_outbox_rows [1-9]/);
    expect(metrics).toMatch(/fieldgate_messages_in_total\{source="serial:weather"\} [1-9]/);
    await broker.restart();
    const [m] = (await sub.waitForCount(2, 10_000, 'site/gw1/weather/temperature')).slice(1);
    expect(m?.payload.toString()).toBe('35.2');
    await waitFor(() => gateway.observability?.health().outbox.rows === 0, 'outbox drained');
  });
});
