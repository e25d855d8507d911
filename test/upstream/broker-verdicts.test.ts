import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

/** A broker's answer is a verdict on one message, never a reason to drop the link. */
describe('broker verdicts on single messages', () => {
  it('mosquitto message_size_limit: the large reading is set aside with 0x95, the small one delivered once, no reconnect', async () => {
    // mosquitto 2.0 answers an MQTT 5 PUBLISH over the limit with PUBACK/PUBREC 0x95 (packet too
    // large), a code the spec does not list for those acks. Its own defaults for the queue limits
    // (the harness turns them off): with max_queued_messages 0, 2.0.11 closes the connection after
    // a 0x95 (one reconnect per such row) or leaves the PUBLISH unanswered.
    const broker = await Mosquitto.start({
      extra: ['max_inflight_messages 20', 'max_queued_messages 1000', 'message_size_limit 100'],
    });
    const sub = await listen(broker.url, 'sz/#', { qos: 2 });
    const store = openTestStore();
    const { client, events, lines } = makeClient(store, { url: broker.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([
      msg('big', 'sz/big', 'x'.repeat(150), 1),
      msg('small', 'sz/small', 'small:1', 1),
      msg('big2', 'sz/big2', 'y'.repeat(150), 2),
      msg('small2', 'sz/small2', 'small:2', 2),
    ]);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty');
    await waitFor(() => store.outbox.setAsideCount() === 2, 'both large ones set aside');
    await sub.waitForCount(2);
    await sleep(1500); // time for a reconnect and a resend, if there were one
    const setAside = events.filter((e) => e.type === 'set-aside');
    expect(setAside.map((e) => e.type === 'set-aside' && e.reason)).toEqual([
      'packet_too_large',
      'packet_too_large',
    ]);
    expect(sub.messages.map((m) => m.payload.toString()).sort()).toEqual(['small:1', 'small:2']);
    expect(events.filter((e) => e.type === 'disconnected' || e.type === 'reconnecting')).toEqual([]);
    expect(client.stats()).toMatchObject({ connected: true, reconnects: 0 });
    expect(
      lines.some((l) => /set aside: the broker refused it: packet too large \(0x95\)/.test(String(l.msg))),
    ).toBe(true);
    await client.stop();
    store.close();
    await sub.close();
    await broker.stop();
  });

  it('an off-spec success-range code (PUBACK 0x05) is a refusal too: set aside with its code, the rest flow', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'os/#', { qos: 1 });
    const store = openTestStore();
    // The rows' PUBACKs: the one answering the PUBLISH on os/odd gets reason 0x05.
    proxy.rewrite = (p) => {
      if (p.cmd !== 'puback') return;
      const sent = proxy
        .packets('up', 'publish')
        .reverse()
        .find((x) => x.cmd === 'publish' && x.messageId === p.messageId);
      if (sent?.cmd === 'publish' && sent.topic === 'os/odd') p.reasonCode = 0x05;
    };
    proxy.replace = (dir, p) =>
      dir === 'down' && p.cmd === 'puback' && p.reasonCode === 0x05
        ? Buffer.from([0x40, 3, p.messageId! >> 8, p.messageId! & 0xff, 0x05])
        : undefined;
    const { client, events } = makeClient(store, { url: proxy.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([
      msg('a', 'os/a', 'a:1', 1),
      msg('odd', 'os/odd', 'odd', 1),
      msg('a', 'os/a', 'a:2', 1),
    ]);
    await waitFor(() => store.outbox.stats().rows === 0 && store.outbox.setAsideCount() === 1, 'settled');
    expect(events.find((e) => e.type === 'set-aside')).toMatchObject({ reason: 'reason_0x5' });
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    await sub.waitForCount(3); // the broker had it all along: the proxy only changed the ack
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });

  it('a PUBCOMP with a failure code ends the exchange with its outcome unknown: the row is set aside, the rest flow', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const store = openTestStore();
    proxy.replace = (dir, p) => {
      if (dir !== 'down' || p.cmd !== 'pubcomp') return undefined;
      const sent = proxy
        .packets('up', 'publish')
        .reverse()
        .find((x) => x.cmd === 'publish' && x.messageId === p.messageId);
      if (sent?.cmd !== 'publish' || sent.topic !== 'pc/bad') return undefined;
      return Buffer.from([0x70, 3, p.messageId! >> 8, p.messageId! & 0xff, 0x80]);
    };
    const { client, events } = makeClient(store, { url: proxy.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([
      msg('a', 'pc/a', 'a:1', 2),
      msg('bad', 'pc/bad', 'bad', 2),
      msg('a', 'pc/a', 'a:2', 2),
    ]);
    await waitFor(() => store.outbox.stats().rows === 0 && store.outbox.setAsideCount() === 1, 'settled');
    expect(events.find((e) => e.type === 'set-aside')).toMatchObject({ reason: 'unspecified_error' });
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    await client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });

  it('a malformed ack for one row closes the connection, but twice at most: then that row is set aside and the rest flow', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'mf/#', { qos: 1 });
    const store = openTestStore();
    proxy.replace = (dir, p) => {
      if (dir !== 'down' || p.cmd !== 'puback') return undefined;
      const sent = proxy
        .packets('up', 'publish')
        .reverse()
        .find((x) => x.cmd === 'publish' && x.messageId === p.messageId);
      if (sent?.cmd !== 'publish' || sent.topic !== 'mf/bad') return undefined;
      // Property length 9 with one byte of properties: a malformed packet.
      return Buffer.from([0x40, 5, p.messageId! >> 8, p.messageId! & 0xff, 0x95, 9, 0]);
    };
    const { client, events, lines } = makeClient(store, { url: proxy.url });
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([
      msg('good', 'mf/good', 'good:1', 1),
      msg('bad', 'mf/bad', 'bad', 1),
      msg('good', 'mf/good', 'good:2', 1),
    ]);
    await waitFor(() => store.outbox.setAsideCount() === 1, 'the row set aside', 15_000);
    await waitFor(() => store.outbox.stats().rows === 0, 'the rest delivered');
    const before = events.filter((e) => e.type === 'disconnected').length;
    await sleep(1500);
    const disconnects = events.filter((e) => e.type === 'disconnected');
    expect(disconnects.length).toBe(2);
    expect(disconnects.length).toBe(before); // and no more after it
    expect(disconnects[0]).toMatchObject({ reason: expect.stringMatching(/bad packet from broker/) });
    expect(events.find((e) => e.type === 'set-aside')).toMatchObject({ reason: 'malformed_ack' });
    expect(lines.some((l) => /malformed ack repeatedly/.test(String(l.msg)))).toBe(true);
    const got = new Set(sub.messages.map((m) => m.payload.toString()));
    expect(got.has('good:1') && got.has('good:2')).toBe(true);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });
});

describe('MQTT 5 -> 3.1.1 fallback without a CONNACK', () => {
  for (const on5 of ['close', 'garbage'] as const) {
    it(`a broker that ${on5 === 'close' ? 'closes the socket' : 'answers garbage'} on an MQTT 5 CONNECT: 3.1.1 at once, logged at warn with the reason, kept for the run`, async () => {
      const broker = await Mosquitto.start();
      const proxy = await MqttProxy.start(broker.port);
      proxy.on5 = on5;
      const sub = await listen(broker.url, 'fb/#', { qos: 1 });
      const store = openTestStore();
      const { client, events, lines } = makeClient(store, { url: proxy.url });
      await client.start();
      await nextEvent(client.events$, 'connected');
      expect(client.protocolVersion).toBe(4);
      expect(client.protocolFallback?.reason).toMatch(/CONNACK|bad packet/);
      await store.outbox.enqueue([msg('a', 'fb/a', 'a:0', 1)]);
      await sub.waitForCount(1);
      proxy.cut();
      await nextEvent(client.events$, 'connected');
      const connects = proxy.packets('up', 'connect').map((p) => p.cmd === 'connect' && p.protocolVersion);
      expect(connects).toEqual([5, 4, 4]);
      const fallback = events.filter((e) => e.type === 'protocol-fallback');
      expect(fallback).toHaveLength(1);
      const warn = lines.filter((l) => /falling back to MQTT 3.1.1/.test(String(l.msg)));
      expect(warn).toHaveLength(1);
      expect(warn[0]).toMatchObject({ level: 40, reason: expect.any(String) });
      await client.stop();
      store.close();
      await sub.close();
      await proxy.close();
      await broker.stop();
    });
  }

  it('a link that closes every connection tries 3.1.1 once, then MQTT 5 again: it settles on nothing it has not seen work', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    proxy.on5 = 'close';
    proxy.only311 = false;
    // Every connection is closed right after its CONNECT, whatever the version.
    proxy.drop = (dir, p) => {
      if (dir === 'up' && p.cmd === 'connect') {
        proxy.cut();
        return true;
      }
      return false;
    };
    const store = openTestStore();
    const { client } = makeClient(store, { url: proxy.url, reconnect: { min: '50ms', max: '50ms' } });
    await client.start();
    await waitFor(() => proxy.packets('up', 'connect').length >= 4, '4 attempts');
    proxy.drop = undefined;
    proxy.on5 = undefined;
    await nextEvent(client.events$, 'connected', 10_000);
    const versions = proxy.packets('up', 'connect').map((p) => p.cmd === 'connect' && p.protocolVersion);
    // 5 (closed) -> 3.1.1 (closed too) -> 5 again ...
    expect(versions.slice(0, 3)).toEqual([5, 4, 5]);
    expect(client.protocolVersion).toBe(versions.at(-1));
    await client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });
});
