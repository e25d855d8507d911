import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { StoreClosedError } from './types.js';

/** What the owner of the flush does around the queued ops, inside and after the transaction. */
export interface FlushHooks {
  /** In the transaction, before the ops (e.g. age expiry, so reject-new sees the space it frees). */
  begin?(): void;
  /** In the transaction, after the ops (e.g. trimming to the limits). */
  end?(): void;
  /** After COMMIT. */
  committed?(): void;
  /** After the whole transaction failed and rolled back. */
  failed?(): void;
}

/** Longest a lazy op waits for a flush when nothing else asks for one. */
const LAZY_MS = 10;

interface PendingOp {
  run: () => unknown;
  resolve: (value: never) => void;
  reject: (err: unknown) => void;
}

interface OpResult {
  op: PendingOp;
  ok: boolean;
  value: unknown;
}

/** A committed flush whose ops wait for the WAL fsync that makes it durable. */
interface Unsynced {
  results: OpResult[];
  started: number;
}

/**
 * Queues write ops and runs every op queued in one event-loop turn in ONE transaction (flushed from
 * setImmediate). Each op runs in its own savepoint, so one failing op rejects alone; each promise
 * settles only after COMMIT.
 */
export class GroupCommit {
  readonly commits$ = new Subject<{ ms: number; ops: number }>();
  private queue: PendingOp[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  /** Flush for lazy ops when no eager op comes first. */
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private hooks: FlushHooks = {};
  private readonly flushTx: (ops: PendingOp[], results: OpResult[]) => void;
  /** power-loss: the WAL file to fdatasync after commits (SQLite runs with synchronous=NORMAL). */
  private walFd: number | undefined;
  private unsynced: Unsynced[] = [];
  /** The flushes the fdatasync in flight covers (null: none in flight). */
  private syncingBatch: Unsynced[] | null = null;

  /**
   * `syncWal`: the -wal path to make commits durable against power loss. SQLite's own
   * synchronous=FULL would fsync inside COMMIT, blocking the event loop for every commit; instead
   * the commit runs with synchronous=NORMAL and the WAL is fdatasync'd on libuv's thread pool, so
   * the gateway keeps receiving (and committing the next batch) while the disk flushes. Each op
   * still resolves only after an fsync that began after its commit. Checkpoints stay safe: with
   * NORMAL, SQLite syncs the WAL before a checkpoint and the database after it.
   */
  constructor(
    db: Database,
    private readonly logger: Logger,
    private readonly syncWal?: string,
  ) {
    const savepoint = db.transaction((run: () => unknown) => run());
    this.flushTx = db.transaction((ops: PendingOp[], results: OpResult[]) => {
      this.hooks.begin?.();
      for (const op of ops) {
        try {
          results.push({ op, ok: true, value: savepoint(op.run) });
        } catch (err) {
          results.push({ op, ok: false, value: err });
        }
      }
      this.hooks.end?.();
    }).immediate;
  }

  /** The one owner of the flush-time work (the outbox). */
  setHooks(hooks: FlushHooks): void {
    this.hooks = hooks;
  }

  /**
   * Queue `run` (synchronous SQLite work) for the next flush; resolves with its result after COMMIT.
   * lazy: the op does not ask for a flush of its own; it rides with the next one, or one LAZY_MS
   * later. For writes whose loss in a crash is harmless (deleting acknowledged rows): under load
   * they cost no extra commit (each commit is an fsync with durability power-loss).
   */
  submit<T>(run: () => T, lazy = false): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: never) => void, reject });
      if (!lazy) this.schedule();
      else if (!this.scheduled) this.lazyTimer ??= setTimeout(() => this.flush(), LAZY_MS);
    });
  }

  /** Ask for a flush even with no ops queued (runs the hooks: periodic expiry). */
  schedule(): void {
    if (this.closed || this.scheduled) return;
    this.scheduled = setImmediate(() => this.flush());
  }

  /** Runs everything queued now, synchronously. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    const ops = this.queue;
    this.queue = [];
    const started = performance.now();
    const results: OpResult[] = [];
    try {
      this.flushTx(ops, results);
    } catch (err) {
      this.logger.error({ err, ops: ops.length }, 'store commit failed: its writes were rolled back');
      this.hooks.failed?.();
      // An op that had already failed keeps its own error (e.g. OutboxFullError).
      const ownErrors = new Map(results.filter((r) => !r.ok).map((r) => [r.op, r.value]));
      for (const op of ops) op.reject(ownErrors.has(op) ? ownErrors.get(op) : err);
      return;
    }
    this.hooks.committed?.();
    if (this.syncWal === undefined || ops.length === 0) {
      if (ops.length > 0) this.commits$.next({ ms: performance.now() - started, ops: ops.length });
      settle(results);
      return;
    }
    this.unsynced.push({ results, started });
    this.sync();
  }

  /** One fdatasync at a time; commits made meanwhile share the next one. */
  private sync(): void {
    if (this.syncingBatch || this.unsynced.length === 0) return;
    this.walFd ??= openSync(this.syncWal!, 'r');
    const batch = this.unsynced;
    this.unsynced = [];
    this.syncingBatch = batch;
    fdatasync(this.walFd, (err) => {
      this.syncingBatch = null;
      if (err) this.logger.error({ err }, 'store fsync failed: these writes may not survive a power cut');
      for (const { results, started } of batch) {
        if (err) for (const r of results) r.op.reject(err);
        else {
          this.commits$.next({ ms: performance.now() - started, ops: results.length });
          settle(results);
        }
      }
      if (!this.closed) this.sync();
    });
  }

  /** Flushes what is queued; later submits reject with StoreClosedError. */
  close(): void {
    this.flush();
    this.closed = true;
    if (this.walFd !== undefined) {
      // Make everything committed durable now; ops of an fsync still in flight resolve here too.
      fdatasyncSync(this.walFd);
      for (const { results } of [...(this.syncingBatch ?? []), ...this.unsynced]) settle(results);
      this.unsynced = [];
      closeSync(this.walFd);
      this.walFd = undefined;
    }
    this.commits$.complete();
  }
}

function settle(results: OpResult[]): void {
  for (const { op, ok, value } of results) (ok ? op.resolve : op.reject)(value as never);
}
