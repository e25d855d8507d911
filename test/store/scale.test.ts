import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { ROW_COST_SQL, ROW_OVERHEAD } from '../../gateway/store/outbox-totals.js';
import { cost, msg, open } from './helpers.js';

afterAll(cleanupTmpDirs);

describe('store at scale', () => {
  it('group-commits 100k enqueues (bursts of 1000) with durability power-loss in seconds', async () => {
    const { store } = open(tmpDir(), {}, 'power-loss');
    let commits = 0;
    store.commits$.subscribe(() => commits++);
    const started = performance.now();
    let bytes = 0;
    for (let burst = 0; burst < 100; burst++) {
      const calls = [];
      for (let i = 0; i < 1000; i++) {
        const m = msg(`dev${i % 50}`, burst * 1000 + i, 64);
        bytes += cost(m);
        calls.push(store.outbox.enqueue([m]));
      }
      await Promise.all(calls);
    }
    const ms = performance.now() - started;
    console.log(`enqueue 100k (power-loss, bursts of 1000): ${ms.toFixed(0)} ms, ${commits} commits`);
    expect(store.outbox.stats()).toMatchObject({ rows: 100_000, bytes });
    expect(commits).toBe(100);
    store.close();
  });

  it('opens with a 1,000,000-row backlog without scanning it', () => {
    const dir = tmpDir();
    open(dir).store.close(); // create the schema
    const raw = new Database(join(dir, 'fieldgate.db'));
    raw.pragma('synchronous = OFF');
    const built = performance.now();
    raw.exec(`
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
      INSERT INTO outbox (source, device, topic, payload, qos, retain, received_at, enqueued_at)
      SELECT 'bulk', 'dev' || (i % 100), 'sensors/bulk', zeroblob(32), 1, 0, i, ${Date.now()} FROM n;
      UPDATE outbox SET state = 'sent', packet_id = 1 WHERE id = 1;
      -- As a clean stop leaves them: the counts written back, clean = 1 (the start does not count).
      UPDATE outbox_totals SET rows = (SELECT count(*) FROM outbox), bytes = (SELECT total(${ROW_COST_SQL}) FROM outbox), clean = 1;
    `);
    raw.close();
    console.log(`built 1M rows in ${(performance.now() - built).toFixed(0)} ms`);

    const started = performance.now();
    const { store } = open(dir);
    const first = store.outbox.nextQueued(0, 100);
    const stats = store.outbox.stats();
    const inflight = store.outbox.inflight();
    const ms = performance.now() - started;
    console.log(`openStore + nextQueued + stats + inflight with 1M rows: ${ms.toFixed(1)} ms`);
    expect(first.map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    // Each row: 32-byte payload, 'bulk', 'sensors/bulk', 'devN' (N < 100) and the overhead.
    const devBytes = 10 * 4 + 90 * 5;
    const bytes = 1_000_000 * (32 + 4 + 12 + ROW_OVERHEAD) + 10_000 * devBytes;
    expect(stats).toMatchObject({ rows: 1_000_000, bytes, inflight: 1 });
    expect(inflight.map((r) => r.id)).toEqual([1]);
    expect(store.outbox.nextQueued(999_990, 100).map((r) => r.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => 999_991 + i),
    );
    store.close();
  });
});
