import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, type Packet } from '../../adapters/mqttsn/codec/index.js';
import type { QoS } from '../../adapters/types.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

describe('mqttsn over UDP: sleeping devices', () => {
  it('queues for a sleeper in the durable inbox; PINGREQ(clientId) delivers all (REGISTER first), then PINGRESP', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.connect('z1', { duration: 30 });
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'cmd/z1/#' });
    await c.expect('suback');
    await c.send({ type: 'disconnect', duration: 2 });
    await c.expect('disconnect');
    await waitFor(() => h!.gw.stats().clients.asleep === 1, 'asleep');

    await h.gw.deliver({ topic: 'cmd/z1/led', payload: Buffer.from('on'), qos: 1, retain: false });
    await h.gw.deliver({ topic: 'cmd/z1/led', payload: Buffer.from('off'), qos: 0, retain: false });
    const cmd = {
      id: 'c1',
      target: 'mqttsn',
      device: 'z1',
      topic: 'cmd/z1/beep',
      payload: Buffer.from('3'),
      qos: 1 as QoS,
    };
    expect(await h.gw.send(cmd)).toBe('queued');
    expect(h.store.inbox.pending('mqttsn', 'z1')).toHaveLength(3);
    await c.expectNone('publish', 100);

    await c.send({ type: 'pingreq', clientId: 'z1' });
    const order: string[] = [];
    // act as the device: ack everything, note what came in which order
    for (let done = false; !done; ) {
      const p = await nextOf(c.inbox);
      if (!p) break;
      order.push(p.type === 'publish' ? `publish:${p.data}` : p.type);
      if (p.type === 'register')
        await c.send({ type: 'regack', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
      if (p.type === 'publish' && p.flags.qos === 1)
        await c.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
      if (p.type === 'pingresp') done = true;
    }
    expect(order).toEqual(['register', 'publish:on', 'publish:off', 'register', 'publish:3', 'pingresp']);
    await waitFor(() => h!.store.inbox.pending('mqttsn', 'z1').length === 0, 'inbox emptied');
    expect(h.gw.stats().clients.asleep).toBe(1);

    // next wake: nothing replayed, PINGRESP at once
    await c.send({ type: 'pingreq', clientId: 'z1' });
    await c.expect('pingresp');
    expect(c.inbox).toHaveLength(0);
  });

  it('a sleeper that misses 1.5 x its sleep duration is lost (will emitted)', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.send({
      type: 'connect',
      flags: flags({ will: true }),
      protocolId: 1,
      duration: 60,
      clientId: 'z2',
    });
    await c.expect('willtopicreq');
    await c.send({ type: 'willtopic', flags: flags(), topic: 'dev/z2/lwt' });
    await c.expect('willmsgreq');
    await c.send({ type: 'willmsg', msg: Buffer.from('x') });
    await c.expect('connack');
    await c.send({ type: 'disconnect', duration: 1 });
    await c.expect('disconnect');
    await sleep(1000);
    expect(h.readings).toHaveLength(0);
    const r = await h.reading(1);
    expect(r).toMatchObject({ device: 'z2', topic: 'dev/z2/lwt' });
  });
});

/** Waits for the next packet of any type from the client's buffer. */
async function nextOf(buf: Packet[]): Promise<Packet | undefined> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const p = buf.shift();
    if (p) return p;
    await sleep(5);
  }
  return undefined;
}
