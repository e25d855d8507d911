import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

describe('MQTT 5 connect, fallback and refused publishes', () => {
  it('a 3.1.1-only broker: falls back to 3.1.1 once, logs it once, and stays on 3.1.1 across reconnects', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    proxy.only311 = true;
    const sub = await listen(broker.url, 'fb/#', { qos: 1 });
    const store = openTestStore();
    const { client, events, lines } = makeClient(store, { url: proxy.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    expect(client.protocolVersion).toBe(4);
    await store.outbox.enqueue([msg('a', 'fb/a', 'a:0', 1)]);
    await sub.waitForCount(1);
    proxy.cut();
    await nextEvent(client.events$, 'connected');
    const connects = proxy.packets('up', 'connect').map((p) => p.cmd === 'connect' && p.protocolVersion);
    expect(connects).toEqual([5, 4, 4]);
    expect(events.filter((e) => e.type === 'protocol-fallback').length).toBe(1);
    expect(lines.filter((l) => /falling back to MQTT 3.1.1/.test(String(l.msg))).length).toBe(1);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });

  it('PUBACK/PUBREC 0x97 quota exceeded is not a delivery: the row is sent again after a backoff and arrives', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    // The broker took them, but the client is told "quota exceeded" for the first 3 acks.
    let refuse = 3;
    proxy.rewrite = (p) => {
      if ((p.cmd === 'puback' || p.cmd === 'pubrec') && refuse > 0 && p.messageId !== undefined) {
        // Packet ids are reused: the ack answers the latest PUBLISH with its id (not the status
        // message's; the rows' topic is aliased after the first).
        const sent = proxy
          .packets('up', 'publish')
          .reverse()
          .find((x) => x.cmd === 'publish' && x.messageId === p.messageId);
        if (sent?.cmd === 'publish' && !sent.topic.startsWith('fieldgate/')) {
          refuse--;
          p.reasonCode = 0x97;
        }
      }
    };
    const sub = await listen(broker.url, 'q/#', { qos: 1 });
    const store = openTestStore();
    const { client, events } = makeClient(store, { url: proxy.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    // QoS 1 and 2 alternating: a refused PUBREC ends the exchange as a refused PUBACK does.
    await store.outbox.enqueue(
      Array.from({ length: 5 }, (_, i) => msg('a', 'q/a', `a:${i}`, i % 2 === 0 ? 1 : 2)),
    );
    const t0 = Date.now();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500); // the backoff: not resent at once
    const retries = events.filter((e) => e.type === 'publish-retry');
    expect(retries.map((e) => e.type === 'publish-retry' && e.reason)).toEqual([
      'quota_exceeded',
      'quota_exceeded',
      'quota_exceeded',
    ]);
    expect(store.outbox.setAsideCount()).toBe(0);
    await waitFor(() => new Set(sub.messages.map((m) => m.payload.toString())).size === 5, 'all 5');
    // Each refused row went out twice (the broker had in fact taken it): 5 + 3 PUBLISHes.
    const rows = proxy
      .packets('up', 'publish')
      .filter((p) => p.cmd === 'publish' && !p.topic.startsWith('fieldgate/'));
    expect(rows.length).toBe(8);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });

  it('CONNECT announces session expiry, Receive Maximum and Maximum Packet Size; clean_session maps to Clean Start + expiry 0', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    for (const [config, clean, expiry] of [
      [{ session_expiry: '2h' }, false, 7200],
      [{ clean_session: true }, true, 0],
    ] as const) {
      const store = openTestStore();
      const { client } = makeClient(store, { url: proxy.url, max_packet_size: '64KiB', ...config });
      await client.start();
      await nextEvent(client.events$, 'connected');
      await client.stop();
      store.close();
      const c = proxy.packets('up', 'connect').at(-1);
      expect(c?.cmd === 'connect' && [c.clean, c.properties]).toEqual([
        clean,
        {
          sessionExpiryInterval: expiry,
          receiveMaximum: 100,
          maximumPacketSize: 65536,
          topicAliasMaximum: 64,
        },
      ]);
    }
    await proxy.close();
    await broker.stop();
  });

  it("uses the broker's Server Keep Alive and Assigned Client Identifier; logs a server DISCONNECT's reason", async () => {
    // mosquitto answers a keepalive above max_keepalive with Server Keep Alive = max_keepalive.
    const broker = await Mosquitto.start({ extra: ['max_keepalive 10'] });
    const proxy = await MqttProxy.start(broker.port);
    const store = openTestStore();
    const { client, lines } = makeClient(store, { url: proxy.url, keepalive: 60, client_id: '' });
    await client.start();
    await nextEvent(client.events$, 'connected');
    const assigned = client.clientId;
    expect(assigned).not.toBe('');
    expect(client.brokerLimits?.serverKeepAlive).toBe(10);
    expect(lines.find((l) => l.msg === 'upstream: connected')).toMatchObject({ keepalive: 10 });
    // Reconnecting, it asks for the session under the assigned id, and finds it.
    proxy.cut();
    const again = await nextEvent(client.events$, 'connected');
    expect(again.sessionPresent).toBe(true);
    const connects = proxy.packets('up', 'connect').map((p) => p.cmd === 'connect' && p.clientId);
    expect(connects).toEqual(['', assigned]);

    // The broker ends the connection with a reason: it is logged, in words, with its reason string.
    const lost = nextEvent(client.events$, 'disconnected');
    proxy.serverDisconnect(0x8e, 'another client took this id');
    expect((await lost).reason).toMatch(/session taken over \(another client took this id\)/);
    expect(
      lines.some(
        (l) =>
          l.level === 40 &&
          l.code === 0x8e &&
          /broker disconnected us: session taken over/.test(String(l.msg)),
      ),
    ).toBe(true);
    await client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });
});
