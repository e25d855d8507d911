import type { IPublishPacket } from 'mqtt-packet';
import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { checkOrderPerDevice, listen, makeClient, msg, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

describe('upstream client restart mid-stream', () => {
  it('resends in-flight rows with DUP and the same ids; QoS 2 arrives exactly once', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'r/#', { qos: 2 });
    const dir = tmpDir('fieldgate-upstream-restart-');
    let store = openTestStore(dir);
    const N = 2000;
    const devices = ['a', 'b', 'c', 'd'];
    await store.outbox.enqueue(
      Array.from({ length: N }, (_, i) =>
        msg(devices[i % 4]!, `r/${devices[i % 4]}`, `${devices[i % 4]}:${i}`, 2),
      ),
    );
    const first = makeClient(store, { url: proxy.url, inflight: 32 });
    let delivered = 0;
    first.client.events$.subscribe((e) => {
      if (e.type === 'delivered-batch') delivered += e.rows.length;
    });
    await first.client.start();
    await waitFor(() => delivered >= 300, 'first 300 delivered', 10_000, 1);
    // From now on the broker's acks are lost: rows pile up as 'sent' and 'released'.
    proxy.drop = (dir, p) => dir === 'down' && ['pubrec', 'pubcomp', 'puback'].includes(p.cmd);
    await sleep(300);
    await first.client.stop();
    store.close();

    store = openTestStore(dir);
    const left = store.outbox.inflight();
    expect(left.length).toBeGreaterThan(0);
    const released = left.filter((r) => r.state === 'released');
    const sentIds = new Set(left.filter((r) => r.state === 'sent').map((r) => r.packetId));
    proxy.drop = undefined;
    const before = proxy.seen.length;
    const second = makeClient(store, { url: proxy.url, inflight: 32 });
    await second.client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained after restart', 20_000);
    await sub.waitForCount(N, 10_000);
    await sleep(300); // a duplicate would arrive now

    const after = proxy.seen.slice(before).filter((s) => s.dir === 'up');
    const dups = after.map((s) => s.packet).filter((p): p is IPublishPacket => p.cmd === 'publish' && p.dup);
    expect(new Set(dups.map((p) => p.messageId))).toEqual(sentIds);
    const rels = new Set(after.filter((s) => s.packet.cmd === 'pubrel').map((s) => s.packet.messageId));
    for (const r of released) expect(rels.has(r.packetId!)).toBe(true);

    const payloads = sub.messages.map((m) => m.payload.toString());
    expect(payloads.length).toBe(N); // QoS 2: no duplicates
    expect(new Set(payloads).size).toBe(N);
    expect(checkOrderPerDevice(payloads).ordered).toBe(true);

    await second.client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });

  it('after a restart, resends to the broker in id order when a device mixes QoS 1 and QoS 2', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'm/#', { qos: 2 });
    const dir = tmpDir('fieldgate-upstream-mixed-');
    let store = openTestStore(dir);
    const N = 800;
    const devices = ['a', 'b', 'c', 'd'];
    const qosOf = (i: number) => (Math.floor(i / 4) % 2 === 0 ? 1 : 2);
    await store.outbox.enqueue(
      Array.from({ length: N }, (_, i) =>
        msg(devices[i % 4]!, `m/${devices[i % 4]}`, `${devices[i % 4]}:${i}`, qosOf(i)),
      ),
    );
    const first = makeClient(store, { url: proxy.url, inflight: 32 });
    let delivered = 0;
    first.client.events$.subscribe((e) => {
      if (e.type === 'delivered-batch') delivered += e.rows.length;
    });
    await first.client.start();
    await waitFor(() => delivered >= 100, 'first 100 delivered', 10_000, 1);
    // PUBLISHes stop reaching the broker: QoS 2 rows wait as 'sent', QoS 1 rows as 'queued'.
    const dropFrom = proxy.seen.length;
    proxy.drop = (d, p) => d === 'up' && p.cmd === 'publish';
    await sleep(300);
    await first.client.stop();
    store.close();

    store = openTestStore(dir);
    expect(store.outbox.inflight().length).toBeGreaterThan(0);
    proxy.drop = undefined;
    const resumeFrom = proxy.seen.length;
    const second = makeClient(store, { url: proxy.url, inflight: 32 });
    await second.client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained after restart', 20_000);
    await waitFor(
      () => new Set(sub.messages.map((m) => m.payload.toString())).size >= N,
      'all at subscriber',
    );

    // The order PUBLISHes reached the broker in (the dropped ones never did). The broker itself may
    // deliver QoS 2 later than QoS 1 (mosquitto delivers on PUBREL): MQTT orders per QoS level only.
    const reached = [...proxy.seen.slice(0, dropFrom), ...proxy.seen.slice(resumeFrom)]
      .filter((s) => s.dir === 'up' && s.packet.cmd === 'publish')
      .map((s) => (s.packet as IPublishPacket).payload.toString())
      .filter((p) => p.includes(':'));
    const order = checkOrderPerDevice(reached);
    expect([...order.devices.values()].map((l) => l.length)).toEqual([N / 4, N / 4, N / 4, N / 4]);
    expect(order.ordered).toBe(true);

    await second.client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });
});
