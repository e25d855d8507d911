import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Store } from '../../contracts/store.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore, type TestClient } from './helpers.js';

let broker: Mosquitto;
const open: { store: Store; t: TestClient }[] = [];

beforeAll(async () => {
  broker = await Mosquitto.start({ extra: ['log_type all'] });
});
afterEach(async () => {
  for (const { store, t } of open.splice(0)) {
    await t.client.stop();
    store.close();
  }
});
afterAll(async () => {
  await broker.stop();
  cleanupTmpDirs();
});

function setup(config: Record<string, unknown> = {}, gatewayId = 'gw1') {
  const store = openTestStore();
  const t = makeClient(store, { url: broker.url, ...config }, gatewayId);
  open.push({ store, t });
  return { store, ...t };
}

describe('upstream client against a real mosquitto', () => {
  it('delivers QoS 0/1/2 with the retained flag kept, and empties the outbox', async () => {
    const sub = await listen(broker.url, 'b/#', { qos: 2 });
    const { store, client, events } = setup();
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([
      msg('d1', 'b/q0', 'zero', 0),
      msg('d1', 'b/q1', 'one', 1),
      msg('d1', 'b/q2', 'two', 2),
    ]);
    const got = await sub.waitForCount(3);
    expect(got.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      ['b/q0', 'zero', 0],
      ['b/q1', 'one', 1],
      ['b/q2', 'two', 2],
    ]);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 5000);
    expect(events.flatMap((e) => (e.type === 'delivered-batch' ? e.rows.map((r) => r.qos) : []))).toEqual([
      0, 1, 2,
    ]);

    await store.outbox.enqueue([msg('d1', 'b/ret', 'kept', 1, true)]);
    await waitFor(() => store.outbox.stats().rows === 0, 'retained delivered', 5000);
    const late = await listen(broker.url, 'b/ret', { qos: 1 });
    const [r] = await late.waitForCount(1);
    expect(r?.retain).toBe(true);
    expect(r?.payload.toString()).toBe('kept');
    await Promise.all([sub.close(), late.close()]);
  });

  it('takes rows committed while it has no backlog straight from the commit, in order; a burst larger than it holds is read back', async () => {
    const sub = await listen(broker.url, 'tail/#', { qos: 1 });
    const { store, client } = setup();
    const reads = vi.spyOn(store.outbox, 'nextQueued');
    await client.start();
    await nextEvent(client.events$, 'connected');
    await store.outbox.enqueue([msg('d1', 'tail/a', '0', 1)]);
    await sub.waitForCount(1);
    const readsWhenCaughtUp = reads.mock.calls.length;
    for (let i = 1; i <= 50; i += 10) {
      await store.outbox.enqueue(Array.from({ length: 10 }, (_, j) => msg('d1', 'tail/a', String(i + j), 1)));
    }
    await sub.waitForCount(51);
    expect(reads.mock.calls.length).toBe(readsWhenCaughtUp); // no SELECT for rows it was handed
    await store.outbox.enqueue(
      Array.from({ length: 3000 }, (_, i) => msg('d1', 'tail/a', String(51 + i), 1)),
    );
    const got = await sub.waitForCount(3051, 20_000);
    expect(got.map((m) => Number(m.payload.toString()))).toEqual(Array.from({ length: 3051 }, (_, i) => i));
    expect(reads.mock.calls.length).toBeGreaterThan(readsWhenCaughtUp);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 5000);
    await sub.close();
  });

  it('sends a batch of large rows whole and in order (encoded in parts, QoS 0 and 1 mixed)', async () => {
    const sub = await listen(broker.url, 'big/#', { qos: 1 });
    const { store, client } = setup();
    await client.start();
    await nextEvent(client.events$, 'connected');
    // 30 KiB each: a window's batch is far above the 64 KiB a single encoded Buffer holds.
    const body = (i: number) => `${i}:`.padEnd(30 * 1024, String.fromCharCode(97 + (i % 26)));
    await store.outbox.enqueue(
      Array.from({ length: 200 }, (_, i) =>
        msg('d1', `big/${i % 3}`, body(i), (i % 4 === 0 ? 0 : 1) as 0 | 1),
      ),
    );
    const got = await sub.waitForCount(200, 20_000);
    const index = (m: { payload: Buffer }) => Number(m.payload.toString().split(':')[0]);
    // Whole and none twice; in order among QoS 1 (the broker may pass its QoS 0 copies ahead).
    expect(got.map((m) => m.payload.toString()).sort()).toEqual(
      Array.from({ length: 200 }, (_, i) => body(i)).sort(),
    );
    expect(got.every((m) => m.topic === `big/${index(m) % 3}`)).toBe(true);
    const qos1 = got.map(index).filter((i) => i % 4 !== 0);
    expect(qos1).toEqual([...qos1].sort((a, b) => a - b));
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox empty', 5000);
    await sub.close();
  });

  it('publishes retained online on connect and offline on stop', async () => {
    const { client } = setup({}, 'gw-status');
    const sub = await listen(broker.url, 'fieldgate/gw-status/status', { qos: 1 });
    await client.start();
    const [online] = await sub.waitForCount(1);
    expect(online?.payload.toString()).toBe('online');
    expect(client.stats().connected).toBe(true);
    const t0 = Date.now();
    await client.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    const msgs = await sub.waitForCount(2);
    expect(msgs[1]?.payload.toString()).toBe('offline');
    const late = await listen(broker.url, 'fieldgate/gw-status/status', { qos: 1 });
    const [kept] = await late.waitForCount(1);
    expect([kept?.payload.toString(), kept?.retain]).toEqual(['offline', true]);
    await Promise.all([sub.close(), late.close()]);
  });

  it('caps the drain rate at max_rate messages per second', async () => {
    const { store, client } = setup({ max_rate: 200 }, 'gw-rate');
    await store.outbox.enqueue(
      Array.from({ length: 300 }, (_, i) => msg('d', 'rate/x', `d:${i}`, i % 2 ? 1 : 0)),
    );
    const t0 = Date.now();
    await client.start();
    await waitFor(() => store.outbox.stats().rows === 0, 'drained', 10_000);
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThan(1200); // 300 at 200/s, after a 20-message burst
    expect(ms).toBeLessThan(3000);
  });
});
