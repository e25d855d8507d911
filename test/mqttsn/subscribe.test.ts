import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import type { QoS } from '../../adapters/types.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

const msg = (topic: string, qos: QoS = 0, payload = 'v') => ({
  topic,
  payload: Buffer.from(payload),
  qos,
  retain: false,
});

async function subscribe(
  c: SnClient,
  topic: string | number,
  topicIdType: 0 | 1 | 2,
  qos: QoS,
  msgId: number,
) {
  await c.send({ type: 'subscribe', flags: flags({ qos, topicIdType }), msgId, topic });
  const ack = await c.expect('suback', 2000, (a) => a.msgId === msgId);
  expect(ack.returnCode).toBe(0);
  return ack;
}

describe('mqttsn over UDP: subscriptions and downlink', () => {
  it('subscriptions$ is the union of every device filter with its max QoS (prefixed)', async () => {
    h = await startGateway({ topic_prefix: 'site/', predefined_topics: { 3: 'cmd/all' } });
    const a = await h.client();
    const b = await h.client();
    await a.connect('a');
    await b.connect('b');
    await subscribe(a, 'cmd/a/#', 0, 1, 1);
    await subscribe(b, 'cmd/a/#', 0, 2, 1);
    await subscribe(b, 3, 1, 0, 2);
    await subscribe(b, shortNameToId('zz')!, 2, 0, 3);
    const subs = await firstValueFrom(h.gw.subscriptions$.pipe(filter((m) => m.size === 3)));
    expect([...subs].sort()).toEqual([
      ['site/cmd/a/#', 2],
      ['site/cmd/all', 0],
      ['site/zz', 0],
    ]);
    await b.send({ type: 'unsubscribe', flags: flags({ topicIdType: 1 }), msgId: 4, topic: 3 });
    await b.expect('unsuback');
    const after = await firstValueFrom(h.gw.subscriptions$.pipe(filter((m) => m.size === 2)));
    expect(after.has('site/cmd/all')).toBe(false);
  });

  it('delivers on a registered name, a short name and a predefined id', async () => {
    h = await startGateway({ predefined_topics: { 3: 'cmd/all' } });
    const c = await h.client();
    await c.connect('s1');
    const named = await subscribe(c, 'cmd/s1/led', 0, 0, 1);
    expect(named.topicId).toBeGreaterThan(0);
    expect((await subscribe(c, shortNameToId('ab')!, 2, 0, 2)).topicId).toBe(0);
    expect((await subscribe(c, 3, 1, 0, 3)).topicId).toBe(3);
    await h.gw.deliver(msg('cmd/s1/led', 0, 'on'));
    const p1 = await c.expect('publish');
    expect(p1).toMatchObject({ topicId: named.topicId, msgId: 0, flags: { topicIdType: 0, qos: 0 } });
    expect(p1.data.toString()).toBe('on');
    await h.gw.deliver(msg('ab', 0));
    expect(await c.expect('publish')).toMatchObject({
      topicId: shortNameToId('ab'),
      flags: { topicIdType: 2 },
    });
    await h.gw.deliver(msg('cmd/all', 1));
    // QoS capped to the granted 0
    expect(await c.expect('publish')).toMatchObject({ topicId: 3, flags: { topicIdType: 1, qos: 0 } });
    await h.gw.deliver(msg('other/topic', 0));
    await c.expectNone('publish', 150);
  });

  it('wildcard: SUBACK id 0, then REGISTER (REGACK awaited) before the first PUBLISH of a new topic', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.connect('s2');
    expect((await subscribe(c, 'cmd/s2/+', 0, 1, 1)).topicId).toBe(0);
    await h.gw.deliver(msg('cmd/s2/fan', 1, 'spin'));
    const reg = await c.expect('register');
    expect(reg.topicName).toBe('cmd/s2/fan');
    await c.expectNone('publish', 200); // not before REGACK
    await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const pub = await c.expect('publish');
    expect(pub).toMatchObject({ topicId: reg.topicId, flags: { qos: 1, topicIdType: 0 } });
    expect(pub.data.toString()).toBe('spin');
    await c.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
    await waitFor(() => h!.gw.stats().delivered === 1, 'delivered count');
    // same topic again: no new REGISTER
    await h.gw.deliver(msg('cmd/s2/fan', 0, 'again'));
    expect((await c.expect('publish')).topicId).toBe(reg.topicId);
    expect(c.inbox.filter((p) => p.type === 'register')).toHaveLength(0);
  });

  it('QoS 1 downlink retries with DUP, QoS 2 runs PUBREC/PUBREL/PUBCOMP; a long payload goes in the long form', async () => {
    h = await startGateway({ retry_interval: '150ms', retry_count: 3 });
    const c = await h.client();
    await c.connect('s3');
    const sub = await subscribe(c, 'cmd/s3', 0, 2, 1);
    await h.gw.deliver(msg('cmd/s3', 1, 'x'.repeat(400)));
    const first = await c.expect('publish');
    expect(first.flags.dup).toBe(false);
    expect(first.data.length).toBe(400);
    const again = await c.expect('publish', 1000);
    expect(again).toMatchObject({ msgId: first.msgId, flags: { dup: true } });
    await c.send({ type: 'puback', topicId: sub.topicId, msgId: first.msgId, returnCode: 0 });
    await h.gw.deliver(msg('cmd/s3', 2, 'q2'));
    const p2 = await c.expect('publish', 2000, (p) => p.flags.qos === 2);
    await c.send({ type: 'pubrec', msgId: p2.msgId });
    const rel = await c.expect('pubrel');
    expect(rel.msgId).toBe(p2.msgId);
    await c.send({ type: 'pubcomp', msgId: p2.msgId });
    await waitFor(() => h!.gw.stats().delivered === 2, 'two delivered');
  });

  it('send(): delivered when acked, unknown-device for a stranger, queued when the device stops answering', async () => {
    h = await startGateway({ retry_interval: '100ms', retry_count: 1 });
    const c = await h.client();
    await c.connect('s4');
    const cmd = {
      id: '1',
      target: 'mqttsn',
      device: 's4',
      topic: 'cmd/s4/reset',
      payload: Buffer.from('1'),
      qos: 1 as QoS,
    };
    const sent = h.gw.send(cmd);
    const reg = await c.expect('register');
    await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const p = await c.expect('publish');
    await c.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
    expect(await sent).toBe('delivered');
    expect(await h.gw.send({ ...cmd, device: 'nobody' })).toBe('unknown-device');
    // the device goes silent: after retries the command waits in the durable inbox
    expect(await h.gw.send({ ...cmd, id: '2' })).toBe('queued');
    expect(h.store.inbox.pending('mqttsn', 's4')).toHaveLength(1);
  });

  it('stop() puts an unacked QoS 1 downlink back in the inbox; the per-client byte budget drops the excess', async () => {
    h = await startGateway({ retry_interval: '5s', max_queued_bytes_per_client: 1000 });
    const c = await h.client();
    await c.connect('s5');
    await subscribe(c, 'cmd/s5', 0, 1, 1);
    await h.gw.deliver(msg('cmd/s5', 1, 'a'.repeat(600)));
    await c.expect('publish'); // never acked
    await h.gw.deliver(msg('cmd/s5', 1, 'b'.repeat(600))); // over the 1000-byte budget
    expect(h.gw.stats().drops.queue_full).toBe(1);
    const store = h.store;
    await h.gw.stop();
    expect(store.inbox.pending('mqttsn', 's5').map((r) => r.payload.length)).toEqual([600]);
  });
});
