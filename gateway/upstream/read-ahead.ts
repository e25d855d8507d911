import type { Outbox, OutboxRow } from '../../contracts/store.js';
import { pastFullQos2Window } from './qos2-pass.js';

/**
 * Queued rows read ahead in one query. Acks free a few window slots at a time; one SELECT per
 * refill cost more than the rest of a message's path. A row dropped by the limits while read
 * ahead may still be published (it was counted as dropped): never a loss.
 */
export const READ_AHEAD = 256;
/** Most rows held in memory ahead of the window; beyond that new rows are left to be read back. */
const MAX_AHEAD = 4 * READ_AHEAD;
/**
 * While the QoS 2 window is full, how often the rows behind it are scanned for other devices' rows
 * that may go past (pastFullQos2Window). Once per pump, that scan of up to MAX_AHEAD rows cost more
 * than the rest of the sender when every device sends QoS 2 (a busy, not a stuck, window).
 */
const PASS_SCAN_MS = 50;

/**
 * The outbox rows the sender has read but not yet sent, in id order, and the cursor it reads on
 * from. Kept across connections (the sender resets it on attach). Plain fields and methods, no
 * closures: the sender calls it once or twice per pump.
 */
export class ReadAhead {
  /** The last id read. */
  private cursor = 0;
  /** Rows read ahead of the window, in id order. */
  private rows: OutboxRow[] = [];
  /**
   * `rows` holds every queued row after `cursor`: the last read found no more. Rows committed
   * since then are appended as the store announces them (offer), with no query to read them back.
   */
  private tail = false;
  /** Rows in `rows` that wait behind a full QoS 2 window (pastFullQos2Window). */
  private held = 0;
  /** When the last pass-scan ran (performance.now()). */
  private scanAt = Number.NEGATIVE_INFINITY;
  /**
   * Set by take(): ms until the next pass-scan is due while the QoS 2 window stays full, or -1.
   * The sender arms a timer with it so the scan comes even if no ack does.
   */
  scanInMs = -1;

  constructor(private readonly outbox: Outbox) {}

  /** A fresh start after a (re)connect: `rows` are the queued rows up to `cursor`. */
  reset(cursor: number, rows: OutboxRow[]): void {
    this.cursor = cursor;
    this.rows = rows;
    this.held = 0;
    this.tail = false;
  }

  /** Rows just committed to the outbox, in id order: kept if they follow what is held. */
  offer(rows: readonly OutboxRow[]): void {
    if (!this.tail) return;
    if (this.rows.length + rows.length > MAX_AHEAD) this.tail = false;
    else {
      for (const row of rows) if (row.id > this.cursor) this.rows.push(row);
      this.cursor = Math.max(this.cursor, rows[rows.length - 1]?.id ?? 0);
    }
  }

  /** Refused rows due again: they go first, in id order with what was read ahead. */
  requeue(due: readonly OutboxRow[]): void {
    this.rows = [...due, ...this.rows].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.rows.length;
  }

  /** True when the sender has caught up: nothing read ahead and nothing more found. */
  get caughtUp(): boolean {
    return this.tail && this.rows.length === 0;
  }

  /**
   * The next fill() asks the store again: rows another process put back (`queue retry`), or the
   * ones a new connection must find, are not announced by offer().
   */
  reread(): void {
    this.tail = false;
  }

  /** Reads on from the store when fewer than `free` rows are ready to go. */
  fill(free: number): void {
    // Rows held behind a full QoS 2 window do not count: read on for other devices' rows.
    const have = this.rows.length - this.held;
    if (have < free && !this.tail && this.rows.length < MAX_AHEAD) {
      const want = Math.min(Math.max(free, READ_AHEAD) - have, MAX_AHEAD - this.rows.length);
      const end = this.outbox.scannedTo?.(); // before the query: rows committed later are above it
      const more = this.outbox.nextQueued(this.cursor, want);
      if (more.length > 0) this.cursor = more[more.length - 1]!.id;
      this.tail = more.length < want;
      // Every queued lane-0 row up to `end` was found: go on from there, not over other lanes'
      // rows (Sparkplug's, waiting for their host) again on every rescan.
      if (this.tail && end !== undefined && end > this.cursor) this.cursor = end;
      this.rows = this.rows.length ? this.rows.concat(more) : more;
    }
  }

  /**
   * Up to `free` rows to send now, in id order. A QoS 2 row while the QoS 2 window is full waits
   * (`q2Open` false: the broker takes no QoS 2, the row goes as QoS 1 and needs no slot).
   */
  take(free: number, q2Open: boolean, q2InFlight: number, q2Max: number): OutboxRow[] {
    const ahead = this.rows;
    let n = 0;
    for (let q2 = q2InFlight; n < free && n < ahead.length; n++) {
      if (ahead[n]!.qos !== 2 || !q2Open) continue;
      if (q2 >= q2Max) break;
      q2++;
    }
    this.scanInMs = -1;
    const full = n < free && n < ahead.length;
    const sinceScan = full ? performance.now() - this.scanAt : 0;
    if (full && sinceScan >= PASS_SCAN_MS) {
      // The QoS 2 window is full at ahead[n]: other devices' rows go past it.
      this.scanAt = performance.now();
      const { out, kept } = pastFullQos2Window(ahead, n, free);
      this.rows = kept;
      this.held = kept.length;
      return out;
    }
    // Between scans only the rows before the full window go; the sender's timer makes sure the
    // next scan comes even if no ack does (a broker that never answers a QoS 2 row).
    if (full) this.scanInMs = PASS_SCAN_MS - sinceScan;
    this.held = 0;
    const rows = ahead.length <= n ? ahead : ahead.slice(0, n);
    this.rows = ahead.length <= n ? [] : ahead.slice(n);
    return rows;
  }
}
