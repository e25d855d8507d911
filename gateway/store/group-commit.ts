import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import type { Database, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { waitingNow } from '../../contracts/clock.js';
import { StoreClosedError, type WriteHealth } from '../../contracts/store.js';

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

/** SQLite codes that mean the disk or file failed, not the op's own logic (e.g. a constraint). */
const STORAGE_ERROR = /^SQLITE_(FULL|IOERR|CORRUPT|NOTADB|READONLY|CANTOPEN|NOMEM|PROTOCOL)/;
export function isStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_ERROR.test(code);
}

/**
 * TEST ONLY (test/powercut): acknowledge without the WAL fdatasync, so the power-cut campaign can
 * prove it catches the loss. An environment variable, never a config key; logged loudly when set.
 */
const SKIP_WAL_FSYNC = process.env.FIELDGATE_TEST_SKIP_WAL_FSYNC === '1';
const walFdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
  if (SKIP_WAL_FSYNC) setImmediate(cb, null);
  else fdatasync(fd, cb);
};

/**
 * WAL fdatasyncs in flight at once. A commit made while one runs starts its own instead of waiting
 * for it to end (it could not ride on it: an fsync covers only what was written before it began).
 * Measured on this project's 2-core VM disk: 4.0-4.3k fsyncs/s one at a time, 7.2-7.6k two at a
 * time at about the same latency (p50 0.21-0.25 ms), so a device's ack waits about one fsync, not two.
 */
const MAX_SYNCS = 2;

/**
 * Readings waiting in one flush that close the window at once, however many devices could still
 * send: a commit of this many already costs ~200 B a reading, and a burst from many devices (some
 * of them gone without a DISCONNECT, still counted online until their keep-alive runs out) keeps
 * its pace instead of one commit per window.
 */
const FULL_BATCH = 64;

/**
 * A window that fills (every device waiting, or FULL_BATCH) within BUSY_FILL_MS of opening means
 * readings arrive faster than the window could save anything: for BUSY_FOR_MS commits go at once,
 * pipelined with the fsyncs in flight, as without a window. A barrier of all devices per commit cost
 * a quarter of the throughput at 20 busy devices; at the paces the window is for (a reading a second
 * per device) it never fills that fast.
 */
const BUSY_FILL_MS = 5;
const BUSY_FOR_MS = 1000;

/**
 * Longest a lazy op (deleting acknowledged rows) waits for a flush when nothing else asks for one.
 * Long enough that at one reading a second the delete rides in the next reading's commit instead of
 * a commit (and WAL frames) of its own; flushLazy() cuts it short where someone waits for them.
 */
const LAZY_MS = 2000;

export interface SubmitOptions {
  /**
   * Ride with the next flush instead of asking for one (or flush LAZY_MS later). For writes whose
   * loss in a crash is harmless (deleting acknowledged rows): under load they cost no extra commit.
   */
  lazy?: boolean;
  /**
   * The op runs more than one statement and must not leave half of them committed when it fails:
   * run it in a savepoint. A single statement is atomic on its own, so hot single-statement ops
   * skip the SAVEPOINT/RELEASE pair.
   */
  atomic?: boolean;
  /**
   * The op's ack may wait for the commit window (store.commit_interval): it does not ask for a flush
   * itself. The caller counts its waiting readings with noteWaiting(), which flushes as the window
   * closes or as soon as every source that could still send is waiting.
   */
  window?: boolean;
}

interface PendingOp {
  run: () => unknown;
  atomic: boolean;
  /** Lazy ops delete acknowledged rows: a full disk may still take a delete, so they prove nothing. */
  lazy: boolean;
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
  seq: number;
  /** The ops changed rows: once durable, this commit proves the disk takes writes again. */
  wrote: boolean;
}

/**
 * Queues write ops and runs every op queued in one event-loop turn in ONE transaction (flushed from
 * setImmediate). A failing op rejects alone (a multi-statement op runs in its own savepoint); each
 * promise settles only after COMMIT.
 */
export class GroupCommit {
  readonly commits$ = new Subject<{ ms: number; ops: number }>();
  private queue: PendingOp[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  /** Flush for lazy ops when no eager op comes first. */
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private hooks: FlushHooks = {};
  /** Whether the eager ops changed rows (hooks and lazy deletes not counted: they prove nothing about inserts). */
  private readonly flushTx: (ops: PendingOp[], results: OpResult[]) => boolean;
  /** power-loss: the WAL file to fdatasync after commits (SQLite runs with synchronous=NORMAL). */
  private walFd: number | undefined;
  /** Committed flushes not yet known durable, in commit order. */
  private unsynced: Unsynced[] = [];
  /** The last flush some fdatasync already in flight covers (it began after that commit). */
  private coveredSeq = 0;
  private syncsInFlight = 0;
  /** A flush was asked for while MAX_SYNCS fdatasyncs were in flight. */
  private flushAfterSync = false;
  /** Write health: a storage failure stays until a later commit that wrote rows is durable. */
  private failure: { error: string; since: number; seq: number } | undefined;
  private lastWriteAt: number | undefined;
  private flushSeq = 0;
  private writeErrors = 0;
  /** Closes the commit window: the flush for ops queued with `window` at most windowMs after the first. */
  private windowTimer: NodeJS.Timeout | undefined;
  /** Readings whose ack waits on a commit (queued, or committed and waiting for the fsync). */
  private waiting = 0;
  /** Of those, the ones queued for the next flush. */
  private queuedWaiting = 0;
  /** When the current window opened (its first waiting reading), and until when commits skip windows. */
  private windowOpenedAt = 0;
  private busyUntil = 0;
  /** How many sources could send a reading now; unset: no window (every op flushes at once). */
  private senders: (() => number) | undefined;

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
    /** store.commit_interval: how long an ack may wait for a commit that gathers more readings. */
    private readonly windowMs = 0,
  ) {
    if (SKIP_WAL_FSYNC && syncWal !== undefined)
      logger.warn(
        'FIELDGATE_TEST_SKIP_WAL_FSYNC=1: THE WAL IS NOT FSYNCED, acknowledged messages are LOST on a power cut (test only)',
      );
    const savepoint = db.transaction((run: () => unknown) => run());
    const totalChanges = db.prepare('SELECT total_changes()').pluck() as Statement<[], number>;
    this.flushTx = db.transaction((ops: PendingOp[], results: OpResult[]) => {
      this.hooks.begin?.();
      const before = ops.length > 0 ? totalChanges.get()! : 0;
      let lazyChanges = 0;
      for (const op of ops) {
        const lazyBefore = op.lazy ? totalChanges.get()! : 0;
        try {
          results.push({ op, ok: true, value: op.atomic ? savepoint(op.run) : op.run() });
        } catch (err) {
          results.push({ op, ok: false, value: err });
        }
        if (op.lazy) lazyChanges += totalChanges.get()! - lazyBefore;
      }
      const wrote = ops.length > 0 && totalChanges.get()! - before - lazyChanges > 0;
      this.hooks.end?.();
      return wrote;
    }).immediate;
  }

  /** The one owner of the flush-time work (the outbox). */
  setHooks(hooks: FlushHooks): void {
    this.hooks = hooks;
  }

  /**
   * `senders()`: how many sources could send a reading now (e.g. MQTT-SN clients online). Once as
   * many readings wait on an ack, waiting longer gathers nothing (an MQTT-SN v1.2 device has one
   * QoS 1/2 message in flight): the commit goes at once, so a burst keeps its throughput.
   */
  setSenders(senders: () => number): void {
    this.senders = senders;
  }

  /** A reading whose ack waits on the next commit was queued (+1) or answered (-1). */
  noteWaiting(delta: number): void {
    this.waiting += delta;
    if (delta <= 0) return;
    this.queuedWaiting += delta;
    if (this.closed || this.scheduled) return;
    const now = performance.now();
    if (this.queuedWaiting === delta) this.windowOpenedAt = now;
    const busy = now < this.busyUntil;
    if (this.windowMs <= 0 || this.senders === undefined || busy) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
      this.schedule();
    } else if (this.queuedWaiting >= FULL_BATCH || this.waiting >= this.senders()) {
      if (now - this.windowOpenedAt < BUSY_FILL_MS) this.busyUntil = now + BUSY_FOR_MS;
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
      this.schedule();
    } else
      this.windowTimer ??= setTimeout(() => {
        this.windowTimer = undefined;
        this.schedule();
      }, this.windowMs);
  }

  /**
   * The periodic flush (age expiry): not when only lazy ops are queued, which would then commit
   * alone (WAL frames for a delete that can wait); their own timer runs the hooks within LAZY_MS.
   */
  tick(): void {
    if (this.queue.length > 0 && this.lazyTimer !== undefined && this.queue.every((op) => op.lazy)) return;
    this.schedule();
  }

  /** Lazy ops go with the next flush now (someone waits for them: a reconnect, a stop). */
  flushLazy(): void {
    if (this.lazyTimer !== undefined) this.schedule();
  }

  /** Queue `run` (synchronous SQLite work) for the next flush; resolves with its result after COMMIT. */
  submit<T>(run: () => T, opts: SubmitOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run,
        atomic: opts.atomic ?? true,
        lazy: opts.lazy ?? false,
        resolve: resolve as (v: never) => void,
        reject,
      });
      if (opts.lazy) {
        if (!this.scheduled) this.lazyTimer ??= setTimeout(() => this.flush(), LAZY_MS);
      } else if (!opts.window) this.schedule();
    });
  }

  /**
   * Ask for a flush even with no ops queued (runs the hooks: periodic expiry). While MAX_SYNCS WAL
   * fsyncs are in flight the flush waits for one to end: ops queued meanwhile could not start their
   * own fsync sooner anyway, and one transaction for all of them writes fewer WAL pages.
   */
  schedule(): void {
    if (this.closed || this.scheduled) return;
    if (this.syncsInFlight >= MAX_SYNCS) {
      this.flushAfterSync = true;
      return;
    }
    this.scheduled = setImmediate(() => this.flush());
  }

  /** Runs everything queued now, synchronously. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.flushAfterSync = false;
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.queuedWaiting = 0;
    const ops = this.queue;
    this.queue = [];
    const started = performance.now();
    const results: OpResult[] = [];
    const seq = ++this.flushSeq;
    let wrote: boolean;
    try {
      wrote = this.flushTx(ops, results);
    } catch (err) {
      this.logger.error({ err, ops: ops.length }, 'store commit failed: its writes were rolled back');
      this.writeFailed(err, seq, Math.max(1, ops.length));
      this.hooks.failed?.();
      // An op that had already failed keeps its own error (e.g. OutboxFullError).
      const ownErrors = new Map(results.filter((r) => !r.ok).map((r) => [r.op, r.value]));
      for (const op of ops) op.reject(ownErrors.has(op) ? ownErrors.get(op) : err);
      return;
    }
    // An op that failed on the disk (SQLITE_FULL inside an insert) leaves a commit that wrote nothing.
    let diskError: OpResult | undefined;
    let diskErrors = 0; // counted in a loop: no array per flush
    for (const r of results)
      if (!r.ok && isStorageError(r.value)) {
        diskError ??= r;
        diskErrors++;
      }
    if (diskError) this.writeFailed(diskError.value, seq, diskErrors);
    // A read-only or empty commit proves nothing; with power-loss, proof waits for the fsync.
    else if (wrote && this.syncWal === undefined) this.wroteOk(seq);
    // No op that needs durability changed a row (lazy deletes of acknowledged rows, a read, expiry):
    // no fsync of its own, once every earlier commit is durable (it may rely on them).
    if (this.syncWal === undefined || ops.length === 0 || (!wrote && this.unsynced.length === 0)) {
      this.hooks.committed?.();
      if (ops.length > 0) this.commits$.next({ ms: performance.now() - started, ops: ops.length });
      settle(results);
      return;
    }
    // The fsync first: it runs on the thread pool while the hook works (e.g. publishing the new rows).
    this.unsynced.push({ results, started, wrote: wrote && !diskError, seq });
    this.sync();
    this.hooks.committed?.();
  }

  /**
   * Starts an fdatasync for the commits no running one covers, up to MAX_SYNCS at once. A flush is
   * durable once ANY fdatasync that began after its commit has returned, so whichever ends first
   * settles every flush up to the last commit it covers, in commit order.
   */
  private sync(): void {
    const last = this.unsynced.at(-1);
    if (this.syncsInFlight >= MAX_SYNCS || !last || last.seq <= this.coveredSeq) return;
    this.walFd ??= openSync(this.syncWal!, 'r');
    const upTo = last.seq;
    this.coveredSeq = upTo;
    this.syncsInFlight++;
    walFdatasync(this.walFd, (err) => {
      this.syncsInFlight--;
      if (this.closed) return; // close() made everything durable and settled it
      let n = 0;
      while (n < this.unsynced.length && this.unsynced[n]!.seq <= upTo) n++;
      const batch = this.unsynced.splice(0, n);
      if (err && batch.length > 0) {
        // Conservative: a running fsync may still cover them, but after a failed fsync the kernel
        // may have dropped the dirty pages; the writers retry (devices resend) rather than trust it.
        this.logger.error({ err }, 'store fsync failed: these writes may not survive a power cut');
        this.writeFailed(
          err,
          upTo,
          batch.reduce((k, b) => k + b.results.length, 0),
        );
      }
      for (const { results, started, wrote, seq } of batch) {
        if (err) for (const r of results) r.op.reject(err);
        else {
          if (wrote) this.wroteOk(seq);
          this.commits$.next({ ms: performance.now() - started, ops: results.length });
          settle(results);
        }
      }
      this.sync();
      if (this.flushAfterSync) {
        this.flushAfterSync = false;
        // After this turn's microtasks: the acks of what just became durable go out first.
        this.schedule();
      }
    });
  }

  /** Whether writes reach the disk now (for /health and the watchdog). */
  writeHealth(): WriteHealth {
    const f = this.failure;
    const last = this.lastWriteAt === undefined ? {} : { lastWriteAt: this.lastWriteAt };
    const errors = this.writeErrors;
    return f ? { ok: false, error: f.error, since: f.since, errors, ...last } : { ok: true, errors, ...last };
  }

  private writeFailed(err: unknown, seq: number, ops: number): void {
    this.writeErrors += ops;
    const code = (err as { code?: unknown } | null)?.code;
    const text = err instanceof Error ? err.message : String(err);
    const error = typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
    if (!this.failure) this.logger.error({ error }, 'store writes failing: unhealthy until a write commits');
    this.failure = {
      error,
      since: this.failure?.since ?? waitingNow(),
      seq: Math.max(seq, this.failure?.seq ?? 0),
    };
  }

  /** A commit that wrote rows is durable: only one made after the last failure clears it. */
  private wroteOk(seq: number): void {
    this.lastWriteAt = waitingNow();
    if (!this.failure || seq <= this.failure.seq) return;
    const failedFor = this.lastWriteAt - this.failure.since;
    this.failure = undefined;
    this.logger.warn({ failedForMs: failedFor }, 'store writes succeed again');
  }

  /** Flushes what is queued; later submits reject with StoreClosedError. */
  close(): void {
    this.flush();
    this.closed = true;
    if (this.walFd !== undefined) {
      // Make everything committed durable now; ops of an fsync still in flight resolve here too.
      fdatasyncSync(this.walFd);
      for (const { results } of this.unsynced) settle(results);
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
