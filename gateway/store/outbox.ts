import type { Database, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import type { QoS } from '../../adapters/types.js';
import { DropLog } from './drop-log.js';
import type { SqliteKvState } from './kv-state.js';
import type { FlushHooks, GroupCommit } from './group-commit.js';
import { LimitEnforcer, type OutboxLimits } from './limits.js';
import { OutboxTotals, ROW_COST_SQL, rowCost, sumSizes } from './outbox-totals.js';
import { type EnqueueDone, InsertBatch, rowOf } from './insert-batch.js';
import {
  type DeliveryState,
  type DropReason,
  type KvEntry,
  type Outbox,
  OutboxFullError,
  type OutboxMessage,
  type OutboxRow,
  type OutboxStats,
  type SetAsideReason,
} from '../../contracts/store.js';
import { waitingNow } from '../../contracts/clock.js';

/** Largest multi-row INSERT: 11 parameters a row stays far below SQLite's variable limit. */
const BATCH_ROWS_MAX = 256;
/**
 * Batches up to this many rows get a statement of their exact size: one INSERT per flush instead of
 * one per power of two (20 rows as 16 + 4: ~1.7 us/row more in raw SQLite, ~0.3 us/row on the whole
 * store path, bench/store-micro.ts). At most 32 such statements are ever prepared (~0.75 MiB in
 * all); larger batches go in power-of-two chunks, then an exact remainder.
 */
const EXACT_ROWS_MAX = 32;

/** Options of the hot ops, built once (not an object per call: bytes per message). */
const SINGLE_STATEMENT = { atomic: false } as const;
/** The same for a reading whose ack may wait for the commit window. */
const WINDOWED_STATEMENT = { atomic: false, window: true } as const;
/** Lazy: a half-done complete only resends acknowledged rows, so it needs no savepoint either. */
const LAZY_DELETE = { lazy: true, atomic: false } as const;

/** Acknowledged rows waiting to be deleted that make their delete commit at once. */
const LAZY_IDS_MAX = 1024;

/** Most rows kept set aside; beyond it the oldest are deleted and counted ('set_aside_full'). */
export const MAX_SET_ASIDE_ROWS = 10_000;

interface DbRow {
  id: number;
  source: string;
  device: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  properties: string | null;
  received_at: number;
  state: string;
  packet_id: number | null;
  lane: number;
}

export function toOutboxRow(r: DbRow): OutboxRow {
  const row: OutboxRow = {
    id: r.id,
    source: r.source,
    device: r.device,
    topic: r.topic,
    payload: r.payload,
    qos: r.qos as QoS,
    retain: r.retain === 1,
    receivedAt: r.received_at,
    state: r.state as DeliveryState,
    packetId: r.packet_id,
  };
  if (r.properties !== null) row.properties = JSON.parse(r.properties) as Record<string, unknown>;
  if (r.lane !== 0) row.lane = r.lane;
  return row;
}

/** The durable outbox over SQLite; its writes go through the shared group commit. */
export class SqliteOutbox implements Outbox, FlushHooks {
  readonly added$ = new Subject<OutboxRow[]>();
  /** Lanes other than 0 that a commit added rows to (their readers read them back from the store). */
  readonly laneAdded$ = new Subject<number>();
  readonly dropped$ = new Subject<{ reason: DropReason; count: number; source?: string }>();
  private readonly limiter: LimitEnforcer;
  /** Rows and bytes, kept from what each statement did and written once per flush (no triggers). */
  private readonly totals: OutboxTotals;
  private readonly dropLog: DropLog;
  /** Drops and additions made by the flush in progress, reported once it commits. */
  private pendingDrops = new Map<DropReason, number>();
  /** reject_new refusals of the flush in progress, by the refused messages' source. */
  private pendingRefusals = new Map<string, number>();
  private addedInFlush: OutboxRow[] = [];
  /**
   * Single-message enqueues queued for the next flush, inserted there by ONE multi-row INSERT (one op,
   * one statement) instead of an op and a statement each. Closed when its op runs, or when an enqueue
   * that takes the per-op path comes in between (so insertion order stays arrival order).
   */
  private batch: InsertBatch | undefined;
  /**
   * Multi-row INSERTs by row count: 1..EXACT_ROWS_MAX, then powers of two up to BATCH_ROWS_MAX, each
   * with its parameter array, reused (filled for one statement run, then cleared: it never keeps a
   * message's payload, nor hands it to another) instead of one grown by push per flush.
   */
  private readonly insertMany = new Map<number, { stmt: Statement<unknown[], unknown>; params: unknown[] }>();
  /** insertRows in a SAVEPOINT (better-sqlite3 nests a transaction function that way). */
  private readonly savepoint: (batch: InsertBatch) => void;
  private moreToExpire = false;
  /** Ids of complete() calls waiting for a commit. */
  private lazyIds = 0;
  /** The store is closing: the last flush writes the totals back, marked clean (no count at next start). */
  closing = false;
  private expiredAt = 0;
  /** A tenth of max_age, at most a second: rows outlive max_age by at most that. */
  private readonly expireEvery: number;
  private readonly stmt: {
    insert: Statement<unknown[], unknown>;
    nextQueued: Statement<[number, number], DbRow>;
    nextInLane: Statement<[number, number, number], DbRow>;
    countInLane: Statement<[number], { n: number }>;
    inflight: Statement<[], DbRow>;
    markSent: Statement<[number, number]>;
    markReleased: Statement<[number]>;
    /** Deletes a run of consecutive ids; returns each deleted row's cost (for the totals). */
    deleteRange: Statement<[number, number], number>;
    requeue: Statement<[]>;
    oldest: Statement<[], { enqueued_at: number }>;
    inflightCount: Statement<[], { n: number }>;
    setAside: Statement<[SetAsideReason, number, number]>;
    deadCount: Statement<[], { n: number }>;
    deadTrim: Statement<[number]>;
  };

  constructor(
    private readonly db: Database,
    private readonly commit: GroupCommit,
    private readonly limits: OutboxLimits,
    private readonly kv: SqliteKvState,
    private readonly logger: Logger,
  ) {
    this.totals = new OutboxTotals(db);
    // A new store has nothing to count: the line is for a restart after a crash or a power cut.
    if (this.totals.open().counted && this.totals.rows > 0)
      logger.info({ rows: this.totals.rows }, 'outbox totals counted at start (the last stop was not clean)');
    this.savepoint = db.transaction((batch: InsertBatch) => this.insertRows(batch));
    this.limiter = new LimitEnforcer(db, limits, this.totals);
    this.expireEvery = Math.min(1000, limits.max_age / 10);
    this.dropLog = new DropLog(logger, 'outbox messages dropped');
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO outbox (id, source, device, topic, payload, qos, retain, properties, received_at, enqueued_at, lane)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // Lane 0 is the main connection's; other lanes have readers of their own (nextInLane).
      nextQueued: db.prepare(
        `SELECT * FROM outbox WHERE state = 'queued' AND lane = 0 AND id > ? ORDER BY id LIMIT ?`,
      ),
      // On the partial index of the lanes other than 0: never a scan of the main lane's rows.
      countInLane: db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE lane = ? AND lane <> 0'),
      nextInLane: db.prepare(
        `SELECT * FROM outbox WHERE lane = ? AND state = 'queued' AND id > ? ORDER BY id LIMIT ?`,
      ),
      inflight: db.prepare(`SELECT * FROM outbox WHERE state <> 'queued' ORDER BY id`),
      markSent: db.prepare(`UPDATE outbox SET state = 'sent', packet_id = ? WHERE id = ?`),
      markReleased: db.prepare(`UPDATE outbox SET state = 'released' WHERE id = ? AND state <> 'queued'`),
      deleteRange: db
        .prepare(`DELETE FROM outbox WHERE id BETWEEN ? AND ? RETURNING ${ROW_COST_SQL}`)
        .pluck() as Statement<[number, number], number>,
      requeue: db.prepare(`UPDATE outbox SET state = 'queued', packet_id = NULL WHERE state <> 'queued'`),
      oldest: db.prepare('SELECT enqueued_at FROM outbox ORDER BY id LIMIT 1'),
      inflightCount: db.prepare(`SELECT count(*) AS n FROM outbox WHERE state <> 'queued'`),
      setAside: db.prepare(
        `INSERT INTO outbox_dead (id, source, device, topic, payload, qos, retain, properties, received_at,
           enqueued_at, reason, set_aside_at)
         SELECT id, source, device, topic, payload, qos, retain, properties, received_at, enqueued_at, ?, ?
         FROM outbox WHERE id = ?`,
      ),
      deadCount: db.prepare('SELECT count(*) AS n FROM outbox_dead'),
      deadTrim: db.prepare(
        'DELETE FROM outbox_dead WHERE id IN (SELECT id FROM outbox_dead ORDER BY id LIMIT ?)',
      ),
    };
  }

  enqueue(messages: OutboxMessage[], opts: { remember?: KvEntry } = {}): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) =>
      this.enqueueThen(messages, opts, (err, ids) => (ids ? resolve(ids) : reject(err))),
    );
  }

  enqueueThen(
    messages: OutboxMessage[],
    opts: { remember?: KvEntry; wait?: boolean } | undefined,
    done: EnqueueDone,
  ): void {
    const wait = opts?.wait === true;
    // reject-new checks room per enqueue and `remember` needs a savepoint with its row: per-op path.
    if (messages.length === 1 && opts?.remember === undefined && this.limits.overflow === 'drop-oldest') {
      this.enqueueBatched(messages[0]!, wait, done);
      return;
    }
    this.batch = undefined;
    const remember = opts?.remember;
    const answered = wait ? this.answered(done) : done;
    this.commit
      .submit(
        () => {
          if (this.limits.overflow === 'reject-new') this.refuseIfFull(messages);
          const now = waitingNow();
          let bytes = 0;
          let id = this.totals.takeIds(messages.length);
          const rows = messages.map((m): OutboxRow => {
            const properties = m.properties === undefined ? null : JSON.stringify(m.properties);
            bytes += rowCost(m, properties);
            this.stmt.insert.run(
              id,
              m.source,
              m.device,
              m.topic,
              m.payload,
              m.qos,
              m.retain ? 1 : 0,
              properties,
              m.receivedAt,
              now,
              m.lane ?? 0,
            );
            return rowOf(m, id++);
          });
          if (remember) this.kv.putInFlush(remember);
          // Only once every statement of the op succeeded: a failed op's rows are rolled back.
          this.totals.add(rows.length, bytes);
          for (const row of rows) this.addedInFlush.push(row);
          return rows.map((r) => r.id);
        },
        { atomic: messages.length > 1 || remember !== undefined, window: wait },
      )
      .then(
        (ids) => call(answered, undefined, ids, this.logger),
        (err: unknown) => call(answered, err, undefined, this.logger),
      );
    if (wait) this.commit.noteWaiting(1);
  }

  /** `done`, which also tells the group commit that one waiting reading was answered. */
  private answered(done: EnqueueDone): EnqueueDone {
    return (err, ids) => {
      this.commit.noteWaiting(-1);
      done(err, ids);
    };
  }

  /** No promise per message: the batch's one op settles every entry in arrival order. */
  private enqueueBatched(message: OutboxMessage, wait: boolean, done: EnqueueDone): void {
    let properties: string | null = null;
    try {
      if (message.properties !== undefined) properties = JSON.stringify(message.properties);
    } catch (err) {
      // Refuses this message alone, never synchronously (callers expect their callback later).
      queueMicrotask(() => call(done, err, undefined, this.logger));
      return;
    }
    if (this.batch) {
      this.batch.add(message, properties, done);
      // A reading that does not wait (QoS 0/-1) asks for the commit now, the batch with it.
      if (wait) {
        this.batch.waits++;
        this.commit.noteWaiting(1);
      } else this.commit.schedule();
      return;
    }
    const batch = new InsertBatch();
    batch.add(message, properties, done);
    if (wait) batch.waits++;
    this.batch = batch;
    this.commit
      .submit(() => this.insertBatch(batch), wait ? WINDOWED_STATEMENT : SINGLE_STATEMENT)
      .then(
        () => {
          if (batch.waits > 0) this.commit.noteWaiting(-batch.waits);
          const { dones, firstId } = batch;
          for (let i = 0; i < dones.length; i++) call(dones[i]!, undefined, [firstId + i], this.logger);
        },
        // The statement or the whole commit failed: no row of the batch was kept.
        (err: unknown) => {
          if (this.batch === batch) this.batch = undefined; // e.g. the store closed before the flush
          if (batch.waits > 0) this.commit.noteWaiting(-batch.waits);
          for (const d of batch.dones) call(d, err, undefined, this.logger);
        },
      );
    if (wait) this.commit.noteWaiting(1);
  }

  /**
   * Runs in the flush: the batch's rows in arrival order, ids consecutive (taken from the totals).
   * All or nothing, like the one statement of a small batch: a batch of several statements runs in a
   * savepoint, so a later chunk's failure cannot leave earlier rows stored behind rejected callers.
   */
  private insertBatch(batch: InsertBatch): void {
    if (this.batch === batch) this.batch = undefined;
    batch.firstId = this.totals.takeIds(batch.length);
    if (batch.length > EXACT_ROWS_MAX) this.savepoint(batch);
    else this.insertRows(batch);
    const { messages, firstId } = batch;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      bytes += rowCost(m, batch.properties(i));
      this.addedInFlush.push(rowOf(m, firstId + i));
    }
    this.totals.add(messages.length, bytes);
    batch.inserted();
  }

  /** Inserts the batch's rows with ids batch.firstId, firstId + 1, ... (all or nothing: see insertBatch). */
  private insertRows(batch: InsertBatch): void {
    const now = waitingNow();
    const { messages } = batch;
    let id = batch.firstId;
    for (let at = 0; at < messages.length; ) {
      const left = messages.length - at;
      let n = left;
      if (left > EXACT_ROWS_MAX) {
        n = BATCH_ROWS_MAX;
        while (n > left) n >>= 1;
      }
      const { stmt, params } = this.insertStmt(n);
      let p = 0;
      for (let i = at; i < at + n; i++) {
        const m = messages[i]!;
        params[p++] = id++;
        params[p++] = m.source;
        params[p++] = m.device;
        params[p++] = m.topic;
        params[p++] = m.payload;
        params[p++] = m.qos;
        params[p++] = m.retain ? 1 : 0;
        params[p++] = batch.properties(i);
        params[p++] = m.receivedAt;
        params[p++] = now;
        params[p++] = m.lane ?? 0;
      }
      try {
        stmt.run(params);
      } finally {
        params.fill(null);
      }
      at += n;
    }
  }

  private insertStmt(n: number): { stmt: Statement<unknown[], unknown>; params: unknown[] } {
    let insert = this.insertMany.get(n);
    if (!insert) {
      const stmt = this.db.prepare(
        `INSERT INTO outbox (id, source, device, topic, payload, qos, retain, properties, received_at, enqueued_at, lane)
         VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      );
      insert = { stmt, params: new Array<unknown>(n * 11).fill(null) };
      this.insertMany.set(n, insert);
    }
    return insert;
  }

  /** reject-new: expire aged rows first (they may free the room), then refuse what does not fit. */
  private refuseIfFull(messages: OutboxMessage[]): void {
    const bytes = messages.reduce(
      (sum, m) => sum + rowCost(m, m.properties === undefined ? null : JSON.stringify(m.properties)),
      0,
    );
    if (!this.limiter.wouldOverflow(messages.length, bytes)) return;
    this.expire(waitingNow());
    if (!this.limiter.wouldOverflow(messages.length, bytes)) return;
    for (const m of messages)
      this.pendingRefusals.set(m.source, (this.pendingRefusals.get(m.source) ?? 0) + 1);
    throw new OutboxFullError(`outbox full: ${messages.length} message(s) refused`);
  }

  nextQueued(afterId: number, limit: number): OutboxRow[] {
    return this.stmt.nextQueued.all(afterId, limit).map(toOutboxRow);
  }

  scannedTo(): number {
    return this.totals.lastId;
  }

  countInLane(lane: number): number {
    return this.stmt.countInLane.get(lane)!.n;
  }

  nextInLane(lane: number, afterId: number, limit: number): OutboxRow[] {
    return this.stmt.nextInLane.all(lane, afterId, limit).map(toOutboxRow);
  }

  inflight(): OutboxRow[] {
    return this.stmt.inflight.all().map(toOutboxRow);
  }

  markSent(assignments: { id: number; packetId: number }[]): Promise<void> {
    return this.commit.submit(
      () => {
        for (const a of assignments) this.stmt.markSent.run(a.packetId, a.id);
      },
      { atomic: assignments.length > 1 },
    );
  }

  markReleased(id: number): Promise<void> {
    return this.commit.submit(() => {
      this.stmt.markReleased.run(id);
    });
  }

  /**
   * Lazy: losing this delete in a crash only resends the row (QoS 1 allows a duplicate; a QoS 2 row
   * is still 'released', so only its PUBREL is resent). It rides with the next commit.
   */
  complete(ids: number[]): Promise<void> {
    // A drain acks thousands a second: deleting them a couple of seconds' worth at a time made one
    // large transaction (measured: peak RSS +10-15 MiB). Past this many they commit now (no fsync).
    this.lazyIds += ids.length;
    const p = this.commit.submit(() => {
      this.lazyIds = 0;
      // One DELETE per run of consecutive ids: the sender completes a tick's acks at once, and
      // acks mostly come back in id order. Each statement counts itself (the op is not atomic).
      for (let at = 0; at < ids.length; ) {
        const first = ids[at]!;
        let last = first;
        while (++at < ids.length && ids[at] === last + 1) last++;
        this.deleted(this.stmt.deleteRange.all(first, last));
      }
    }, LAZY_DELETE);
    if (this.lazyIds >= LAZY_IDS_MAX) this.commit.flushLazy();
    return p;
  }

  flushCompletions(): void {
    this.commit.flushLazy();
  }

  private deleted(sizes: number[]): void {
    if (sizes.length > 0) this.totals.add(-sizes.length, -sumSizes(sizes));
  }

  requeueInflight(): Promise<void> {
    return this.commit.submit(() => {
      this.stmt.requeue.run();
    });
  }

  setAside(id: number, reason: SetAsideReason): Promise<boolean> {
    return this.commit.submit(() => {
      if (this.stmt.setAside.run(reason, waitingNow(), id).changes === 0) return false;
      const sizes = this.stmt.deleteRange.all(id, id);
      const over = this.stmt.deadCount.get()!.n - MAX_SET_ASIDE_ROWS;
      if (over > 0) this.countDrop('set_aside_full', this.stmt.deadTrim.run(over).changes);
      this.deleted(sizes); // last: a throw above rolls the op's savepoint back, delete included
      return true;
    });
  }

  setAsideCount(): number {
    return this.stmt.deadCount.get()!.n;
  }

  stats(): OutboxStats {
    this.totals.refresh(); // what the CLI changed since the last flush (a read)
    return {
      rows: this.totals.rows,
      bytes: this.totals.bytes,
      oldestAt: this.stmt.oldest.get()?.enqueued_at ?? null,
      inflight: this.stmt.inflightCount.get()!.n,
    };
  }

  /**
   * Age expiry, at most every `expireEvery` ms (a query per flush cost as much as a message's insert)
   * and right away while a big backlog is being expired chunk by chunk.
   */
  begin(): void {
    this.totals.load();
    const now = waitingNow();
    if (this.moreToExpire || now - this.expiredAt >= this.expireEvery) this.expire(now);
  }

  private expire(now: number): void {
    const [count, more] = this.limiter.expire(now);
    this.countDrop('max_age', count);
    this.moreToExpire = more;
    this.expiredAt = now;
  }

  end(): void {
    if (this.limits.overflow === 'drop-oldest') this.trim();
    this.totals.persist();
    if (this.closing) this.totals.close();
  }

  private trim(): void {
    // Within the limits (nearly every flush): no drop records to build.
    if (this.totals.rows <= this.limits.max_rows && this.totals.bytes <= this.limits.max_bytes) return;
    const { dropped, ids } = this.limiter.trim();
    for (const [reason, count] of Object.entries(dropped)) this.countDrop(reason as DropReason, count);
    // A row of this flush that was dropped at once (a QoS 0 row with no QoS 0 row older to make room)
    // must not be announced to the sender.
    if (ids.length > 0 && this.addedInFlush.length > 0) {
      const gone = new Set(ids);
      this.addedInFlush = this.addedInFlush.filter((r) => !gone.has(r.id));
    }
  }

  committed(): void {
    this.reportDrops();
    let added = this.addedInFlush;
    this.addedInFlush = [];
    if (added.length > 0 && added.some((r) => r.lane !== undefined)) {
      // Rows of another lane are not the main sender's: their reader is told, and reads them back.
      const lanes = new Set<number>();
      for (const r of added) if (r.lane !== undefined) lanes.add(r.lane);
      added = added.filter((r) => r.lane === undefined);
      for (const lane of lanes) this.laneAdded$.next(lane);
    }
    if (added.length > 0) this.added$.next(added);
    if (this.moreToExpire) this.commit.schedule();
  }

  /** The transaction rolled back: only refusals happened (their enqueues were rejected). */
  failed(): void {
    this.totals.discard();
    this.pendingDrops.clear();
    this.reportDrops();
    this.addedInFlush = [];
  }

  close(): void {
    this.dropLog.flush();
    this.added$.complete();
    this.laneAdded$.complete();
    this.dropped$.complete();
  }

  private countDrop(reason: DropReason, count: number): void {
    if (count > 0) this.pendingDrops.set(reason, (this.pendingDrops.get(reason) ?? 0) + count);
  }

  private reportDrops(): void {
    if (this.pendingDrops.size === 0 && this.pendingRefusals.size === 0) return; // no iterators per flush
    for (const [reason, count] of this.pendingDrops) {
      this.dropLog.add(reason, count);
      this.dropped$.next({ reason, count });
    }
    this.pendingDrops.clear();
    for (const [source, count] of this.pendingRefusals) {
      this.dropLog.add('reject_new', count);
      this.dropped$.next({ reason: 'reject_new', count, source });
    }
    this.pendingRefusals.clear();
  }
}

/** A caller's callback that throws must not keep the others of its batch from hearing. */
function call(done: EnqueueDone, err: unknown, ids: number[] | undefined, logger: Logger): void {
  try {
    done(err, ids);
  } catch (thrown) {
    logger.error({ err: thrown }, 'outbox enqueue callback threw');
  }
}
