import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { checkOrderPerDevice, listen, makeClient, msg, nextEvent, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

describe('upstream client through broker outages', () => {
  it('loses nothing and keeps per-device order when the broker is down for seconds mid-stream', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    // A persistent subscriber session: the broker queues for it while it reconnects itself.
    const sub = await listen(broker.url, 'o/#', { qos: 1, clean: false, clientId: 'outage-sub' });
    const store = openTestStore();
    const { client, lines } = makeClient(store, { url: broker.url, inflight: 32 });
    const devices = ['d0', 'd1', 'd2', 'd3', 'd4'];
    let seq = 0;
    const batch = (n: number) =>
      Array.from({ length: n }, () => {
        const d = devices[seq % devices.length]!;
        return msg(d, `o/${d}`, `${d}:${seq++}`, 1);
      });
    await store.outbox.enqueue(batch(3000));
    let delivered = 0;
    client.events$.subscribe((e) => {
      if (e.type === 'delivered-batch') delivered += e.rows.length;
    });
    await client.start();
    await waitFor(() => delivered >= 800, '800 delivered', 10_000, 1);
    await broker.stop();
    const down = Date.now();
    // Readings keep arriving while the broker is away.
    for (let i = 0; i < 4; i++) {
      await store.outbox.enqueue(batch(500));
      await sleep(500);
    }
    expect(client.stats().connected).toBe(false);
    expect(store.outbox.stats().rows).toBeGreaterThan(2000);
    // Listen before restarting: the client may reconnect before restart() returns.
    const reconnected = nextEvent(client.events$, 'connected', 20_000);
    await broker.restart();
    await reconnected;
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 20_000);
    await waitFor(
      () => new Set(sub.messages.map((m) => m.payload.toString())).size >= seq,
      'all at subscriber',
      15_000,
    );

    const payloads = sub.messages.map((m) => m.payload.toString());
    expect(new Set(payloads).size).toBe(5000);
    expect(checkOrderPerDevice(payloads).ordered).toBe(true);
    expect(Date.now() - down).toBeGreaterThan(2000);
    // Logged once per event, never per message above debug.
    const loud = lines.filter((l) => (l.level as number) >= 30);
    expect(loud.length).toBeLessThan(60);
    expect(loud.some((l) => l.msg === 'upstream: disconnected')).toBe(true);

    await client.stop();
    store.close();
    await sub.close();
    await broker.stop();
  });

  it('publishes the retained offline will when the connection is lost abruptly', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const store = openTestStore();
    const { client } = makeClient(
      store,
      { url: proxy.url, keepalive: 5, reconnect: { min: '5s', max: '5s' } },
      'gw-will',
    );
    const sub = await listen(broker.url, 'fieldgate/gw-will/status', { qos: 1 });
    await client.start();
    await sub.waitForCount(1);
    proxy.cut();
    const got = await sub.waitForCount(2, 5000);
    expect(got.map((m) => m.payload.toString())).toEqual(['online', 'offline']);
    const late = await listen(broker.url, 'fieldgate/gw-will/status', { qos: 1 });
    const [kept] = await late.waitForCount(1);
    expect([kept?.payload.toString(), kept?.retain]).toEqual(['offline', true]);
    await client.stop();
    store.close();
    await Promise.all([sub.close(), late.close()]);
    await proxy.close();
    await broker.stop();
  });
});
