import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { type InboundMessage, MAX_WAITING, QOS2_NAMESPACE } from '../../gateway/upstream/inbound.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { publishTo } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { makeClient, nextEvent, openTestStore } from './helpers.js';
import { MqttProxy } from './proxy.js';

afterAll(cleanupTmpDirs);

type Got = { topic: string; payload: string; qos: number; retain: boolean };

describe('upstream client subscriptions (incoming QoS 0/1/2)', () => {
  it('a QoS 0 flood faster than commands are handled is dropped and counted past a bound, not queued in memory', async () => {
    const broker = await Mosquitto.start();
    const store = openTestStore();
    const { client } = makeClient(store, { url: broker.url });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let handled = 0;
    client.onMessage(async () => {
      await gate; // a slow spool: nothing finishes until released
      handled++;
    });
    let overload = 0;
    const sub = client.events$.subscribe((e) => {
      if (e.type === 'inbound-dropped' && e.reason === 'inbound_overload') overload++;
    });
    client.setSubscriptions(new Map<string, 0 | 1 | 2>([['flood/#', 0]]));
    await client.start();
    await nextEvent(client.events$, 'connected');
    await sleep(200); // SUBACK
    const total = MAX_WAITING + 300;
    const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    for (let i = 0; i < total; i++) pub.publish(`flood/${i}`, 'x', { qos: 0 });
    await waitFor(() => overload >= 300, 'the excess QoS 0 messages dropped', 10_000);
    release();
    await waitFor(() => handled + overload === total, 'every message handled or dropped', 10_000);
    expect(handled).toBe(MAX_WAITING);
    expect(client.stats().connected).toBe(true);
    sub.unsubscribe();
    await pub.endAsync();
    await client.stop();
    store.close();
    await broker.stop();
  });

  it('subscribes to exactly the set given, calls the handler, and acks after it', async () => {
    const broker = await Mosquitto.start();
    const store = openTestStore();
    const { client } = makeClient(store, { url: broker.url });
    const got: Got[] = [];
    client.onMessage(async (m) => {
      await sleep(5); // acks must wait for the handler
      got.push({ topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain });
    });
    client.setSubscriptions(
      new Map<string, 0 | 1 | 2>([
        ['cmd/gw1/#', 1],
        ['cfg/#', 2],
      ]),
    );
    await client.start();
    await nextEvent(client.events$, 'connected');
    await sleep(200); // SUBACK
    await publishTo(broker.url, 'cmd/gw1/d1/led', 'on', { qos: 1 });
    await publishTo(broker.url, 'cfg/rate', '10', { qos: 2 });
    await publishTo(broker.url, 'cmd/gw1/d1/x', 'zero', { qos: 0 });
    await waitFor(() => got.length === 3, 'three commands', 5000);
    expect(got).toEqual([
      { topic: 'cmd/gw1/d1/led', payload: 'on', qos: 1, retain: false },
      { topic: 'cfg/rate', payload: '10', qos: 2, retain: false },
      { topic: 'cmd/gw1/d1/x', payload: 'zero', qos: 0, retain: false },
    ]);
    expect(store.state.list(QOS2_NAMESPACE)).toEqual([]); // PUBREL cleared it

    client.setSubscriptions(new Map<string, 0 | 1 | 2>([['cfg/#', 2]]));
    await sleep(200); // UNSUBACK
    await publishTo(broker.url, 'cmd/gw1/d1/led', 'off', { qos: 1 });
    await publishTo(broker.url, 'cfg/rate', '20', { qos: 1 });
    await waitFor(() => got.length === 4, 'cfg only', 5000);
    await sleep(200);
    expect(got.map((g) => g.payload)).toEqual(['on', '10', 'zero', '20']);
    await client.stop();
    store.close();
    await broker.stop();
  });

  it('does not hand a QoS 2 message over twice when the broker resends it after a client restart', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const dir = tmpDir('fieldgate-upstream-inbound-');
    let store = openTestStore(dir);
    const calls: string[] = [];
    const handler = async (m: { payload: Buffer }) => {
      calls.push(m.payload.toString());
    };
    const subs = new Map<string, 0 | 1 | 2>([['q2/#', 2]]);
    const first = makeClient(store, { url: proxy.url });
    first.client.onMessage(handler);
    first.client.setSubscriptions(subs);
    await first.client.start();
    await nextEvent(first.client.events$, 'connected');
    await sleep(200);
    // Our PUBREC never reaches the broker: it will resend the PUBLISH (DUP) to the next session.
    proxy.drop = (dir, p) => dir === 'up' && p.cmd === 'pubrec';
    await publishTo(broker.url, 'q2/cmd', 'once', { qos: 2 });
    await waitFor(() => store.state.list(QOS2_NAMESPACE).length === 1, 'QoS 2 id persisted', 5000);
    expect(calls).toEqual(['once']);
    proxy.drop = (dir) => dir === 'up'; // the stop's DISCONNECT is lost too: a crash, to the broker
    await first.client.stop();
    proxy.cut();
    store.close();

    proxy.drop = undefined;
    store = openTestStore(dir);
    const second = makeClient(store, { url: proxy.url });
    second.client.onMessage(handler);
    second.client.setSubscriptions(subs);
    await second.client.start();
    await waitFor(() => proxy.packets('up', 'pubcomp').length >= 1, 'PUBREL answered with PUBCOMP', 5000);
    const resent = proxy
      .packets('down', 'publish')
      .filter((p) => p.cmd === 'publish' && p.topic === 'q2/cmd');
    expect(resent.length).toBe(2);
    expect(resent[1]).toMatchObject({ dup: true, messageId: resent[0]?.messageId });
    await sleep(200);
    expect(calls).toEqual(['once']);
    expect(store.state.list(QOS2_NAMESPACE)).toEqual([]);
    await second.client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });
  it('retries a failing handler (e.g. disk full) on the live connection, and acks once it succeeded', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const store = openTestStore();
    const { client, events } = makeClient(store, { url: proxy.url });
    const attempts: string[] = [];
    let failuresLeft = 2;
    client.onMessage(async (m) => {
      attempts.push(m.payload.toString());
      if (m.payload.toString() === 'first' && failuresLeft-- > 0)
        throw new Error('SQLITE_FULL: database or disk is full');
    });
    client.setSubscriptions(new Map<string, 0 | 1 | 2>([['r/#', 1]]));
    await client.start();
    await nextEvent(client.events$, 'connected');
    await sleep(200); // SUBACK
    await publishTo(broker.url, 'r/a', 'first', { qos: 1 });
    await publishTo(broker.url, 'r/a', 'next', { qos: 1 });
    await waitFor(() => attempts.includes('next'), 'the message behind the failing one', 5000);
    // Held behind the failing message (acks go out in order), then handled once each.
    expect(attempts).toEqual(['first', 'first', 'first', 'next']);
    await waitFor(() => proxy.packets('up', 'puback').length === 2, 'both acked', 5000);
    expect(events.filter((e) => e.type === 'connected').length).toBe(1); // no reconnect was needed
    await client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });

  it('QoS 2: the id is committed with what the handler stored, so a resend after a restart is not stored again', async () => {
    const broker = await Mosquitto.start();
    const proxy = await MqttProxy.start(broker.port);
    const dir = tmpDir('fieldgate-upstream-inbound-');
    let store = openTestStore(dir);
    const idInSameCommit: boolean[] = [];
    const handler = async (m: InboundMessage) => {
      const s = store;
      await s.inbox.putAll(
        [{ target: 'spool:x', device: 'd', topic: m.topic, payload: m.payload, qos: m.qos, expiresAt: null }],
        m.remember ? { remember: m.remember } : {},
      );
      idInSameCommit.push(
        m.remember !== undefined && s.state.get(QOS2_NAMESPACE, m.remember.key) !== undefined,
      );
      return { remembered: m.remember !== undefined };
    };
    const subs = new Map<string, 0 | 1 | 2>([['q2/#', 2]]);
    const first = makeClient(store, { url: proxy.url });
    first.client.onMessage(handler);
    first.client.setSubscriptions(subs);
    await first.client.start();
    await nextEvent(first.client.events$, 'connected');
    await sleep(200); // SUBACK
    proxy.drop = (dir, p) => dir === 'up' && p.cmd === 'pubrec'; // the broker will resend the PUBLISH
    await publishTo(broker.url, 'q2/cmd', 'once', { qos: 2 });
    await waitFor(() => idInSameCommit.length === 1, 'handled', 5000);
    expect(idInSameCommit).toEqual([true]);
    proxy.drop = (dir) => dir === 'up'; // a crash, to the broker
    await first.client.stop();
    proxy.cut();
    store.close();

    proxy.drop = undefined;
    store = openTestStore(dir);
    const second = makeClient(store, { url: proxy.url });
    second.client.onMessage(handler);
    second.client.setSubscriptions(subs);
    await second.client.start();
    await waitFor(() => proxy.packets('up', 'pubcomp').length >= 1, 'PUBREL answered with PUBCOMP', 5000);
    expect(idInSameCommit).toEqual([true]); // the resend did not reach the handler
    expect(store.inbox.pending('spool:x', 'd').map((r) => r.payload.toString())).toEqual(['once']);
    expect(store.state.list(QOS2_NAMESPACE)).toEqual([]);
    await second.client.stop();
    store.close();
    await proxy.close();
    await broker.stop();
  });
});
