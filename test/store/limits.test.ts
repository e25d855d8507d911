import { afterEach, describe, expect, it } from 'vitest';
import { OutboxFullError } from '../../contracts/store.js';
import { sleep } from '../harness/wait.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { cost, dropTotals, enqueueRange, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

const seqs = (rows: { payload: Buffer }[]) => rows.map((r) => Number(r.payload.toString()));

describe('outbox limits', () => {
  it('drop-oldest keeps max_rows, dropping the oldest and counting each drop', async () => {
    const { store } = open(tmpDir(), { max_rows: 1000 });
    const dropped = dropTotals(store);
    await enqueueRange(store, 'd', 0, 1500);
    expect(store.outbox.stats().rows).toBe(1000);
    expect(dropped).toEqual({ max_rows: 500 });
    const rows = store.outbox.nextQueued(0, 2000);
    expect(seqs(rows)).toEqual(Array.from({ length: 1000 }, (_, i) => 500 + i));
    store.close();
  });

  it('drop-oldest keeps max_bytes within 1%', async () => {
    const max = 1000 * cost(msg('d', 0, 100)); // a row costs its payload, topic, device, source and overhead
    const { store } = open(tmpDir(), { max_bytes: max });
    const dropped = dropTotals(store);
    await enqueueRange(store, 'd', 0, 1500, 100, 100);
    const { bytes, rows } = store.outbox.stats();
    expect(bytes).toBeLessThanOrEqual(max);
    expect(bytes).toBeGreaterThanOrEqual(max * 0.99);
    expect(rows).toBe(1000);
    expect(dropped).toEqual({ max_bytes: 500 });
    store.close();
  });

  it('reject-new refuses enqueues past max_rows with OutboxFullError, counted', async () => {
    const { store } = open(tmpDir(), { max_rows: 1000, overflow: 'reject-new' });
    const dropped = dropTotals(store);
    const results = await enqueueRange(store, 'd', 0, 1200, 300);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(200);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(OutboxFullError);
    expect(store.outbox.stats().rows).toBe(1000);
    expect(dropped).toEqual({ reject_new: 200 });
    // The kept rows are the first 1000: nothing already stored was touched.
    expect(seqs(store.outbox.nextQueued(0, 5))).toEqual([0, 1, 2, 3, 4]);
    store.close();
  });

  it('reject-new refuses past max_bytes', async () => {
    const max = cost(msg('d', 0, 9_000)) + cost(msg('d', 2, 1_000));
    const { store } = open(tmpDir(), { max_bytes: max, overflow: 'reject-new' });
    const dropped = dropTotals(store);
    await store.outbox.enqueue([msg('d', 0, 9_000)]);
    await expect(store.outbox.enqueue([msg('d', 1, 1_001)])).rejects.toBeInstanceOf(OutboxFullError);
    await store.outbox.enqueue([msg('d', 2, 1_000)]);
    expect(store.outbox.stats().bytes).toBe(max);
    expect(dropped).toEqual({ reject_new: 1 });
    store.close();
  });

  it('drop-oldest never drops rows in flight', async () => {
    const { store } = open(tmpDir(), { max_rows: 10 });
    const dropped = dropTotals(store);
    const ids = (await enqueueRange(store, 'd', 0, 10)).map(
      (r) => (r as PromiseFulfilledResult<number[]>).value[0]!,
    );
    await store.outbox.markSent(ids.slice(0, 5).map((id, i) => ({ id, packetId: i + 1 })));
    await store.outbox.markReleased(ids[0]!);
    await enqueueRange(store, 'd', 10, 20);
    expect(store.outbox.inflight().map((r) => r.id)).toEqual(ids.slice(0, 5));
    expect(seqs(store.outbox.nextQueued(0, 100))).toEqual([15, 16, 17, 18, 19]);
    expect(store.outbox.stats()).toMatchObject({ rows: 10, inflight: 5 });

    // Everything in flight: the only queued rows left to drop are the new ones.
    await store.outbox.markSent(
      store.outbox.nextQueued(0, 100).map((r, i) => ({ id: r.id, packetId: 100 + i })),
    );
    await enqueueRange(store, 'd', 20, 23);
    expect(store.outbox.stats()).toMatchObject({ rows: 10, inflight: 10 });
    expect(dropped).toEqual({ max_rows: 13 });
    store.close();
  });

  it('drops queued rows older than max_age on the timer, never rows in flight', async () => {
    const { store } = open(tmpDir(), { max_age: 200 }, 'process-crash', 50);
    const dropped = dropTotals(store);
    const ids = await store.outbox.enqueue(Array.from({ length: 100 }, (_, i) => msg('d', i)));
    await store.outbox.markSent([{ id: ids[0]!, packetId: 1 }]);
    await sleep(120);
    await store.outbox.enqueue([msg('d', 100)]);
    expect(store.outbox.stats().rows).toBe(101);
    await sleep(250); // the timer-driven flush runs with no op queued
    expect(store.outbox.stats()).toMatchObject({ rows: 1, inflight: 1 });
    expect(dropped).toEqual({ max_age: 100 });
    store.close();
  });

  it('expires aged rows at the start of a flush, so reject-new has room for the new ones', async () => {
    const { store } = open(tmpDir(), { max_rows: 10, max_age: 100, overflow: 'reject-new' });
    const dropped = dropTotals(store);
    await store.outbox.enqueue(Array.from({ length: 10 }, (_, i) => msg('d', i)));
    await sleep(150);
    await store.outbox.enqueue(Array.from({ length: 5 }, (_, i) => msg('d', 10 + i)));
    expect(seqs(store.outbox.nextQueued(0, 100))).toEqual([10, 11, 12, 13, 14]);
    expect(dropped).toEqual({ max_age: 10 });
    store.close();
  });

  it('logs drops at most once per 10 s per reason, with the count since the last line', async () => {
    const { store, lines } = open(tmpDir(), { max_rows: 10 });
    await enqueueRange(store, 'd', 0, 15);
    await enqueueRange(store, 'd', 15, 20);
    await enqueueRange(store, 'd', 20, 27);
    const warns = () => lines.filter((l) => l.msg === 'outbox messages dropped');
    expect(warns().map((l) => [l.level, l.reason, l.count])).toEqual([[40, 'max_rows', 5]]);
    store.close(); // writes what the rate limit held back
    expect(warns().map((l) => [l.reason, l.count])).toEqual([
      ['max_rows', 5],
      ['max_rows', 12],
    ]);
  });
});

describe('enqueue with remembered state', () => {
  it('writes the kv entry with the rows, and not at all when the rows are refused', async () => {
    const { store } = open(tmpDir(), { max_rows: 1, overflow: 'reject-new' });
    await store.outbox.enqueue([msg('d', 1)], { remember: { namespace: 'ns', key: 'a', value: { at: 1 } } });
    expect(store.state.get('ns', 'a')).toEqual({ at: 1 });
    await expect(
      store.outbox.enqueue([msg('d', 2)], { remember: { namespace: 'ns', key: 'b', value: { at: 2 } } }),
    ).rejects.toBeInstanceOf(OutboxFullError);
    expect(store.state.get('ns', 'b')).toBeUndefined();
    store.close();
  });
});
