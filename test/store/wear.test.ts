import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxFullError, type OutboxMessage, type Store } from '../../contracts/store.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { captureLogger, DEFAULT_LIMITS, dropTotals, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

const longTopic = `sensors/${'x'.repeat(4000)}`;
const tiny = (seq: number): OutboxMessage => ({
  ...msg('d', seq),
  topic: longTopic,
  payload: Buffer.from([seq & 0xff]),
});

function enqueueThen(store: Store, m: OutboxMessage, wait: boolean): Promise<number[]> {
  return new Promise((resolve, reject) =>
    store.outbox.enqueueThen([m], { wait }, (err, ids) => (ids ? resolve(ids) : reject(err))),
  );
}

describe('max_bytes counts what a row costs on disk', () => {
  it('1-byte payloads on a 4 KB topic hit max_bytes: drop-oldest drops and counts, the file stays near the bound', async () => {
    const dir = tmpDir();
    const max = 1024 * 1024;
    const { store } = open(dir, { max_bytes: max });
    const dropped = dropTotals(store);
    for (let burst = 0; burst < 20; burst++)
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.outbox.enqueue([tiny(burst * 100 + i)])));
    const s = store.outbox.stats();
    expect(s.bytes).toBeLessThanOrEqual(max);
    // Payloads alone were 2,000 bytes: a payload count would have kept every row (8 MB of topics).
    expect(s.rows).toBeLessThan(260);
    expect(dropped.max_bytes).toBe(2000 - s.rows);
    store.close();
    const file = statSync(join(dir, 'fieldgate.db')).size;
    // Freed pages are reused, so the file is bounded by about the limit plus the WAL's checkpointed pages.
    expect(file).toBeLessThan(3 * max);
  });

  it('reject-new refuses (congestion) once the rows cost max_bytes, not their payloads', async () => {
    const { store } = open(tmpDir(), { max_bytes: 64 * 1024, overflow: 'reject-new' });
    const dropped = dropTotals(store);
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => store.outbox.enqueue([tiny(i)])),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(80);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(OutboxFullError);
    expect(dropped.reject_new).toBe(refused.length);
    expect(store.outbox.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    store.close();
  });
});

describe('ids and totals without AUTOINCREMENT or a totals row per commit', () => {
  it('a QoS 2 row keeps its id and packet id; ids go on above every id used after the newest row is completed and a restart', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const [q2] = await store.outbox.enqueue([{ ...msg('d', 0), qos: 2 }]);
    const [last] = await store.outbox.enqueue([msg('d', 1)]);
    await store.outbox.markSent([{ id: q2!, packetId: 7 }]);
    await store.outbox.markReleased(q2!);
    await store.outbox.complete([last!]); // the newest row goes: SQLite alone would hand its id out again
    const [next] = await store.outbox.enqueue([msg('d', 2)]);
    expect(next).toBeGreaterThan(last!);
    // While the store runs, the row says "in use": a crash now makes the next start count.
    const raw = new Database(join(dir, 'fieldgate.db'));
    expect(raw.prepare('SELECT clean FROM outbox_totals').pluck().get()).toBe(0);
    raw.close();
    store.close();
    ({ store } = open(dir));
    const inflight = store.outbox.inflight();
    expect(inflight.map((r) => [r.id, r.state, r.packetId])).toEqual([[q2, 'released', 7]]);
    const [after] = await store.outbox.enqueue([msg('d', 3)]);
    expect(after).toBeGreaterThan(next!);
    expect(store.outbox.stats().rows).toBe(3);
    store.close();
  });

  it('counts the rows at start when the last stop was not clean', async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    await store.outbox.enqueue([msg('d', 0, 10), msg('d', 1, 20)]);
    const before = store.outbox.stats();
    store.close();
    // As after a crash: the row says "in use" and holds stale counts.
    const raw = new Database(join(dir, 'fieldgate.db'));
    raw.prepare('UPDATE outbox_totals SET clean = 0, rows = 999, bytes = 999').run();
    raw.close();
    const again = open(dir);
    expect(again.store.outbox.stats()).toMatchObject({ rows: before.rows, bytes: before.bytes });
    expect(again.lines.some((l) => /counted at start/.test(l.msg))).toBe(true);
    again.store.close();
  });

  it('a hot commit writes no sqlite_sequence and no totals row', async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    await store.outbox.enqueue([msg('d', 0)]);
    const raw = new Database(join(dir, 'fieldgate.db'), { readonly: true });
    const seq = raw.prepare(`SELECT count(*) FROM sqlite_sequence WHERE name = 'outbox'`).pluck().get();
    const totals = raw.prepare('SELECT rows FROM outbox_totals').pluck().get();
    raw.close();
    expect(seq).toBe(0);
    expect(totals).toBe(0); // written back at close, not per commit
    store.close();
  });
});

describe('commit window (store.commit_interval)', () => {
  function windowed(dir: string, windowMs: number, senders: number) {
    const { logger } = captureLogger();
    const store = openStore({
      dir,
      durability: 'power-loss',
      limits: DEFAULT_LIMITS,
      logger,
      commitIntervalMs: windowMs,
    });
    store.setSenders?.(() => senders);
    let commits = 0;
    store.commits$.subscribe(() => commits++);
    return { store, commits: () => commits };
  }

  it('an ack waits for the window while other devices could still send, and their readings share the commit', async () => {
    const { store, commits } = windowed(tmpDir(), 300, 3);
    await sleep(50); // past the flush every open runs (expiry of what aged while down)
    const t0 = performance.now();
    const first = enqueueThen(store, msg('a', 0), true);
    await sleep(100);
    const second = enqueueThen(store, msg('b', 1), true);
    await Promise.all([first, second]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(commits()).toBe(1);
    store.close();
  });

  it('commits at once when every device that could send is waiting (burst throughput kept)', async () => {
    const { store, commits } = windowed(tmpDir(), 5000, 2);
    const t0 = performance.now();
    await Promise.all([enqueueThen(store, msg('a', 0), true), enqueueThen(store, msg('b', 1), true)]);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(commits()).toBe(1);
    store.close();
  });

  it('a window that fills at once means a busy gateway: commits skip the window for a second, then it is back', async () => {
    const { store, commits } = windowed(tmpDir(), 5000, 2);
    await sleep(50);
    // Both devices at once: the window fills the moment it opens.
    await Promise.all([enqueueThen(store, msg('a', 0), true), enqueueThen(store, msg('b', 1), true)]);
    // One device alone would wait for the other (5 s) in a quiet window; busy, it commits at once.
    let t0 = performance.now();
    await enqueueThen(store, msg('a', 2), true);
    expect(performance.now() - t0).toBeLessThan(1000);
    // A second later the window is back: a lone reading waits for the other device again.
    await sleep(1100);
    const before = commits();
    t0 = performance.now();
    const lone = enqueueThen(store, msg('a', 3), true);
    await sleep(300);
    expect(commits()).toBe(before);
    await enqueueThen(store, msg('b', 4), true); // the other device: the window fills, both commit
    await lone;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(commits()).toBe(before + 1);
    store.close();
  });

  it('commits at once once 64 readings wait, however many devices are counted online', async () => {
    const { store, commits } = windowed(tmpDir(), 5000, 10_000);
    await sleep(50);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 64 }, (_, i) => enqueueThen(store, msg(`d${i}`, i), true)));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(commits()).toBe(1);
    store.close();
  });

  it('a QoS 0 reading never waits', async () => {
    const { store } = windowed(tmpDir(), 5000, 10);
    const t0 = performance.now();
    await enqueueThen(store, { ...msg('a', 0), qos: 0 }, false);
    expect(performance.now() - t0).toBeLessThan(2000);
    store.close();
  });

  it('acked rows are deleted with the next commit, not in a commit of their own', async () => {
    const { store, commits } = windowed(tmpDir(), 0, 1);
    const [id] = await store.outbox.enqueue([msg('a', 0)]);
    const before = commits();
    const done = store.outbox.complete([id!]);
    await sleep(300);
    expect(commits()).toBe(before); // still waiting to ride along
    await store.outbox.enqueue([msg('a', 1)]);
    await done;
    await waitFor(() => store.outbox.stats().rows === 1, 'the delete committed');
    expect(commits()).toBe(before + 1);
    store.close();
  });
});
