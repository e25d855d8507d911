import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { purge, retrySetAside, stats } from '../../gateway/store/inspect.js';
import { MIGRATIONS } from '../../gateway/store/migrations.js';
import { ROW_COST_SQL, ROW_OVERHEAD } from '../../gateway/store/outbox-totals.js';
import type { Store } from '../../contracts/store.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { cost, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

/** What the rows themselves add up to, read by a second connection (committed state only). */
function counted(dir: string): { rows: number; bytes: number } {
  const db = new Database(join(dir, 'fieldgate.db'), { readonly: true });
  try {
    return db
      .prepare(`SELECT count(*) AS rows, coalesce(sum(${ROW_COST_SQL}), 0) AS bytes FROM outbox`)
      .get() as {
      rows: number;
      bytes: number;
    };
  } finally {
    db.close();
  }
}

function totalsOf(store: Store): { rows: number; bytes: number } {
  const { rows, bytes } = store.outbox.stats();
  return { rows, bytes };
}

describe('outbox totals in memory (schema v6)', () => {
  it('has no trigger on the outbox: the totals are kept by the writers', () => {
    const dir = tmpDir();
    open(dir).store.close();
    const db = new Database(join(dir, 'fieldgate.db'), { readonly: true });
    const triggers = db
      .prepare(`SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'outbox'`)
      .all();
    db.close();
    expect(triggers).toEqual([]);
  });

  it('carry over from a v4 database (kept by its triggers) and stay exact after the upgrade', async () => {
    const dir = tmpDir();
    const v4 = new Database(join(dir, 'fieldgate.db'));
    v4.pragma('journal_mode = WAL');
    for (const step of MIGRATIONS.slice(0, 4)) v4.exec(step);
    v4.pragma('user_version = 4');
    v4.exec(`
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
      INSERT INTO outbox (source, device, topic, payload, qos, retain, received_at, enqueued_at)
      SELECT 'old', 'dev', 'sensors/old', zeroblob(i), 1, 0, i, ${Date.now()} FROM n;
      DELETE FROM outbox WHERE id <= 10;
    `);
    v4.close();
    const { store } = open(dir);
    // Counted at the first start (the byte count now includes topic, device and source).
    const perRow = 'old'.length + 'dev'.length + 'sensors/old'.length + ROW_OVERHEAD;
    expect(totalsOf(store)).toEqual({ rows: 40, bytes: (50 * 51) / 2 - (10 * 11) / 2 + 40 * perRow });
    const [id] = await store.outbox.enqueue([msg('new', 0, 5)]);
    await store.outbox.complete([11, 12, 13, id!]);
    expect(totalsOf(store)).toEqual(counted(dir));
    expect(totalsOf(store).rows).toBe(37);
    store.close();
  });

  it('stay equal to the rows through batched and per-op enqueues, range completes, set-aside and a reopen', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    // One flush of batched single-message enqueues (one multi-row INSERT) ...
    const batched = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.outbox.enqueue([msg('a', i, 10 + i)])),
    );
    // ... and a per-op multi-message enqueue.
    const multi = await store.outbox.enqueue([msg('b', 100, 7), msg('b', 101, 9)]);
    expect(totalsOf(store)).toEqual(counted(dir));
    expect(totalsOf(store).rows).toBe(32);

    const ids = batched.map((r) => r[0]!);
    // Runs, singles, out of order, an id twice and ids that are gone or never were.
    await store.outbox.complete([ids[0]!, ids[1]!, ids[2]!, ids[5]!, ids[9]!, ids[8]!, ids[2]!, 999_999]);
    await store.outbox.complete([ids[0]!, multi[1]!]);
    const left = store.outbox.nextQueued(0, 100).map((r) => r.id);
    expect(left).not.toContain(ids[2]);
    expect(left).toContain(ids[3]);
    expect(left).toContain(ids[4]);
    expect(left).toHaveLength(32 - 7);
    expect(totalsOf(store)).toEqual(counted(dir));

    expect(await store.outbox.setAside(ids[3]!, 'broker_disconnect')).toBe(true);
    expect(await store.outbox.setAside(ids[3]!, 'broker_disconnect')).toBe(false);
    expect(totalsOf(store)).toEqual(counted(dir));
    expect(totalsOf(store).rows).toBe(24);
    store.close();

    ({ store } = open(dir));
    expect(totalsOf(store)).toEqual(counted(dir));
    store.close();
  });

  it('stay exact when the CLI puts set-aside rows back and purges beside the running store', async () => {
    const dir = tmpDir();
    const { store } = open(dir, { max_rows: 5 });
    const three = [msg('a', 0, 100), msg('a', 1, 200), msg('a', 2, 300)];
    const [c0, c1, c2] = three.map(cost) as [number, number, number];
    const ids = (await store.outbox.enqueue(three)).slice();
    await store.outbox.setAside(ids[1]!, 'broker_disconnect');
    expect(totalsOf(store)).toEqual({ rows: 2, bytes: c0 + c2 });

    expect(retrySetAside(dir)).toBe(1);
    expect(totalsOf(store)).toEqual({ rows: 3, bytes: c0 + c1 + c2 });
    expect(stats(dir).outbox).toMatchObject({ rows: 3, bytes: c0 + c1 + c2 });
    // The row put back has an id above every id the store used: its sender finds it after its cursor.
    const back = store.outbox.nextQueued(ids[2]!, 10);
    expect(back.map((r) => r.payload.length)).toEqual([200]);
    // The store's next flush starts from the CLI's counts: max_rows 5 trims to exactly 5.
    await Promise.all([0, 1, 2, 3].map((i) => store.outbox.enqueue([msg('b', i, 1)])));
    expect(totalsOf(store)).toEqual(counted(dir));
    expect(totalsOf(store).rows).toBe(5);

    expect(purge(dir, { which: 'outbox' }).outbox).toBe(5);
    expect(totalsOf(store)).toEqual({ rows: 0, bytes: 0 });
    await store.outbox.enqueue([msg('c', 0, 50)]);
    expect(totalsOf(store)).toEqual({ rows: 1, bytes: cost(msg('c', 0, 50)) });
    expect(totalsOf(store)).toEqual(counted(dir));
    store.close();
  });

  it('stay exact through drop-oldest trims by rows and by bytes and max_age expiry', async () => {
    const dir = tmpDir();
    const { store } = open(dir, { max_rows: 10, max_bytes: 1200, max_age: 60_000 });
    for (let burst = 0; burst < 5; burst++)
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.outbox.enqueue([msg('a', burst * 8 + i, 20 + i * 10)])),
      );
    expect(totalsOf(store)).toEqual(counted(dir));
    expect(totalsOf(store).rows).toBeLessThanOrEqual(10);
    expect(totalsOf(store).bytes).toBeLessThanOrEqual(1200);
    store.close();

    // Reopen with a max_age every row is past: flushes expire them all (deleted by age, counted out).
    const again = open(dir, { max_age: 1 }, 'process-crash', 1).store;
    await waitFor(() => again.outbox.stats().rows === 0, 'every row expired');
    expect(totalsOf(again)).toEqual({ rows: 0, bytes: 0 });
    expect(totalsOf(again)).toEqual(counted(dir));
    again.close();
  });
});
