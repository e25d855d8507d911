import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllGateways, runCli } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import {
  checkOrderPerDevice,
  listen,
  makeClient,
  msg,
  nextEvent,
  openTestStore,
} from '../upstream/helpers.js';
import { MqttProxy } from '../upstream/proxy.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

describe('a row the broker will not take is set aside (sender)', () => {
  it('bad topics written straight into the outbox do not stop the 500 rows behind them; queue CLI retries and purges them', async () => {
    const broker = await Mosquitto.start();
    const sub = await listen(broker.url, 'ok/#', { qos: 1 });
    const dir = tmpDir('fieldgate-set-aside-');
    const stateDir = join(dir, 'state');
    const store = openTestStore(stateDir);
    // mosquitto drops the connection on a wildcard in a topic name, and on U+0000 (QoS 1 and QoS 2).
    const good = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        msg(`d${(from + i) % 3}`, `ok/d${(from + i) % 3}`, `d${(from + i) % 3}:${from + i}`, 1),
      );
    await store.outbox.enqueue([msg('bad', 'bad/#', 'wild', 1), ...good(0, 250)]);
    await store.outbox.enqueue([msg('bad', 'bad/\u0000nul', 'nul', 2), ...good(250, 250)]);
    const { client, events } = makeClient(store, { url: broker.url });
    await client.start();

    await sub.waitForCount(500, 20_000);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    const payloads = sub.messages.map((m) => m.payload.toString());
    expect(new Set(payloads).size).toBe(500);
    expect(checkOrderPerDevice(payloads).ordered).toBe(true);
    const setAside = events.filter((e) => e.type === 'set-aside');
    expect(setAside.map((e) => e.type === 'set-aside' && e.reason)).toEqual([
      'broker_disconnect',
      'broker_disconnect',
    ]);
    expect(store.outbox.setAsideCount()).toBe(2);
    expect(client.stats().probing).toBe(false); // acks came back: the full window again

    const file = join(dir, 'gw.yaml');
    writeFileSync(file, `gateway: { id: sa, state_dir: state }\nupstream: { url: "${broker.url}" }\n`);
    const stats = await runCli(['queue', 'stats', '-c', file]);
    expect(stats.out).toMatch(/outbox\s+0 rows/);
    expect(stats.out).toMatch(/set aside\s+2 rows the broker would not take \(2 broker_disconnect\)/);
    const dead = (await runCli(['queue', 'peek', '--dead', '-c', file])).out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; reason: string; payload: string });
    expect(dead.map((r) => [r.topic, r.payload, r.reason])).toEqual([
      ['bad/#', 'wild', 'broker_disconnect'],
      ['bad/\u0000nul', 'nul', 'broker_disconnect'],
    ]);

    // retry puts them back at the end while the client runs: it picks them up, the broker still
    // refuses them, and they are set aside again; a good row behind them still arrives.
    const retried = await runCli(['queue', 'retry', '-c', file]);
    expect(retried.out).toMatch(/2 set-aside rows queued again/);
    expect(store.outbox.setAsideCount()).toBe(0);
    await waitFor(() => events.filter((e) => e.type === 'set-aside').length === 4, 'set aside again', 20_000);
    await store.outbox.enqueue(good(500, 1));
    await sub.waitForCount(501, 10_000);
    expect(store.outbox.setAsideCount()).toBe(2);

    expect((await runCli(['queue', 'purge', '--dead', '-c', file])).code).toBe(1); // no TTY, no --yes
    const purged = await runCli(['queue', 'purge', '--dead', '--yes', '-c', file]);
    expect(purged.out).toMatch(/purged 2 set-aside rows/);
    expect(store.outbox.setAsideCount()).toBe(0);
    expect((await runCli(['queue', 'stats', '-c', file])).out).toMatch(/set aside\s+0 rows/);

    await client.stop();
    store.close();
    await sub.close();
    await broker.stop();
  }, 60_000);

  it('a link that dies seconds after each send (no ack) sets nothing aside; the rows arrive once it heals', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'slow/#', { qos: 1 });
    const store = openTestStore();
    await store.outbox.enqueue(Array.from({ length: 50 }, (_, i) => msg('d', 'slow/d', `d:${i}`, 1)));
    proxy.drop = (dir, p) => dir === 'down' && p.cmd === 'puback'; // no ack ever comes back
    const { client, events } = makeClient(store, { url: proxy.url });
    let connected = nextEvent(client.events$, 'connected');
    await client.start();
    await connected;
    proxy.cut(); // dropped with 32 in flight and no ack: the next connections probe one at a time
    for (let i = 0; i < 2; i++) {
      connected = nextEvent(client.events$, 'connected');
      await connected;
      expect(client.stats().probing).toBe(true);
      await sleep(5500); // the link dies later than a broker refusing a message would
      proxy.cut();
    }
    proxy.drop = undefined;
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 10_000);
    await waitFor(() => new Set(sub.messages.map((m) => m.payload.toString())).size === 50, 'all 50');
    expect(events.filter((e) => e.type === 'set-aside')).toEqual([]);
    expect(store.outbox.setAsideCount()).toBe(0);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  }, 40_000);
});
