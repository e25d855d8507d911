import { afterEach, describe, expect, it } from 'vitest';
import { waitingNow } from '../../contracts/clock.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { cost, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

describe('outbox', () => {
  it('returns queued rows in enqueue order, after a cursor, with every field kept', async () => {
    const { store } = open(tmpDir());
    const ids = await store.outbox.enqueue([msg('a', 0), msg('b', 1), msg('a', 2)]);
    const [id3] = await store.outbox.enqueue([
      { ...msg('c', 3), qos: 2, retain: true, properties: { ct: 'json' } },
    ]);
    expect(ids).toHaveLength(3);
    expect(id3!).toBeGreaterThan(ids[2]!);

    const rows = store.outbox.nextQueued(0, 10);
    expect(rows.map((r) => r.payload.toString())).toEqual(['0', '1', '2', '3']);
    expect(rows[3]).toMatchObject({
      id: id3,
      source: 'test',
      device: 'c',
      topic: 'sensors/c/seq',
      qos: 2,
      retain: true,
      properties: { ct: 'json' },
      receivedAt: 1_700_000_000_003,
      state: 'queued',
      packetId: null,
    });
    expect(rows[0]!.properties).toBeUndefined();
    expect(store.outbox.nextQueued(ids[1]!, 2).map((r) => r.id)).toEqual([ids[2], id3]);
    store.close();
  });

  it('walks queued -> sent -> released -> completed, and inflight survives a reopen', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const [a, b, c] = await store.outbox.enqueue([msg('d', 0), msg('d', 1), msg('d', 2)]);
    await store.outbox.markSent([
      { id: a!, packetId: 7 },
      { id: b!, packetId: 8 },
    ]);
    await store.outbox.markReleased(b!);
    await store.outbox.markReleased(c!); // still queued: not a legal move, ignored
    expect(store.outbox.nextQueued(0, 10).map((r) => r.id)).toEqual([c]);
    expect(store.outbox.stats()).toMatchObject({ rows: 3, inflight: 2 });
    store.close();

    ({ store } = open(dir));
    expect(store.outbox.inflight().map((r) => [r.id, r.state, r.packetId])).toEqual([
      [a, 'sent', 7],
      [b, 'released', 8],
    ]);
    await store.outbox.complete([a!, b!]);
    expect(store.outbox.inflight()).toEqual([]);
    expect(store.outbox.stats()).toMatchObject({ rows: 1, inflight: 0 });
    store.close();
  });

  it('requeueInflight puts sent rows back in id order and clears packet ids', async () => {
    const { store } = open(tmpDir());
    const ids = await store.outbox.enqueue([msg('d', 0), msg('d', 1), msg('d', 2)]);
    await store.outbox.markSent([{ id: ids[0]!, packetId: 1 }]);
    await store.outbox.requeueInflight();
    const rows = store.outbox.nextQueued(0, 10);
    expect(rows.map((r) => [r.id, r.state, r.packetId])).toEqual(ids.map((id) => [id, 'queued', null]));
    store.close();
  });

  it('never reuses an id, even after the newest row is completed and the store reopened', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const [first] = await store.outbox.enqueue([msg('d', 0)]);
    await store.outbox.complete([first!]);
    store.close();
    ({ store } = open(dir));
    const [second] = await store.outbox.enqueue([msg('d', 1)]);
    expect(second!).toBeGreaterThan(first!);
    store.close();
  });

  it('keeps rows/bytes/oldestAt in stats, and added$ fires after an enqueue commits', async () => {
    const { store } = open(tmpDir());
    expect(store.outbox.stats()).toEqual({ rows: 0, bytes: 0, oldestAt: null, inflight: 0 });
    let added = 0;
    store.outbox.added$.subscribe(() => {
      added++;
      // Woken only after COMMIT: the rows are already readable.
      expect(store.outbox.nextQueued(0, 10).length).toBeGreaterThan(0);
    });
    const before = waitingNow(); // the store's times are on the waiting clock, which may run a millisecond apart from Date.now
    const ids = await store.outbox.enqueue([msg('d', 0, 100), msg('d', 1, 50)]);
    const [c0, c1] = [cost(msg('d', 0, 100)), cost(msg('d', 1, 50))];
    expect(added).toBe(1);
    const s = store.outbox.stats();
    expect(s).toMatchObject({ rows: 2, bytes: c0 + c1, inflight: 0 });
    expect(s.oldestAt!).toBeGreaterThanOrEqual(before);
    await store.outbox.complete([ids[0]!]);
    expect(store.outbox.stats()).toMatchObject({ rows: 1, bytes: c1 });
    expect(added).toBe(1);
    store.close();
  });
});
