import mqtt from 'mqtt';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { CommandDevice } from './device.js';

/**
 * A connected MQTT-SN device that never acks must delay only its own commands.
 * Real mosquitto (default settings), real UDP devices, the whole gateway in this process.
 */
describe('one slow device does not stall the commands of the others', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let port: number;
  const devices: CommandDevice[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    port = await freeUdpPort();
    ({ gateway } = await startGateway(`
gateway: { id: gwf, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
  open_subscriptions: true # devices subscribe without an acl here
commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cm
    qos: 1
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    for (const d of devices) await d.close();
    await gateway?.stop();
    await broker?.stop();
    cleanupTmpDirs();
  });

  async function device(id: string, acking: boolean): Promise<CommandDevice> {
    const d = await CommandDevice.connect(port, id, { acking });
    devices.push(d);
    return d;
  }

  it('a responsive device gets its command within 1 s while a silent one holds its own', async () => {
    const silent = await device('silent', false);
    const quick = await device('quick', true);
    await publishTo(broker.url, 'cmd/gwf/silent', 'hold', { qos: 1 });
    // The gateway is now waiting for the silent device's PUBACK (it retries for ~40 s by default).
    await waitFor(() => silent.got.length === 1, 'command at the silent device', 5000);
    await publishTo(broker.url, 'cmd/gwf/quick', 'go', { qos: 1 });
    const sentAt = Date.now();
    await waitFor(() => quick.got.includes('go'), 'command at the responsive device within 1 s', 1000);
    expect(Date.now() - sentAt).toBeLessThan(1000);
    expect(silent.got).toEqual(['hold']);
  });

  it('keeps order per device while devices are served concurrently', async () => {
    const held = await device('held', false);
    const free = await device('free', true);
    // One publisher connection: the broker forwards in this order, interleaving the two devices.
    const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    for (let i = 0; i < 10; i++) {
      await pub.publishAsync('cmd/gwf/held', `h${i}`, { qos: 1 });
      await pub.publishAsync('cmd/gwf/free', `f${i}`, { qos: 1 });
    }
    await pub.endAsync();
    const want = (p: string) => Array.from({ length: 10 }, (_, i) => `${p}${i}`);
    // All of free's commands arrive while held has not acked its first one.
    await waitFor(() => free.got.length === 10, 'all commands at the free device', 5000);
    expect(free.got).toEqual(want('f'));
    expect(held.got).toEqual(['h0']);
    await held.ackNow();
    await waitFor(() => held.got.length === 10, 'all commands at the held device', 5000);
    expect(held.got).toEqual(want('h'));
  });
  it('a silent device subscribed to an upstream topic holds neither the message nor the next command', async () => {
    const listener = await device('listener', false);
    await listener.client.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'news/#' });
    expect((await listener.client.expect('suback')).returnCode).toBe(0);
    const quick = await device('quick2', true);
    // Until the gateway's SUBSCRIBE reached the broker: resend until the device is asked to REGISTER it.
    await waitFor(
      async () => {
        await publishTo(broker.url, 'news/today', 'n', { qos: 1 });
        return listener.client.expect('register', 300).catch(() => false);
      },
      'REGISTER of the news topic at the silent listener',
      10_000,
    );
    // The listener never answers the REGISTER: the gateway waits for it (~40 s), but only for it.
    await publishTo(broker.url, 'cmd/gwf/quick2', 'go', { qos: 1 });
    const sentAt = Date.now();
    await waitFor(() => quick.got.includes('go'), 'command at the responsive device within 1 s', 1000);
    expect(Date.now() - sentAt).toBeLessThan(1000);
  });
});
