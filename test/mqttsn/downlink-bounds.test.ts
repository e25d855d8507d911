import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
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

async function silentSubscriber(h: Harness, id: string): Promise<SnClient> {
  const c = await h.client();
  await c.connect(id, { duration: 3600 });
  await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'x/#' });
  expect((await c.expect('suback')).returnCode).toBe(0);
  return c; // never answers a REGISTER or PUBLISH from here on
}

/** Found by the fuzz suite: silent subscribers grew the process past 1 GB with empty messages. */
describe('mqttsn downlink queues of connected devices are bounded', () => {
  it('per device by message count, and across devices by memory (empty messages count too)', async () => {
    h = await startGateway({
      max_queued_messages_per_client: 50,
      max_downlink_memory: 64 * 1024,
      retry_interval: '10s',
    });
    await silentSubscriber(h, 'sink1');
    await silentSubscriber(h, 'sink2');
    await silentSubscriber(h, 'sink3');
    const before = h.gw.stats().drops.queue_full ?? 0;
    for (let i = 0; i < 300; i++)
      await h.gw.deliver({ topic: `x/${i % 7}`, payload: Buffer.alloc(0), qos: 0, retain: false });
    // Each sink holds its one exchange in progress plus at most 50 queued: the rest is dropped and counted.
    const dropped = (h.gw.stats().drops.queue_full ?? 0) - before;
    expect(dropped).toBeGreaterThanOrEqual(3 * (300 - 51));

    // Memory: 1 KiB messages to many devices stop at the shared cap (64 KiB ≈ 50 jobs), not at 50 each.
    for (let d = 4; d <= 8; d++) await silentSubscriber(h, `sink${d}`);
    const mid = h.gw.stats().drops.queue_full ?? 0;
    for (let i = 0; i < 40; i++)
      await h.gw.deliver({ topic: 'x/big', payload: Buffer.alloc(1024), qos: 0, retain: false });
    const sent = 8 * 40;
    const refused = (h.gw.stats().drops.queue_full ?? 0) - mid;
    // At most ~64 KiB / (1 KiB + overhead) ≈ 50 of the 320 fit beside what is already queued.
    expect(refused).toBeGreaterThan(sent - 60);
    await waitFor(() => h!.gw.stats().clients.active === 8, 'all sinks still connected');
  });

  it('per source address: silent subscribers on one host stop at its share, another host still gets its messages', async () => {
    h = await startGateway({ max_queued_bytes_per_source: '16KiB', retry_interval: '10s' });
    for (let d = 1; d <= 4; d++) await silentSubscriber(h, `local${d}`); // 127.0.0.1
    const other = await h.client(undefined, '127.0.0.2');
    await other.connect('remote', { duration: 3600 });
    await other.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'x/#' });
    expect((await other.expect('suback')).returnCode).toBe(0);
    const before = h.gw.stats().drops.queue_full ?? 0;
    for (let i = 0; i < 10; i++)
      await h.gw.deliver({ topic: 'x/big', payload: Buffer.alloc(1024), qos: 0, retain: false });
    // 127.0.0.1 holds at most 16 KiB (12 messages of 1 KiB + topic + 256) over its 4 devices; the
    // other host's 10 fit in its own share.
    const refused = (h.gw.stats().drops.queue_full ?? 0) - before;
    expect(refused).toBe(4 * 10 - 12);
    // The device on the other host answers, so its messages flow: it got every one of them.
    const reg = await other.expect('register', 3000);
    await other.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    let got = 0;
    for (let i = 0; i < 10; i++) if (await other.expect('publish', 3000).catch(() => undefined)) got++;
    expect(got).toBe(10);
  });
});
