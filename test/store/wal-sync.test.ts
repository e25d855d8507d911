import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { msg, open } from './helpers.js';

// Observe the WAL fsyncs: each call is held until the test releases it, as a slow disk would.
const syncs = vi.hoisted(() => ({ pending: [] as (() => void)[], calls: 0, syncCalls: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    fdatasync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      syncs.calls++;
      fs.fdatasync(fd, (err) => syncs.pending.push(() => cb(err)));
    },
    fdatasyncSync: (fd: number) => {
      syncs.syncCalls++;
      fs.fdatasyncSync(fd);
    },
  };
});

afterEach(cleanupTmpDirs);

const release = async () => {
  await vi.waitFor(() => expect(syncs.pending.length).toBeGreaterThan(0));
  for (const done of syncs.pending.splice(0)) done();
};

describe('power-loss durability without blocking the event loop', () => {
  it('resolves an enqueue only after an fsync that began after its commit; a commit made while one runs starts its own', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    syncs.calls = 0;
    let first = false;
    let second = false;
    const a = store.outbox.enqueue([msg('d', 1)]).then(() => {
      first = true;
    });
    await vi.waitFor(() => expect(syncs.calls).toBe(1)); // committed, fsync under way
    expect(store.outbox.stats().rows).toBe(1); // visible to readers already
    const b = store.outbox.enqueue([msg('d', 2)]).then(() => {
      second = true;
    });
    // Committed at once, with a second fsync of its own: it could not ride on the first.
    await vi.waitFor(() => expect(syncs.calls).toBe(2));
    expect(store.outbox.stats().rows).toBe(2);
    await vi.waitFor(() => expect(syncs.pending.length).toBe(2));
    expect(first).toBe(false); // not acknowledged before its data is on disk
    syncs.pending.shift()!(); // the first fsync ends: it covers the first commit only
    await a;
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(false);
    syncs.pending.shift()!();
    await b;
    store.close();
  });

  it('the later fsync ending first settles the earlier commit too (it began after both)', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    syncs.calls = 0;
    const order: number[] = [];
    const a = store.outbox.enqueue([msg('d', 1)]).then(() => order.push(1));
    await vi.waitFor(() => expect(syncs.calls).toBe(1));
    const b = store.outbox.enqueue([msg('d', 2)]).then(() => order.push(2));
    await vi.waitFor(() => expect(syncs.pending.length).toBe(2));
    syncs.pending.pop()!(); // the second fsync
    await Promise.all([a, b]);
    expect(order).toEqual([1, 2]); // in commit order
    syncs.pending.shift()!(); // the first one ending late settles nothing twice
    store.close();
  });

  it('holds writes made while two fsyncs run and commits them together, in one transaction, when one ends', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    const commits: number[] = [];
    store.commits$.subscribe((c) => commits.push(c.ops));
    syncs.calls = 0;
    const a = store.outbox.enqueue([msg('d', 1)]);
    await vi.waitFor(() => expect(syncs.calls).toBe(1));
    const b = store.outbox.enqueue([msg('d', 2)]);
    await vi.waitFor(() => expect(syncs.calls).toBe(2));
    const later = [3, 4, 5].map((i) => store.outbox.enqueue([msg('d', i)]));
    await new Promise((r) => setTimeout(r, 20));
    expect(store.outbox.stats().rows).toBe(2); // not committed while two fsyncs run
    await release();
    await Promise.all([a, b]);
    await vi.waitFor(() => expect(syncs.calls).toBe(3));
    expect(store.outbox.stats().rows).toBe(5);
    await release();
    await Promise.all(later);
    expect(commits).toEqual([1, 1, 1]); // the three later enqueues: one op, one multi-row INSERT
    store.close();
  });

  it('process-crash durability never fsyncs per commit', async () => {
    const { store } = open(tmpDir(), {}, 'process-crash');
    syncs.calls = 0;
    await store.outbox.enqueue([msg('d', 1)]);
    expect(syncs.calls).toBe(0);
    store.close();
  });

  it('close() makes what is committed durable and settles it', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    syncs.syncCalls = 0;
    const done = store.outbox.enqueue([msg('d', 1)]);
    await vi.waitFor(() => expect(syncs.pending.length).toBe(1));
    store.close();
    expect(syncs.syncCalls).toBe(1);
    await done;
    for (const late of syncs.pending.splice(0)) late(); // the held fsync finishing later is harmless
  });
});
