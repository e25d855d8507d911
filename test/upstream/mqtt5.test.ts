import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mqttPacket from 'mqtt-packet';
import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

describe('upstream MQTT 5', () => {
  it("honours the broker's Receive Maximum: 2,000 QoS 2 drain through a broker allowing 5 in flight, 0 lost", async () => {
    // max_inflight_messages is what mosquitto announces as its Receive Maximum to MQTT 5 clients.
    const broker = await Mosquitto.start({ extra: ['max_inflight_messages 5', 'max_queued_messages 1000'] });
    const sub = await listen(broker.url, 'rm/#', { qos: 2 });
    const store = openTestStore();
    const N = 2000;
    await store.outbox.enqueue(
      Array.from({ length: N }, (_, i) => msg(`d${i % 4}`, `rm/d${i % 4}`, `d${i % 4}:${i}`, 2)),
    );
    // Our own windows are larger (32, QoS 2 alone 10): only the broker's 5 keeps us below its limit.
    // Counted on the wire: PUBLISHes sent and not yet answered (PUBACK / PUBCOMP / failed PUBREC).
    const proxy = await MqttProxy.start(broker.port);
    const open = new Set<number>();
    let peak = 0;
    proxy.drop = (dir, p) => {
      if (dir === 'up' && p.cmd === 'publish' && p.qos > 0 && p.topic !== 'fieldgate/gw1/status') {
        open.add(p.messageId!);
        peak = Math.max(peak, open.size);
      } else if (dir === 'down' && (p.cmd === 'pubcomp' || p.cmd === 'puback')) open.delete(p.messageId!);
      return false;
    };
    const { client, events } = makeClient(store, { url: proxy.url, inflight: 32, max_inflight_qos2: 10 });
    await client.start();
    await nextEvent(client.events$, 'connected');
    expect(client.brokerLimits?.receiveMaximum).toBe(5);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 30_000);
    await sub.waitForCount(N, 20_000);
    expect(new Set(sub.messages.map((m) => m.payload.toString())).size).toBe(N);
    expect(peak).toBe(5);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  }, 60_000);

  it('sets aside a publish the ACL refuses (PUBACK 0x87 not authorized) and delivers the rows behind it', async () => {
    const dir = tmpDir('fieldgate-acl-');
    const acl = join(dir, 'acl');
    writeFileSync(acl, 'topic readwrite ok/#\ntopic readwrite fieldgate/#\n');
    const broker = await Mosquitto.start({ extra: [`acl_file ${acl}`] });
    const sub = await listen(broker.url, 'ok/#', { qos: 1 });
    const store = openTestStore();
    await store.outbox.enqueue([
      msg('a', 'ok/a', 'a:0', 1),
      msg('a', 'secret/a', 'denied-q1', 1),
      msg('a', 'secret/b', 'denied-q2', 2),
      msg('a', 'ok/a', 'a:1', 2),
    ]);
    const { client, events } = makeClient(store, { url: broker.url });
    await client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    await sub.waitForCount(2);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(['a:0', 'a:1']);
    const aside = events.flatMap((e) => (e.type === 'set-aside' ? [e.reason] : []));
    expect(aside).toEqual(['not_authorized', 'not_authorized']);
    expect(store.outbox.setAsideCount()).toBe(2);
    // mosquitto 2.0.11 closes the connection after answering a denied PUBLISH with 0x87; the
    // reason arrived first, so the row is set aside at once (no probing, no strikes).
    expect(client.stats().probing).toBe(false);
    await client.stop();
    store.close();
    await sub.close();
    await broker.stop();
  }, 30_000);

  it('a retained message past its expiry is not handed to a subscriber that connects later; an expired row is never sent', async () => {
    const broker = await Mosquitto.start();
    const store = openTestStore();
    const now = Date.now();
    const old = (topic: string, ageMs: number, expiryMs: number) => ({
      ...msg('a', topic, topic, 1, true),
      receivedAt: now - ageMs,
      properties: { expiryMs },
    });
    await store.outbox.enqueue([
      old('exp/gone', 60_000, 30_000), // expired in the outbox: deleted, not sent
      old('exp/short', 9_000, 10_000), // ~1 s left: sent with Message Expiry Interval 1
      old('exp/long', 9_000, 3_600_000),
    ]);
    const { client, events } = makeClient(store, { url: broker.url });
    const expired = nextEvent(client.events$, 'expired');
    await client.start();
    expect((await expired).type).toBe('expired');
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    // The broker keeps exp/short for the 1 s its expiry interval says; wait for that to pass.
    await new Promise((r) => setTimeout(r, 2100));
    const late = await listen(broker.url, 'exp/#', { qos: 1 });
    await late.waitForCount(1);
    // Retained messages are sent right after SUBACK, together: give the others the same chance.
    const marker = await listen(broker.url, 'exp/#', { qos: 1 });
    await marker.waitForCount(1);
    expect(late.messages.map((m) => m.topic)).toEqual(['exp/long']);
    expect(events.filter((e) => e.type === 'expired').length).toBe(1);
    await client.stop();
    store.close();
    await Promise.all([late.close(), marker.close()]);
    await broker.stop();
  }, 30_000);

  it('topic aliases: a repeated sensor topic costs fewer bytes on the wire', async () => {
    const broker = await Mosquitto.start();
    const perMessage = async (protocol: '3.1.1' | '5', aliases: boolean): Promise<number> => {
      const proxy = await MqttProxy.start(broker.port);
      const store = openTestStore();
      const topic = 'site/plant-3/line-2/boiler-17/temperature';
      const N = 200;
      await store.outbox.enqueue(
        Array.from({ length: N }, (_, i) => msg('b17', topic, `{"t":${20 + (i % 10)}.5}`, 1)),
      );
      const { client } = makeClient(store, { url: proxy.url, protocol }, `gw-${protocol}-${aliases}`);
      // Without aliases: a broker that announces none (Topic Alias Maximum removed from CONNACK).
      if (!aliases)
        proxy.rewrite = (p) => {
          if (p.cmd === 'connack' && p.properties) delete p.properties.topicAliasMaximum;
        };
      await client.start();
      await waitFor(() => store.outbox.stats().rows === 0, 'drained', 10_000);
      await client.stop();
      store.close();
      await proxy.close();
      const publishes = proxy
        .packets('up', 'publish')
        .filter((p) => p.cmd === 'publish' && (p.topic === topic || p.topic === ''));
      expect(publishes.length).toBe(N);
      const aliased = publishes.filter((p) => p.cmd === 'publish' && p.topic === '').length;
      expect(aliased).toBe(aliases ? N - 1 : 0);
      // Re-encoded exactly as the client wrote them (mqtt-packet round-trips byte for byte).
      const version = { protocolVersion: protocol === '5' ? 5 : 4 } as const;
      const bytes = publishes.reduce((n, p) => n + mqttPacket.generate(p, version).length, 0);
      return bytes / N;
    };
    const v3 = await perMessage('3.1.1', false);
    const v5 = await perMessage('5', false);
    const v5a = await perMessage('5', true);
    console.log(`bytes per QoS 1 PUBLISH: 3.1.1 ${v3}, 5 ${v5}, 5 + aliases ${v5a.toFixed(1)}`);
    expect(v5a).toBeLessThan(v3);
    await broker.stop();
  }, 30_000);

  it("a row larger than the broker's Maximum Packet Size is set aside, never sent; the rows behind it go", async () => {
    // mosquitto announces max_packet_size as its Maximum Packet Size to MQTT 5 clients.
    const broker = await Mosquitto.start({ extra: ['max_packet_size 2000'] });
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'mp/#', { qos: 1 });
    const store = openTestStore();
    await store.outbox.enqueue([
      msg('a', 'mp/a', 'a:0', 1),
      msg('a', 'mp/a', 'x'.repeat(5000), 1),
      msg('a', 'mp/a', 'y'.repeat(1990), 2), // just over with its headers
      msg('a', 'mp/a', 'a:1', 2),
    ]);
    const { client, events } = makeClient(store, { url: proxy.url });
    await client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    await sub.waitForCount(2);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(['a:0', 'a:1']);
    expect(client.brokerLimits?.maximumPacketSize).toBe(2000);
    expect(events.flatMap((e) => (e.type === 'set-aside' ? [e.reason] : []))).toEqual([
      'packet_too_large',
      'packet_too_large',
    ]);
    const sizes = proxy.packets('up', 'publish').map((p) => (p.cmd === 'publish' ? p.payload.length : 0));
    expect(Math.max(...sizes)).toBeLessThan(2000);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  }, 30_000);

  it('a broker with Maximum QoS 1 and no retain (it refuses the retained will once) gets QoS 2 as QoS 1 and retained as not retained, without a disconnect', async () => {
    const broker = await Mosquitto.start({ extra: ['max_qos 1', 'retain_available false'] });
    const proxy = await MqttProxy.start(broker.port);
    const sub = await listen(broker.url, 'mq/#', { qos: 2 });
    const store = openTestStore();
    await store.outbox.enqueue([
      msg('a', 'mq/a', 'a:0', 2),
      msg('a', 'mq/a', 'a:1', 1, true),
      msg('a', 'mq/a', 'a:2', 2),
    ]);
    const { client, events } = makeClient(store, { url: proxy.url, status_topic: 'fg/{gateway}' });
    await client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 10_000);
    await sub.waitForCount(3);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(['a:0', 'a:1', 'a:2']);
    const sent = proxy
      .packets('up', 'publish')
      .flatMap((p) => (p.cmd === 'publish' && p.topic !== 'fg/gw1' ? [[p.qos, p.retain]] : []));
    expect(sent).toEqual([
      [1, false],
      [1, false],
      [1, false],
    ]);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    await client.stop();
    store.close();
    await sub.close();
    await proxy.close();
    await broker.stop();
  });
});
