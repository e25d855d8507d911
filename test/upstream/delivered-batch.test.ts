import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { makeClient, msg, openTestStore } from './helpers.js';

afterAll(cleanupTmpDirs);

describe('upstream delivered-batch events', () => {
  it('report every row once, as the broker acknowledged it, and never reuse a batch array', async () => {
    const broker = await Mosquitto.start();
    const store = openTestStore();
    const { client } = makeClient(store, { url: broker.url, inflight: 8, max_inflight_qos2: 2 });
    const batches: { rows: readonly { id: number; qos: number }[]; ids: number[] }[] = [];
    // Reported at the broker's ack: the rows' deletes ride with a later commit (the drain below).
    client.events$.subscribe((e) => {
      if (e.type !== 'delivered-batch') return;
      batches.push({ rows: e.rows, ids: e.rows.map((r) => r.id) });
    });
    await client.start();
    const ids: number[] = [];
    for (let round = 0; round < 6; round++) {
      const qos = (round % 3) as 0 | 1 | 2;
      ids.push(
        ...(await store.outbox.enqueue(
          Array.from({ length: 150 }, (_, i) => msg(`d${i % 3}`, `b/${round}`, `${round}:${i}`, qos)),
        )),
      );
    }
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 15_000);
    await waitFor(
      () => batches.reduce((n, b) => n + b.rows.length, 0) >= ids.length,
      'all delivered events',
      5000,
    );
    const delivered = batches.flatMap((b) => b.ids);
    expect(delivered.length).toBe(ids.length); // each once
    expect([...delivered].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(batches.length).toBeGreaterThan(1);
    // No array handed out was refilled with another batch's rows afterwards.
    for (const b of batches) expect(b.rows.map((r) => r.id)).toEqual(b.ids);
    expect(new Set(batches.map((b) => b.rows)).size).toBe(batches.length);
    await client.stop();
    store.close();
    await broker.stop();
  });
});
