import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { type Received, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';
import { startStatusGateway } from './gateway.js';

const AV = 'fieldgate/gw-av/devices';

/** Retained per-device availability from real MQTT-SN sessions and a real serial pty, read back from mosquitto. */
describe('per-device availability topics', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let sub: Subscriber;
  let snPort: number;
  let pty: PtyPair;
  let sensor: Sensor;
  let plain: PtyPair;
  const clients: SnClient[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    snPort = await freeUdpPort();
    pty = await PtyPair.open(tmpDir());
    sensor = await Sensor.open(pty.sensor);
    plain = await PtyPair.open(tmpDir());
    sub = await Subscriber.connect(broker.url, `${AV}/+/availability`, { qos: 1 });
    ({ gateway } = await startStatusGateway(`
gateway: { id: gw-av, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${snPort}, clients: { node-a: {}, node-b: {}, node-c: {} } }
serial:
  - { name: bench, path: ${pty.device}, format: kv, device_field: id, topic: "bench/{device}/{field}", silence_timeout: 1s }
  - { name: plain, path: ${plain.device}, reopen: { min: 50ms, max: 200ms } }
http: { enabled: false }
`));
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await gateway?.stop();
    await sub?.close();
    await sensor?.close();
    await pty?.close();
    await plain?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const values = (device: string) =>
    sub.messages.filter((m) => m.topic === `${AV}/${device}/availability`).map((m) => m.payload.toString());
  const until = (device: string, value: string) =>
    waitFor(
      () => values(device).at(-1) === value,
      `${device} ${value} (have ${values(device).join(',')})`,
      5000,
    );

  async function device(id: string): Promise<SnClient> {
    const c = await SnClient.open(snPort);
    clients.push(c);
    expect((await c.connect(id)).returnCode).toBe(0);
    return c;
  }

  it('MQTT-SN connect, sleep and DISCONNECT publish online, asleep and offline', async () => {
    const a = await device('node-a');
    await until('node-a', 'online');
    await a.send({ type: 'disconnect', duration: 120 });
    await a.expect('disconnect');
    await until('node-a', 'asleep');
    const b = await device('node-b');
    await until('node-b', 'online');
    await b.send({ type: 'disconnect' });
    await b.expect('disconnect');
    await until('node-b', 'offline');
  });

  it('a serial port is online once open; a frame device is online, then offline after silence_timeout', async () => {
    await until('bench', 'online');
    await sensor.write('id=th1 t=21.5\n');
    await until('th1', 'online');
    const seenAt = Date.now();
    await until('th1', 'offline'); // lost: 1 s of silence
    expect(Date.now() - seenAt).toBeGreaterThanOrEqual(500);
    await sensor.write('id=th1 t=21.6\n');
    await until('th1', 'online');
  });

  it('a serial port unplugged is offline, replugged online again', async () => {
    await until('plain', 'online');
    await plain.unplug();
    await until('plain', 'offline');
    await plain.plug();
    await until('plain', 'online');
  });

  it('the messages are retained: a late subscriber gets the current state of every device', async () => {
    const late = await Subscriber.connect(broker.url, `${AV}/+/availability`, { qos: 1 });
    try {
      const got = await late.waitForCount(4);
      const state = (d: string): Received | undefined =>
        got.find((m) => m.topic === `${AV}/${d}/availability`);
      expect(state('node-a')).toMatchObject({ retain: true });
      expect(state('node-a')?.payload.toString()).toBe('asleep');
      expect(state('node-b')?.payload.toString()).toBe('offline');
      expect(state('bench')?.retain).toBe(true);
    } finally {
      await late.close();
    }
  });

  it('a device cannot publish to an availability topic (the loop guard refuses it, and counts it)', async () => {
    const evil = await device('evil');
    await evil.send({ type: 'register', topicId: 0, msgId: 1, topicName: `${AV}/node-a/availability` });
    const { topicId } = await evil.expect('regack');
    await evil.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId,
      msgId: 2,
      data: Buffer.from('online'),
    });
    expect((await evil.expect('puback')).returnCode).not.toBe(0);
    const row = gateway.observability?.board.deviceList().devices.find((d) => d.id === 'evil');
    expect(row?.drops).toBe(1);
    expect(values('node-a').at(-1)).toBe('asleep');
  });

  it('an MQTT-SN client id naming a serial device (port or frame id) or the gateway is refused: their availability stays', async () => {
    await until('plain', 'online');
    expect(values('th1').length).toBeGreaterThan(0); // a serial frame device (device_field) seen before
    const before = { plain: values('plain').length, bench: values('bench').length };
    for (const id of ['plain', 'bench', 'gw-av', 'th1']) {
      const c = await SnClient.open(snPort);
      clients.push(c);
      // CONNACK rc 3: 'plain' disconnecting would otherwise publish the serial port offline.
      expect((await c.connect(id)).returnCode).toBe(3);
      await c.send({ type: 'disconnect' });
    }
    await device('node-c'); // its online goes through the same outbox: a barrier for what came before
    await until('node-c', 'online');
    expect(values('plain')).toHaveLength(before.plain);
    expect(values('plain').at(-1)).toBe('online');
    expect(values('bench')).toHaveLength(before.bench);
    expect(sub.messages.filter((m) => m.topic === `${AV}/gw-av/availability`)).toHaveLength(0);
  });

  it('client ids nobody configured get no retained availability topic (200 fresh ids leave none)', async () => {
    for (let i = 0; i < 200; i++) {
      const c = await device(`fresh-${i}`);
      await c.send({ type: 'disconnect' });
      await c.expect('disconnect');
    }
    const c = await device('node-c');
    await c.send({ type: 'disconnect' });
    await until('node-c', 'offline'); // published after every fresh id's events were handled
    expect(sub.messages.filter((m) => m.topic.includes('/fresh-'))).toHaveLength(0);
    const late = await Subscriber.connect(broker.url, `${AV}/+/availability`, { qos: 1 });
    try {
      const got = await late.waitForCount(4);
      expect(got.filter((m) => m.topic.includes('/fresh-'))).toHaveLength(0);
    } finally {
      await late.close();
    }
  });
});
