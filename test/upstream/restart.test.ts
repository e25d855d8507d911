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
      if (e.type === 'delivered') delivered++;
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
});
