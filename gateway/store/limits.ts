import type { Database, Statement } from 'better-sqlite3';
import type { StoreConfig } from './config.js';
import type { DropReason } from '../../contracts/store.js';

export type OutboxLimits = Pick<StoreConfig, 'max_rows' | 'max_bytes' | 'max_age' | 'overflow'>;

/** Expired rows deleted per flush: a week-old backlog is removed over several flushes, not one long one. */
const EXPIRE_CHUNK = 5000;

/**
 * Enforces the outbox bounds with SQL run inside the group-commit transaction. Only 'queued' rows
 * are ever dropped: a row in flight holds a packet id the broker may already know.
 */
export class LimitEnforcer {
  private readonly totals: Statement<[], { rows: number; bytes: number }>;
  private readonly oldestQueued: Statement<[number], { id: number; size: number; enqueued_at: number }>;
  private readonly deleteQueuedUpTo: Statement<[number]>;
  private readonly deleteOldestQueued: Statement<[number]>;

  constructor(
    db: Database,
    private readonly limits: OutboxLimits,
  ) {
    this.totals = db.prepare('SELECT rows, bytes FROM outbox_totals');
    this.oldestQueued = db.prepare(
      `SELECT id, length(payload) AS size, enqueued_at FROM outbox WHERE state = 'queued' ORDER BY id LIMIT ?`,
    );
    this.deleteQueuedUpTo = db.prepare(`DELETE FROM outbox WHERE state = 'queued' AND id <= ?`);
    this.deleteOldestQueued = db.prepare(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' ORDER BY id LIMIT ?)`,
    );
  }

  /** reject-new: would adding `rows` rows of `bytes` bytes exceed a bound? */
  wouldOverflow(rows: number, bytes: number): boolean {
    const t = this.totals.get()!;
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
    return [this.deleteQueuedUpTo.run(lastId).changes, seen === EXPIRE_CHUNK];
  }

  /** drop-oldest: deletes the oldest queued rows until both bounds hold (or nothing queued is left). */
  trim(): Partial<Record<DropReason, number>> {
    const dropped: Partial<Record<DropReason, number>> = {};
    const t = this.totals.get()!;
    if (t.rows > this.limits.max_rows) {
      dropped.max_rows = this.deleteOldestQueued.run(t.rows - this.limits.max_rows).changes;
    }
    const excess = this.totals.get()!.bytes - this.limits.max_bytes;
    if (excess > 0) dropped.max_bytes = this.dropBytes(excess);
    return dropped;
  }

  private dropBytes(excess: number): number {
    let freed = 0;
    let lastId: number | undefined;
    for (const row of this.oldestQueued.iterate(Number.MAX_SAFE_INTEGER)) {
      freed += row.size;
      lastId = row.id;
      if (freed >= excess) break;
    }
    return lastId === undefined ? 0 : this.deleteQueuedUpTo.run(lastId).changes;
  }
}
