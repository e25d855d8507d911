import type { Database, Statement } from 'better-sqlite3';

/**
 * What a row costs beyond its text and blob columns: the record header, the integer columns, the
 * cell pointer and rowid, and the page space a B-tree leaves free, measured on 4 KiB pages (about 60
 * bytes for a short row). max_bytes bounds the file, not the payloads: a device sending 1-byte
 * payloads on a 4 KB topic fills the disk as fast as one sending 4 KB payloads.
 */
export const ROW_OVERHEAD = 64;

/** A row's cost in SQL, the same sum as rowCost(): every variable column's bytes plus the overhead. */
export const ROW_COST_SQL = `(octet_length(payload) + octet_length(topic) + octet_length(device) + octet_length(source) + coalesce(octet_length(properties), 0) + ${ROW_OVERHEAD})`;

/** The same cost for a row about to be inserted (`properties`: its JSON, or null). */
export function rowCost(
  m: { source: string; device: string; topic: string; payload: Buffer },
  properties: string | null,
): number {
  return (
    m.payload.length +
    Buffer.byteLength(m.topic) +
    Buffer.byteLength(m.device) +
    Buffer.byteLength(m.source) +
    (properties === null ? 0 : Buffer.byteLength(properties)) +
    ROW_OVERHEAD
  );
}

/** Ids reserved per write of the ceiling: one small write per this many rows inserted. */
export const ID_BLOCK = 65_536;

interface TotalsRow {
  rows: number;
  bytes: number;
  clean: number;
  id_ceiling: number;
}

/**
 * The outbox's row count, byte cost and next id, kept in memory: a hot commit writes no totals row
 * and no sqlite_sequence page, only the outbox's own pages.
 *
 * - Counts: counted at start (or taken from outbox_totals after a clean stop), then kept from what
 *   each statement did. The CLI (retry, purge) adds its changes to outbox_totals' rows and bytes; a
 *   flush reads that row (a read, no write) and applies any difference it sees.
 * - Ids: strictly increasing, never reused, also across restarts. SQLite alone would hand out
 *   max(id) + 1, reusing the id of a deleted last row: the upstream sender's cursor ("rows after
 *   id N") would then skip the new row. So the store assigns ids, below a ceiling reserved in
 *   outbox_totals ID_BLOCK at a time (one write per ID_BLOCK rows) and raised by the CLI's retry,
 *   which takes its ids above it. A restart continues above the ceiling. So no row ever gets the id
 *   of another, live or gone: a QoS 2 row's packet id and PUBREL state (kept in the row) and every
 *   id the sender holds (cursor, window, completions) always mean that one row.
 */
export class OutboxTotals {
  private rowsNow = 0;
  private bytesNow = 0;
  /** What this flush's statements did so far (dropped if it rolls back). */
  private deltaRows = 0;
  private deltaBytes = 0;
  private nextIdNow = 1;
  /** The id ceiling as this flush may have raised it, and as committed. */
  private ceiling = 0;
  private committedCeiling = 0;
  /** outbox_totals' counts as last read or written by us: a difference was made by the CLI. */
  private seen = { rows: 0, bytes: 0 };
  private readonly read: Statement<[], TotalsRow>;
  private readonly count: Statement<[], { rows: number; bytes: number }>;
  private readonly maxId: Statement<[], { id: number }>;
  private readonly writeAll: Statement<[number, number, number, number]>;
  private readonly writeCeiling: Statement<[number]>;

  constructor(private readonly db: Database) {
    this.read = db.prepare('SELECT rows, bytes, clean, id_ceiling FROM outbox_totals WHERE one = 1');
    this.count = db.prepare(
      `SELECT count(*) AS rows, coalesce(sum(${ROW_COST_SQL}), 0) AS bytes FROM outbox`,
    );
    this.maxId = db.prepare(
      `SELECT max(coalesce((SELECT max(id) FROM outbox), 0), coalesce((SELECT max(id) FROM outbox_dead), 0)) AS id`,
    );
    this.writeAll = db.prepare(
      'UPDATE outbox_totals SET rows = ?, bytes = ?, clean = ?, id_ceiling = ? WHERE one = 1',
    );
    this.writeCeiling = db.prepare('UPDATE outbox_totals SET id_ceiling = ? WHERE one = 1');
  }

  /**
   * At start, once: take the counts from a clean stop or count them (after a crash: one pass over
   * the table), and mark the row in use (clean = 0) until close() writes it back.
   */
  open(): { counted: boolean } {
    return this.db
      .transaction(() => {
        const t = this.read.get()!;
        const counted = t.clean !== 1;
        const { rows, bytes } = counted ? this.count.get()! : t;
        this.rowsNow = rows;
        this.bytesNow = bytes;
        this.nextIdNow = Math.max(t.id_ceiling, this.maxId.get()!.id) + 1;
        this.ceiling = this.nextIdNow - 1 + ID_BLOCK;
        this.committedCeiling = this.ceiling;
        this.seen = { rows, bytes };
        this.writeAll.run(rows, bytes, 0, this.ceiling);
        return { counted };
      })
      .immediate();
  }

  /** In the flush's transaction, first: apply what another process (the CLI) changed since. */
  load(): void {
    this.deltaRows = 0;
    this.deltaBytes = 0;
    this.refresh();
  }

  /** Applies what another process (the CLI) wrote to outbox_totals since we last looked (a read). */
  refresh(): void {
    const t = this.read.get()!;
    const s = this.seen;
    if (t.rows !== s.rows || t.bytes !== s.bytes) {
      this.rowsNow += t.rows - s.rows;
      this.bytesNow += t.bytes - s.bytes;
      this.seen = { rows: t.rows, bytes: t.bytes };
    }
    if (t.id_ceiling !== this.committedCeiling) {
      // The CLI's retry took ids above our ceiling: continue above its.
      this.nextIdNow = Math.max(this.nextIdNow, t.id_ceiling + 1);
      this.ceiling = this.committedCeiling = t.id_ceiling;
    }
  }

  get rows(): number {
    return this.rowsNow + this.deltaRows;
  }

  get bytes(): number {
    return this.bytesNow + this.deltaBytes;
  }

  /**
   * In a flush: the first of `n` consecutive ids for rows about to be inserted. Raises the stored
   * ceiling (in this transaction) when they would pass it. A flush rolled back leaves a gap: its ids
   * are never handed out again (discard()), which readers rely on (`lastId`).
   */
  takeIds(n: number): number {
    const first = this.nextIdNow;
    const last = first + n - 1;
    if (last > this.ceiling) {
      this.ceiling = last + ID_BLOCK;
      this.writeCeiling.run(this.ceiling);
    }
    this.nextIdNow = last + 1;
    return first;
  }

  /** The highest id handed out so far (ids only grow: a rolled-back flush's are not handed out again). */
  get lastId(): number {
    return this.nextIdNow - 1;
  }

  /** A statement of the flush added (positive) or deleted (negative) rows. */
  add(rows: number, bytes: number): void {
    this.deltaRows += rows;
    this.deltaBytes += bytes;
  }

  /** In the flush's transaction, last: the flush's changes count from now on (nothing written). */
  persist(): void {
    this.committedCeiling = this.ceiling;
    this.rowsNow += this.deltaRows;
    this.bytesNow += this.deltaBytes;
    this.deltaRows = 0;
    this.deltaBytes = 0;
  }

  /**
   * The transaction rolled back: nothing it did counts. Ids taken stay taken (never handed out
   * twice); a ceiling write rolled back is redone by the next takeIds that passes it.
   */
  discard(): void {
    this.deltaRows = 0;
    this.deltaBytes = 0;
    this.ceiling = this.committedCeiling;
  }

  /** In the last flush before close: the exact counts, marked clean, so the next start needs no count. */
  close(): void {
    this.writeAll.run(this.rows, this.bytes, 1, this.ceiling);
  }
}

/** Sum of a RETURNING cost column (a statement in .pluck() mode). */
export function sumSizes(sizes: number[]): number {
  let bytes = 0;
  for (const s of sizes) bytes += s;
  return bytes;
}
