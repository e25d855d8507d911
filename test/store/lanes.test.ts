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

describe('the main sender reading past other lanes', () => {
  it('goes on from the highest id it looked at, so lane rows waiting for their host are not scanned again', async () => {
    const { ReadAhead } = await import('../../gateway/upstream/read-ahead.js');
    const { store } = open(tmpDir());
    const [first] = await store.outbox.enqueue([msg('p', 0)]);
    const lane = await store.outbox.enqueue(
      Array.from({ length: 500 }, (_, i) => ({ ...msg('s', i), lane: 1 })),
    );
    const asked: number[] = [];
    const outbox = {
      ...store.outbox,
      nextQueued: (after: number, limit: number) => {
        asked.push(after);
        return store.outbox.nextQueued(after, limit);
      },
      scannedTo: () => store.outbox.scannedTo!(),
    };
    const ahead = new ReadAhead(outbox);
    ahead.fill(32);
    expect(ahead.take(32, true, 0, 10).map((r) => r.id)).toEqual([first]);
    ahead.reread(); // the sender's rescan once caught up
    ahead.fill(32);
    expect(asked).toEqual([0, lane.at(-1)]);
    // A row committed later is found, whether announced or read back.
    const [next] = await store.outbox.enqueue([msg('p', 1)]);
    ahead.reread();
    ahead.fill(32);
    expect(ahead.take(32, true, 0, 10).map((r) => r.id)).toEqual([next]);
    store.close();
  });
});
