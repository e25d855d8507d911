import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

describe('outbox lanes', () => {
  it('the main sender sees lane 0 only; a lane has its own reader and its own wake-up; lanes survive a reopen', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const added: number[][] = [];
    const lanes: number[] = [];
    store.outbox.added$.subscribe((rows) => added.push(rows.map((r) => r.id)));
    store.outbox.laneAdded$?.subscribe((n) => lanes.push(n));
    const [a] = await store.outbox.enqueue([msg('d', 0)]);
    const [b, c] = await store.outbox.enqueue([{ ...msg('d', 1), lane: 1 }, msg('d', 2)]);
    const [d] = await store.outbox.enqueue([{ ...msg('d', 3), lane: 1 }]);
    expect(store.outbox.nextQueued(0, 10).map((r) => r.id)).toEqual([a, c]);
    expect(store.outbox.nextInLane!(1, 0, 10).map((r) => [r.id, r.lane])).toEqual([
      [b, 1],
      [d, 1],
    ]);
    expect(store.outbox.nextInLane!(1, b!, 10).map((r) => r.id)).toEqual([d]);
    expect(added.flat()).toEqual([a, c]);
    expect(lanes).toEqual([1, 1]);
    // One budget for all lanes: limits and totals count them all.
    expect(store.outbox.stats().rows).toBe(4);
    await store.outbox.complete([b!]);
    store.close();
    ({ store } = open(dir));
    expect(store.outbox.nextQueued(0, 10).map((r) => r.id)).toEqual([a, c]);
    expect(store.outbox.nextInLane!(1, 0, 10).map((r) => r.id)).toEqual([d]);
    expect(store.outbox.nextQueued(0, 10)[0]!.lane).toBeUndefined();
    store.close();
  });

  it('the single-message batched path keeps the lane too', async () => {
    const { store } = open(tmpDir());
    const done = new Promise<void>((resolve) => {
      let n = 0;
      const cb = () => {
        if (++n === 3) resolve();
      };
      store.outbox.enqueueThen([msg('x', 0)], undefined, cb);
      store.outbox.enqueueThen([{ ...msg('x', 1), lane: 1 }], undefined, cb);
      store.outbox.enqueueThen([msg('x', 2)], undefined, cb);
    });
    await done;
    expect(store.outbox.nextQueued(0, 10).map((r) => r.payload.toString())).toEqual(['0', '2']);
    expect(store.outbox.nextInLane!(1, 0, 10).map((r) => r.payload.toString())).toEqual(['1']);
    store.close();
  });
});
