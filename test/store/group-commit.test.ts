import { afterEach, describe, expect, it } from 'vitest';
import type { QoS } from '../../adapters/types.js';
import { OutboxFullError, StoreClosedError } from '../../contracts/store.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { cost, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

describe('group commit', () => {
  it('commits every op issued in one event-loop turn in one transaction', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    const commits: { ms: number; ops: number }[] = [];
    store.commits$.subscribe((c) => commits.push(c));
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) ops.push(store.outbox.enqueue([msg(`d${i % 7}`, i)]));
    ops.push(store.state.put('ns', 'k', { n: 1 }), store.inbox.put(cmd('dev')));
    await Promise.all(ops);
    expect(commits).toHaveLength(1);
    // The 500 single-message enqueues are one op (one multi-row INSERT), plus the kv and inbox ops.
    expect(commits[0]!.ops).toBe(3);
    expect(store.outbox.stats().rows).toBe(500);

    // Bursts of concurrent callers: batches grow with load, far fewer commits than ops.
    commits.length = 0;
    for (let burst = 0; burst < 10; burst++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.outbox.enqueue([msg('x', i)])));
    }
    expect(store.outbox.stats().rows).toBe(1500);
    expect(commits.reduce((n, c) => n + c.ops, 0)).toBe(10); // one batched insert per burst
    expect(commits.length).toBeLessThanOrEqual(10);
    store.close();
  });

  it('resolves an op only after its commit, and a failing op rejects alone', async () => {
    const { store } = open(tmpDir(), { max_rows: 10, overflow: 'reject-new' });
    let committed = false;
    store.commits$.subscribe(() => {
      committed = true;
    });
    const small = store.outbox.enqueue([msg('a', 0)]).then((ids) => {
      expect(committed).toBe(true);
      return ids;
    });
    const tooBig = store.outbox.enqueue(Array.from({ length: 20 }, (_, i) => msg('b', i)));
    const other = store.state.put('ns', 'k2', 'fine');
    await expect(tooBig).rejects.toBeInstanceOf(OutboxFullError);
    expect(await small).toHaveLength(1);
    await other;
    expect(store.state.get('ns', 'k2')).toBe('fine');
    expect(store.outbox.stats().rows).toBe(1);
    store.close();
  });

  it('rolls back a failing op half-way through its inserts, and only that op', async () => {
    const { store } = open(tmpDir());
    let added = 0;
    store.outbox.added$.subscribe(() => added++);
    const before = store.outbox.enqueue([msg('a', 0)]);
    const broken = store.outbox.enqueue([msg('b', 1), { ...msg('b', 2), qos: 5 as QoS }]); // CHECK fails on the 2nd
    const after = store.outbox.enqueue([msg('c', 3)]);
    await expect(broken).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_CHECK' });
    await Promise.all([before, after]);
    expect(store.outbox.nextQueued(0, 10).map((r) => r.device)).toEqual(['a', 'c']);
    expect(store.outbox.stats()).toMatchObject({ rows: 2, bytes: cost(msg('a', 0)) + cost(msg('c', 3)) });
    expect(added).toBe(1);
    store.close();
  });

  it('close() commits ops still queued; later ops reject', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const pending = Array.from({ length: 50 }, (_, i) => store.outbox.enqueue([msg('d', i)]));
    store.close(); // same turn: nothing was flushed yet
    expect((await Promise.all(pending)).flat()).toHaveLength(50);
    await expect(store.outbox.enqueue([msg('d', 99)])).rejects.toBeInstanceOf(StoreClosedError);
    ({ store } = open(dir));
    expect(store.outbox.stats().rows).toBe(50);
    store.close();
  });
});

function cmd(device: string) {
  return {
    target: 'mqttsn',
    device,
    topic: 'cmd/x',
    payload: Buffer.from('on'),
    qos: 1 as const,
    expiresAt: null,
  };
}
