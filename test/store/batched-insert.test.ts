import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../contracts/store.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

/** Single-message enqueues of one flush share one multi-row INSERT (outbox.ts enqueueBatched). */
describe('batched single-message enqueues', () => {
  it('keeps arrival order and each caller its own id, across a per-op enqueue in between', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    const ids: Promise<number[]>[] = [];
    // 150 + 149 each span two statements (128 + 22, 128 + 21); the `remember` enqueue takes the per-op path.
    for (let i = 0; i < 150; i++) ids.push(store.outbox.enqueue([msg('d', i)]));
    ids.push(store.outbox.enqueue([msg('d', 150)], { remember: { namespace: 'ns', key: 'k', value: 1 } }));
    for (let i = 151; i < 300; i++) ids.push(store.outbox.enqueue([msg('d', i)]));
    const got = (await Promise.all(ids)).map((r) => r[0]!);
    const rows = store.outbox.nextQueued(0, 1000);
    expect(rows.map((r) => r.payload.toString())).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    expect(rows.map((r) => r.id)).toEqual(got);
    expect(new Set(got).size).toBe(300);
    store.close();
  });

  it('stores and announces each message of a batch with its own properties, also past 32 rows', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    const announced: OutboxRow[] = [];
    store.outbox.added$.subscribe((rows) => announced.push(...rows));
    // Properties first appear mid-batch (row 3) and again in the second chunk (row 40 of 45).
    const props = (i: number) => (i === 3 || i === 40 ? { userProperties: { n: String(i) } } : undefined);
    const ids = await Promise.all(
      Array.from({ length: 45 }, (_, i) => {
        const p = props(i);
        return store.outbox.enqueue([p ? { ...msg('d', i), properties: p } : msg('d', i)]);
      }),
    );
    const rows = store.outbox.nextQueued(0, 100);
    expect(rows.map((r) => r.properties)).toEqual(Array.from({ length: 45 }, (_, i) => props(i)));
    expect(rows.map((r) => r.id)).toEqual(ids.flat());
    // What the sender is handed is what it would read back.
    expect(announced).toEqual(rows);
    store.close();
  });

  it('refuses only the message whose properties cannot be serialised', async () => {
    const { store } = open(tmpDir());
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const good = store.outbox.enqueue([msg('d', 1)]);
    const bad = store.outbox.enqueue([{ ...msg('d', 2), properties: circular }]);
    const good2 = store.outbox.enqueue([msg('d', 3)]);
    await expect(bad).rejects.toThrow(TypeError);
    expect((await Promise.all([good, good2])).flat()).toHaveLength(2);
    expect(store.outbox.nextQueued(0, 10).map((r) => r.payload.toString())).toEqual(['1', '3']);
    store.close();
  });

  it('rejects every caller of a batch when the store closed before its flush, and later ones too', async () => {
    const { store } = open(tmpDir());
    store.close();
    await expect(store.outbox.enqueue([msg('d', 1)])).rejects.toThrow();
    await expect(store.outbox.enqueue([msg('d', 2)])).rejects.toThrow();
  });
});

describe('a batch of several INSERT statements', () => {
  it('is all or nothing: a row refused in a later chunk keeps no row of the batch', async () => {
    const { store } = open(tmpDir());
    const calls: Promise<number[]>[] = [];
    // 40 rows: chunks of 32 + 8; the bad row (qos 3 fails the CHECK) is in the second chunk.
    for (let i = 0; i < 40; i++)
      calls.push(store.outbox.enqueue([i === 35 ? { ...msg('d', i), qos: 3 as 0 } : msg('d', i)]));
    const settled = await Promise.allSettled(calls);
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
    expect(store.outbox.nextQueued(0, 100)).toEqual([]);
    expect(store.outbox.stats()).toMatchObject({ rows: 0, bytes: 0 });
    // The next batch is stored as usual.
    await store.outbox.enqueue([msg('d', 100)]);
    expect(store.outbox.stats()).toMatchObject({ rows: 1 });
    store.close();
  });
});
