import type { Database, Statement } from 'better-sqlite3';
import type { StoreConfig } from './config.js';
import type { DropReason } from '../../contracts/store.js';
import { type OutboxTotals, ROW_COST_SQL, sumSizes } from './outbox-totals.js';

export type OutboxLimits = Pick<StoreConfig, 'max_rows' | 'max_bytes' | 'max_age' | 'overflow'>;

interface Deleted {
  id: number;
  size: number;
}

/** Expired rows deleted per flush: a week-old backlog is removed over several flushes, not one long one. */
const EXPIRE_CHUNK = 5000;

/**
 * Enforces the outbox bounds with SQL run inside the group-commit transaction. Only 'queued' rows
 * are ever dropped: a row in flight holds a packet id the broker may already know.
 */
export class LimitEnforcer {
  private readonly oldestQueued: Statement<[number], { id: number; size: number; enqueued_at: number }>;
  /** Each delete returns what it deleted: the totals are kept from it (no trigger). */
  private readonly deleteQueuedUpTo: Statement<[number], number>;
  private readonly deleteOldestQueued: Statement<[number], Deleted>;
  private readonly deleteQueuedUpToReturning: Statement<[number], Deleted>;
  private readonly oldestQueuedQos0: Statement<[number], { id: number; size: number }>;
  private readonly deleteOldestQueuedQos0: Statement<[number], Deleted>;
  private readonly deleteQos0UpTo: Statement<[number], Deleted>;

  constructor(
    db: Database,
    private readonly limits: OutboxLimits,
    private readonly totals: OutboxTotals,
  ) {
    this.oldestQueued = db.prepare(
      `SELECT id, ${ROW_COST_SQL} AS size, enqueued_at FROM outbox WHERE state = 'queued' ORDER BY id LIMIT ?`,
    );
    this.deleteQueuedUpTo = db
      .prepare(`DELETE FROM outbox WHERE state = 'queued' AND id <= ? RETURNING ${ROW_COST_SQL}`)
      .pluck() as Statement<[number], number>;
    this.deleteOldestQueued = db.prepare(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' ORDER BY id LIMIT ?)
       RETURNING id, ${ROW_COST_SQL} AS size`,
    );
    this.deleteQueuedUpToReturning = db.prepare(
      `DELETE FROM outbox WHERE state = 'queued' AND id <= ? RETURNING id, ${ROW_COST_SQL} AS size`,
    );
    // These use the partial index outbox_queued_qos0: no scan of a QoS 1/2 backlog to find none.
    this.oldestQueuedQos0 = db.prepare(
      `SELECT id, ${ROW_COST_SQL} AS size FROM outbox WHERE state = 'queued' AND qos = 0 ORDER BY id LIMIT ?`,
    );
    this.deleteOldestQueuedQos0 = db.prepare(
      `DELETE FROM outbox WHERE id IN
         (SELECT id FROM outbox WHERE state = 'queued' AND qos = 0 ORDER BY id LIMIT ?) RETURNING id, ${ROW_COST_SQL} AS size`,
    );
    this.deleteQos0UpTo = db.prepare(
      `DELETE FROM outbox WHERE state = 'queued' AND qos = 0 AND id <= ? RETURNING id, ${ROW_COST_SQL} AS size`,
    );
  }

  /** reject-new: would adding `rows` rows of `bytes` bytes exceed a bound? */
  wouldOverflow(rows: number, bytes: number): boolean {
    const t = this.totals;
    return t.rows + rows > this.limits.max_rows || t.bytes + bytes > this.limits.max_bytes;
  }

  /**
   * Drops queued rows older than max_age, oldest id first, stopping at the first row still young:
   * O(rows dropped), and never drops a newer row while keeping an older one (per-device order).
   * Returns [count, more] where more says another chunk may be due.
   */
  expire(now: number): [count: number, more: boolean] {
    const cutoff = now - this.limits.max_age;
    let lastId: number | undefined;
    let seen = 0;
    for (const row of this.oldestQueued.iterate(EXPIRE_CHUNK)) {
      if (row.enqueued_at >= cutoff) break;
      lastId = row.id;
      seen++;
    }
    if (lastId === undefined) return [0, false];
    const sizes = this.deleteQueuedUpTo.all(lastId);
    this.totals.add(-sizes.length, -sumSizes(sizes));
    return [sizes.length, seen === EXPIRE_CHUNK];
  }

  /**
   * drop-oldest: deletes queued rows until both bounds hold (or nothing queued is left). Best effort
   * goes first: the oldest QoS 0 rows (QoS -1 arrives as 0), then, only if that was not enough, the
   * oldest QoS 1/2 rows. So a QoS 0 row never evicts a QoS 1/2 row: when only QoS 1/2 rows could make
   * room, the new QoS 0 row itself is the one dropped. `ids` are the deleted rows (some may be new).
   */
  trim(): { dropped: Partial<Record<DropReason, number>>; ids: number[] } {
    const dropped: Partial<Record<DropReason, number>> = {};
    const ids: number[] = [];
    const rows = this.totals.rows;
    if (rows > this.limits.max_rows) {
      let excess = rows - this.limits.max_rows;
      for (const stmt of [this.deleteOldestQueuedQos0, this.deleteOldestQueued]) {
        if (excess <= 0) break;
        excess -= this.deleted(stmt.all(excess), ids);
      }
      dropped.max_rows = rows - this.limits.max_rows - Math.max(0, excess);
    }
    const excess = this.totals.bytes - this.limits.max_bytes;
    if (excess > 0) {
      const freed0 = this.dropBytes(this.oldestQueuedQos0, this.deleteQos0UpTo, excess, ids);
      const before = ids.length;
      if (freed0.freed < excess)
        this.dropBytes(this.oldestQueued, this.deleteQueuedUpToReturning, excess - freed0.freed, ids);
      dropped.max_bytes = freed0.count + (ids.length - before);
    }
    return { dropped, ids };
  }

  private dropBytes(
    scan: Statement<[number], { id: number; size: number }>,
    del: Statement<[number], Deleted>,
    excess: number,
    ids: number[],
  ): { freed: number; count: number } {
    let freed = 0;
    let lastId: number | undefined;
    for (const row of scan.iterate(Number.MAX_SAFE_INTEGER)) {
      freed += row.size;
      lastId = row.id;
      if (freed >= excess) break;
    }
    if (lastId === undefined) return { freed: 0, count: 0 };
    return { freed, count: this.deleted(del.all(lastId), ids) };
  }

  /** Counts deleted rows out of the totals and notes their ids; returns how many. */
  private deleted(rows: Deleted[], ids: number[]): number {
    let bytes = 0;
    for (const r of rows) {
      ids.push(r.id);
      bytes += r.size;
    }
    this.totals.add(-rows.length, -bytes);
    return rows.length;
  }
}
