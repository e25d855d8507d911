import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { makeClient, msg, nextEvent, openTestStore } from './helpers.js';

afterAll(cleanupTmpDirs);

describe('upstream client keep-alive and refusals', () => {
  it('detects a frozen broker within 1.5 x keepalive and reconnects after it thaws', async () => {
    const broker = await Mosquitto.start();
    const store = openTestStore();
    const { client } = makeClient(store, { url: broker.url, keepalive: 2, connect_timeout: '2s' });
    await client.start();
    await nextEvent(client.events$, 'connected');
    await sleep(2500); // idle: pings keep the connection up
    expect(client.stats().connected).toBe(true);
    broker.freeze(true);
    const frozenAt = Date.now();
    const lost = await nextEvent(client.events$, 'disconnected', 6000);
    const detectedMs = Date.now() - frozenAt;
    expect(detectedMs).toBeLessThanOrEqual(3000);
    expect(lost.reason).toMatch(/no packet from broker/);
    await store.outbox.enqueue([msg('d', 'k/x', 'after thaw', 1)]);
    broker.freeze(false);
    await nextEvent(client.events$, 'connected', 10_000);
    await nextEvent(client.events$, 'delivered-batch', 5000);
    // Delivered at the broker's ack; its delete rides with the next commit (within seconds).
    await waitFor(() => store.outbox.stats().rows === 0, 'the delivered row deleted', 5000);
    await client.stop();
    store.close();
    await broker.stop();
  });

  it('reports a bad password as refused with the reason in words, and backs off', async () => {
    const broker = await Mosquitto.start({ users: { gw: 'right' } });
    const store = openTestStore();
    const { client, events, lines } = makeClient(store, {
      url: broker.url,
      username: 'gw',
      password: 'wrong',
      reconnect: { min: '100ms', max: '800ms' },
    });
    await client.start();
    const refused = await nextEvent(client.events$, 'refused');
    // 3.1.1 return codes 4/5, MQTT 5 reason codes 0x86/0x87 (mosquitto answers 0x87).
    expect([4, 5, 0x86, 0x87]).toContain(refused.code);
    expect(refused.reason).toMatch(/bad user name or password|not authorized/);
    await sleep(3000);
    const attempts = events.filter((e) => e.type === 'refused').length;
    // Auth failures wait between max/2 and max (400-800 ms): at most ~8 in 3 s, never a tight loop.
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(9);
    const delays = events.flatMap((e) => (e.type === 'reconnecting' ? [e.delayMs] : []));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(400);
    expect(lines.some((l) => l.level === 50 && /refused/.test(String(l.msg)))).toBe(true);
    await client.stop();

    const ok = makeClient(store, { url: broker.url, username: 'gw', password: 'right' });
    await ok.client.start();
    await nextEvent(ok.client.events$, 'connected');
    await ok.client.stop();
    store.close();
    await broker.stop();
  });
});
