import { afterAll, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../gateway/upstream/inbound.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { publishTo } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { makeClient, nextEvent, openTestStore } from './helpers.js';

afterAll(cleanupTmpDirs);

describe('upstream.max_packet_size', () => {
  it('drops a 2 MiB message from a real broker unbuffered, acks it so it never comes back, and keeps the connection', async () => {
    const broker = await Mosquitto.start();
    const dir = tmpDir('fieldgate-max-packet-');
    let store = openTestStore(dir);
    // 3.1.1: MQTT 5 announces our Maximum Packet Size and the broker itself never sends such a
    // packet (mqtt5 tests); a 3.1.1 broker does, and the framer must skip it.
    const config = { url: broker.url, protocol: '3.1.1', subscribe: [{ topic: 'big/#', qos: 2 }] };
    let t = makeClient(store, config);
    const got: InboundMessage[] = [];
    t.client.onMessage(async (m) => {
      got.push(m);
    });
    const connected = nextEvent(t.client.events$, 'connected');
    await t.client.start();
    await connected;
    // Subscribed once a message on the filter comes through.
    await waitFor(
      async () => {
        await publishTo(broker.url, 'big/ready', 'r', { qos: 1 });
        return got.some((m) => m.topic === 'big/ready');
      },
      'subscription active',
      10_000,
      100,
    );

    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    await publishTo(broker.url, 'big/q1', big, { qos: 1 });
    await publishTo(broker.url, 'big/q2', big, { qos: 2 });
    await publishTo(broker.url, 'big/small', 'after', { qos: 1 });
    await waitFor(() => got.some((m) => m.topic === 'big/small'), 'the small message behind them');
    const dropped = t.events.filter((e) => e.type === 'inbound-dropped');
    expect(dropped.map((e) => e.type === 'inbound-dropped' && [e.topic, e.bytes > big.length])).toEqual([
      ['big/q1', true],
      ['big/q2', true],
    ]);
    expect(got.map((m) => m.topic).filter((x) => x !== 'big/ready')).toEqual(['big/small']);
    expect(t.events.some((e) => e.type === 'disconnected')).toBe(false);
    expect(t.client.stats().oversizeDropped).toBe(2);

    // Persistent session: anything left unacknowledged would be sent again on the next connection.
    await t.client.stop();
    store.close();
    store = openTestStore(dir);
    t = makeClient(store, config);
    const again: InboundMessage[] = [];
    t.client.onMessage(async (m) => {
      again.push(m);
    });
    const reconnected = nextEvent(t.client.events$, 'connected');
    await t.client.start();
    expect((await reconnected).sessionPresent).toBe(true);
    await publishTo(broker.url, 'big/marker', 'm', { qos: 1 });
    await waitFor(() => again.some((m) => m.topic === 'big/marker'), 'marker');
    expect(t.events.filter((e) => e.type === 'inbound-dropped')).toEqual([]);

    await t.client.stop();
    store.close();
    await broker.stop();
  }, 30_000);
});
