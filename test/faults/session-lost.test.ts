import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore } from '../upstream/helpers.js';
import { MqttProxy } from '../upstream/proxy.js';

afterAll(cleanupTmpDirs);

describe('the broker lost its session: unfinished rows are sent again', () => {
  it('QoS 2 rows in flight when a broker without persistence restarts all reach a subscriber', async () => {
    const broker = await Mosquitto.start(); // no persistence: a restart forgets every session
    const proxy = await MqttProxy.start(broker.port);
    const before = await listen(broker.url, 's/#', { qos: 2 });
    const store = openTestStore();
    const N = 300;
    await store.outbox.enqueue(Array.from({ length: N }, (_, i) => msg('d', 's/d', `d:${i}`, 2)));
    // From row 50 on, PUBRELs never reach the broker (it keeps those messages undelivered, awaiting
    // PUBREL: our rows are 'released') and every other PUBREC never reaches us (rows stay 'sent').
    const seqOf = new Map<number, number>();
    proxy.drop = (dir, p) => {
      if (dir === 'up' && p.cmd === 'publish' && p.qos === 2) {
        seqOf.set(p.messageId!, Number(p.payload.toString().split(':')[1]));
      }
      const held = (seqOf.get(p.messageId ?? 0) ?? 0) >= 50;
      return (
        held &&
        ((dir === 'up' && p.cmd === 'pubrel') ||
          (dir === 'down' && p.cmd === 'pubrec' && p.messageId! % 2 === 1))
      );
    };
    const { client, events } = makeClient(store, {
      url: proxy.url,
      reconnect: { min: '100ms', max: '200ms' },
    });
    await client.start();
    await before.waitForCount(50);
    await waitFor(() => {
      const f = store.outbox.inflight();
      return f.length === 10 && f.some((r) => r.state === 'released') && f.some((r) => r.state === 'sent');
    }, 'rows 50-59 held as sent and released');
    expect(new Set(before.messages.map((m) => m.payload.toString())).size).toBe(50);

    proxy.refuse = true; // the client may not reconnect before the new subscriber listens
    await before.close();
    await broker.restart();
    const after = await listen(broker.url, 's/#', { qos: 2 });
    proxy.drop = undefined;
    const reconnected = nextEvent(client.events$, 'connected', 10_000);
    proxy.refuse = false;
    expect((await reconnected).sessionPresent).toBe(false);

    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 15_000);
    const got = new Set([...before.messages, ...after.messages].map((m) => m.payload.toString()));
    await waitFor(() => {
      for (const m of after.messages) got.add(m.payload.toString());
      return got.size === N;
    }, `all ${N} at a subscriber (have ${got.size})`);
    expect(events.some((e) => e.type === 'set-aside')).toBe(false);

    await client.stop();
    store.close();
    await after.close();
    await proxy.close();
    await broker.stop();
  }, 40_000);
});
