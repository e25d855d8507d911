import { afterEach, describe, expect, it } from 'vitest';
import { OutboxFullError, StoreClosedError } from '../../contracts/store.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { captureLogger, msg, open } from './helpers.js';
import { openStore } from '../../gateway/store/open.js';

afterEach(cleanupTmpDirs);

type Outcome = { err: unknown; ids: number[] | undefined };

/** enqueueThen: the promise-free enqueue of the hot ingest path (contracts/store.ts). */
describe('outbox.enqueueThen', () => {
  it('answers each call after its commit and fsync, in call order, never synchronously', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    const order: number[] = [];
    const outcomes: Outcome[] = [];
    let committed = 0;
    const seenCommits: number[] = [];
    store.commits$.subscribe(() => committed++);
    const all = new Promise<void>((resolve) => {
      for (let i = 0; i < 40; i++) {
        // A multi-message enqueue in between takes the per-op path and keeps its place.
        const messages = i === 20 ? [msg('d', 20), msg('d', 20.5)] : [msg('d', i)];
        store.outbox.enqueueThen(messages, undefined, (err, ids) => {
          seenCommits.push(committed); // commits$ fires once the commit is durable (after the fsync)
          order.push(i);
          outcomes[i] = { err, ids };
          if (order.length === 40) resolve();
        });
      }
      expect(order).toEqual([]); // nothing answered inside the calls
    });
    await all;
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seenCommits.every((n) => n > 0)).toBe(true);
    expect(outcomes.every((o) => o.err === undefined)).toBe(true);
    const ids = outcomes.flatMap((o) => o.ids!);
    expect(store.outbox.nextQueued(0, 100).map((r) => r.id)).toEqual(ids);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    store.close();
  });

  it('hands OutboxFullError under reject-new and StoreClosedError after close, as errors not ids', async () => {
    const { store } = open(tmpDir(), { max_rows: 1, overflow: 'reject-new' });
    const got = await new Promise<Outcome[]>((resolve) => {
      const out: Outcome[] = [];
      const done = (err: unknown, ids: number[] | undefined) => {
        out.push({ err, ids });
        if (out.length === 2) resolve(out);
      };
      store.outbox.enqueueThen([msg('d', 1)], undefined, done);
      store.outbox.enqueueThen([msg('d', 2)], undefined, done);
    });
    expect(got[0]!.ids).toHaveLength(1);
    expect(got[1]!.err).toBeInstanceOf(OutboxFullError);
    expect(got[1]!.ids).toBeUndefined();
    store.close();
    const closed = await new Promise<Outcome>((resolve) =>
      store.outbox.enqueueThen([msg('d', 3)], undefined, (err, ids) => resolve({ err, ids })),
    );
    expect(closed.err).toBeInstanceOf(StoreClosedError);
  });

  it('still answers the rest of a batch when one callback throws, and logs it', async () => {
    const { logger, lines } = captureLogger();
    const store = openStore({
      dir: tmpDir(),
      durability: 'process-crash',
      limits: { max_rows: 100, max_bytes: 1e6, max_age: 60_000, overflow: 'drop-oldest' },
      logger,
    });
    const answered: number[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 3; i++)
        store.outbox.enqueueThen([msg('d', i)], undefined, () => {
          answered.push(i);
          if (i === 0) throw new Error('caller bug');
          if (i === 2) resolve();
        });
    });
    expect(answered).toEqual([0, 1, 2]);
    expect(lines.some((l) => l.msg === 'outbox enqueue callback threw')).toBe(true);
    store.close();
  });
});
