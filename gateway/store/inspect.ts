import { estimateWaitingNow } from './clock-state.js';
import { existsSync, statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { withDb } from './cli-open.js';
import { dbPath } from './database.js';
import { toInboxRow } from './inbox.js';
import { schemaVersion } from './migrations.js';
import { toOutboxRow } from './outbox.js';
import { ROW_COST_SQL } from './outbox-totals.js';
import type { InboxRow, OutboxRow, OutboxStats } from '../../contracts/store.js';

/*
 * For the CLI, beside a gateway that may be running: WAL lets these readers work alongside its writer,
 * and purge's short write transaction waits for the gateway's lock (busy_timeout) instead of failing.
 */

export interface StoreFileStats {
  path: string;
  /** Bytes of fieldgate.db plus its -wal. */
  fileBytes: number;
  schemaVersion: number;
  outbox: OutboxStats & { queued: number; oldestAgeMs: number | null };
  inbox: { rows: number };
  kv: { rows: number };
  /** Rows set aside (the broker would not take them), by reason. */
  setAside: { rows: number; byReason: Record<string, number> };
}

/** A set-aside row as `queue peek --dead` shows it. */
export type SetAsideRow = Omit<OutboxRow, 'state' | 'packetId'> & { reason: string; setAsideAt: number };

export function stats(dir: string): StoreFileStats {
  return withDb(dir, true, (db) => {
    // Counted: a running gateway keeps its totals in memory, not in outbox_totals.
    const totals = db
      .prepare(`SELECT count(*) AS rows, coalesce(sum(${ROW_COST_SQL}), 0) AS bytes FROM outbox`)
      .get() as { rows: number; bytes: number };
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const inflight = count(`SELECT count(*) AS n FROM outbox WHERE state <> 'queued'`);
    const oldest = db.prepare('SELECT enqueued_at FROM outbox ORDER BY id LIMIT 1').get() as
      | { enqueued_at: number }
      | undefined;
    const path = dbPath(dir);
    return {
      path,
      fileBytes: statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0),
      schemaVersion: schemaVersion(db),
      outbox: {
        ...totals,
        oldestAt: oldest?.enqueued_at ?? null,
        // Rows carry waiting-clock times: the age is taken on the gateway's scale, not the wall clock's.
        oldestAgeMs: oldest ? Math.max(0, estimateWaitingNow(db) - oldest.enqueued_at) : null,
        inflight,
        queued: totals.rows - inflight,
      },
      inbox: { rows: count('SELECT count(*) AS n FROM inbox') },
      kv: { rows: count('SELECT count(*) AS n FROM kv') },
      setAside: setAsideStats(db),
    };
  });
}

/**
 * Wall minus waiting-clock time as the running (or last) gateway had it, estimated from its last
 * save: rows carry waiting-clock times, which `queue peek` shows on the wall clock.
 */
export function wallOffsetEstimate(dir: string): number {
  return withDb(dir, true, (db) => Date.now() - estimateWaitingNow(db));
}

export function peek(dir: string, opts: { limit: number; from: 'outbox' }): OutboxRow[];
export function peek(dir: string, opts: { limit: number; from: 'inbox' }): InboxRow[];
export function peek(
  dir: string,
  opts: { limit: number; from: 'outbox' | 'inbox' },
): OutboxRow[] | InboxRow[];
/** The oldest rows (next to be sent / delivered), oldest first. */
export function peek(
  dir: string,
  opts: { limit: number; from: 'outbox' | 'inbox' },
): OutboxRow[] | InboxRow[] {
  return withDb(dir, true, (db) => {
    const rows = db.prepare(`SELECT * FROM ${opts.from} ORDER BY id LIMIT ?`).all(opts.limit);
    return opts.from === 'outbox'
      ? rows.map((r) => toOutboxRow(r as Parameters<typeof toOutboxRow>[0]))
      : rows.map((r) => toInboxRow(r as Parameters<typeof toInboxRow>[0]));
  });
}

function setAsideStats(db: Database): StoreFileStats['setAside'] {
  const byReason: Record<string, number> = {};
  let rows = 0;
  const all = db.prepare('SELECT reason, count(*) AS n FROM outbox_dead GROUP BY reason').all() as {
    reason: string;
    n: number;
  }[];
  for (const r of all) {
    byReason[r.reason] = r.n;
    rows += r.n;
  }
  return { rows, byReason };
}

/** The oldest set-aside rows, oldest first. */
export function peekSetAside(dir: string, opts: { limit: number }): SetAsideRow[] {
  return withDb(dir, true, (db) => {
    const rows = db.prepare('SELECT * FROM outbox_dead ORDER BY id LIMIT ?').all(opts.limit) as (Parameters<
      typeof toOutboxRow
    >[0] & { reason: string; set_aside_at: number })[];
    return rows.map((r) => {
      const { state: _s, packetId: _p, ...row } = toOutboxRow({ ...r, state: 'queued', packet_id: null });
      return { ...row, reason: r.reason, setAsideAt: r.set_aside_at };
    });
  });
}

/**
 * Put every set-aside row back at the END of the outbox (new ids, in their old id order), queued
 * again: a running gateway picks them up within a second. Returns how many went back.
 */
export function retrySetAside(dir: string): number {
  return withDb(dir, false, (db) =>
    db
      .transaction(() => {
        const now = estimateWaitingNow(db);
        // The gateway keeps its totals in memory: it applies what this adds to outbox_totals at its
        // next commit. New ids go above every id used or reserved (the gateway's ceiling), so its
        // sender, which reads rows after the last id it saw, finds them.
        const back = db
          .prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_COST_SQL}), 0) AS bytes FROM outbox_dead`)
          .get() as { n: number; bytes: number };
        const base = (
          db
            .prepare(
              `SELECT max(id_ceiling, coalesce((SELECT max(id) FROM outbox), 0),
                 coalesce((SELECT max(id) FROM outbox_dead), 0)) AS id FROM outbox_totals`,
            )
            .get() as { id: number }
        ).id;
        const moved = db
          .prepare(
            `INSERT INTO outbox (id, source, device, topic, payload, qos, retain, properties, received_at, enqueued_at)
             SELECT ? + row_number() OVER (ORDER BY id), source, device, topic, payload, qos, retain, properties,
               received_at, ?
             FROM outbox_dead ORDER BY id`,
          )
          .run(base, now).changes;
        db.prepare('DELETE FROM outbox_dead').run();
        db.prepare('UPDATE outbox_totals SET rows = rows + ?, bytes = bytes + ?, id_ceiling = ?').run(
          moved,
          back.bytes,
          base + moved,
        );
        return moved;
      })
      .immediate(),
  );
}

/** Deletes every set-aside row; returns how many went. */
export function purgeSetAside(dir: string): number {
  return withDb(dir, false, (db) => db.prepare('DELETE FROM outbox_dead').run().changes);
}

export type PurgeWhich = 'outbox' | 'inbox' | 'all';

/** Deletes every row of the outbox, the inbox or both; returns how many rows went. */
export function purge(dir: string, opts: { which: PurgeWhich }): { outbox: number; inbox: number } {
  return withDb(dir, false, (db) =>
    db
      .transaction(() => {
        let outbox = 0;
        if (opts.which !== 'inbox') {
          // Subtracted, not zeroed: a running gateway applies the difference to its own totals.
          const gone = db
            .prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_COST_SQL}), 0) AS bytes FROM outbox`)
            .get() as { n: number; bytes: number };
          outbox = db.prepare('DELETE FROM outbox').run().changes;
          db.prepare('UPDATE outbox_totals SET rows = rows - ?, bytes = bytes - ?').run(gone.n, gone.bytes);
        }
        return { outbox, inbox: opts.which === 'outbox' ? 0 : db.prepare('DELETE FROM inbox').run().changes };
      })
      .immediate(),
  );
}

/**
 * Deletes every set-aside row only if there are exactly `expected` of them (one transaction: the
 * count the operator confirmed is the count removed); else removes nothing and says how many there are.
 */
export function purgeSetAsideExpecting(
  dir: string,
  expected: number,
): { purged: number } | { count: number } {
  return withDb(dir, false, (db) =>
    db
      .transaction(() => {
        const n = (db.prepare('SELECT count(*) AS n FROM outbox_dead').get() as { n: number }).n;
        if (n !== expected) return { count: n };
        return { purged: db.prepare('DELETE FROM outbox_dead').run().changes };
      })
      .immediate(),
  );
}
