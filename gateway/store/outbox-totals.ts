import type { Database, Statement } from 'better-sqlite3';

/**
 * The outbox's row and byte counts, exact at every commit without a trigger per row (schema v5):
 * each statement that adds or deletes outbox rows reports what it did (row count, payload bytes from
 * the bound Buffers or from RETURNING length(payload)), and the flush writes the sum once, in its
 * own transaction, to outbox_totals. So a commit of 20 rows costs one UPDATE instead of 20 (plus
 * 20 more for their deletes), the counts survive any crash with the rows they count, and a start
 * reads one row instead of scanning the backlog. The CLI's writes (retry, purge) keep the row right
 * in their own transactions; `load()` at the start of every flush picks them up.
 */
export class OutboxTotals {
  /** As committed (outbox_totals), read at the start of the flush. */
  private baseRows = 0;
  private baseBytes = 0;
  /** What this flush's statements did so far. */
  private deltaRows = 0;
  private deltaBytes = 0;
  private readonly read: Statement<[], { rows: number; bytes: number }>;
  private readonly write: Statement<[number, number]>;

  constructor(db: Database) {
    this.read = db.prepare('SELECT rows, bytes FROM outbox_totals WHERE one = 1');
    this.write = db.prepare('UPDATE outbox_totals SET rows = rows + ?, bytes = bytes + ? WHERE one = 1');
  }

  /** In the flush's transaction, first: the committed counts (another process may have changed them). */
  load(): void {
    const t = this.read.get()!;
    this.baseRows = t.rows;
    this.baseBytes = t.bytes;
    this.deltaRows = 0;
    this.deltaBytes = 0;
  }

  get rows(): number {
    return this.baseRows + this.deltaRows;
  }

  get bytes(): number {
    return this.baseBytes + this.deltaBytes;
  }

  /** A statement of the flush added (positive) or deleted (negative) rows. */
  add(rows: number, bytes: number): void {
    this.deltaRows += rows;
    this.deltaBytes += bytes;
  }

  /** In the flush's transaction, last: one UPDATE for everything the flush did. */
  persist(): void {
    if (this.deltaRows === 0 && this.deltaBytes === 0) return;
    this.write.run(this.deltaRows, this.deltaBytes);
    this.baseRows += this.deltaRows;
    this.baseBytes += this.deltaBytes;
    this.deltaRows = 0;
    this.deltaBytes = 0;
  }

  /** The transaction rolled back: nothing it did counts. */
  discard(): void {
    this.deltaRows = 0;
    this.deltaBytes = 0;
  }
}

/** Sum of a RETURNING length(payload) column (a statement in .pluck() mode). */
export function sumSizes(sizes: number[]): number {
  let bytes = 0;
  for (const s of sizes) bytes += s;
  return bytes;
}
