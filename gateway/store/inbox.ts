import type { Database, Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import type { QoS } from '../../adapters/types.js';
import { DropLog } from './drop-log.js';
import type { GroupCommit } from './group-commit.js';
import {
  type Inbox,
  InboxFullError,
  type InboxLimits,
  type InboxPut,
  type InboxRow,
  type KvEntry,
} from '../../contracts/store.js';
import type { SqliteKvState } from './kv-state.js';
import { waitingNow } from '../../contracts/clock.js';

interface DbRow {
  id: number;
  target: string;
  device: string;
  topic: string;
  payload: Buffer;
  qos: number;
  created_at: number;
  expires_at: number | null;
  command_id: string | null;
  meta: string | null;
}

export function toInboxRow(r: DbRow): InboxRow {
  return {
    id: r.id,
    target: r.target,
    device: r.device,
    topic: r.topic,
    payload: r.payload,
    qos: r.qos as QoS,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    commandId: r.command_id,
    meta: r.meta === null ? null : (JSON.parse(r.meta) as Record<string, unknown>),
  };
}

/** Durable commands for sleeping/unplugged devices. A row is expired once now >= expiresAt. */
export class SqliteInbox implements Inbox {
  readonly expired$ = new Subject<InboxRow[]>();
  private readonly dropLog: DropLog;
  /** Puts refused by a bound (the caller counts them too). */
  private readonly refusedLog: DropLog;
  private readonly stmt: {
    insert: Statement<unknown[]>;
    pending: Statement<[string, string, number, number], DbRow>;
    expiredOf: Statement<[string, string, number], { id: number }>;
    remove: Statement<[number]>;
    removeExpired: Statement<[number], DbRow>;
    expire: Statement<[number], DbRow>;
    anyExpired: Statement<[number], unknown>;
    count: Statement<[], { n: number }>;
    devices: Statement<[string, string], { target: string; device: string }>;
    totals: Statement<[], { rows: number; bytes: number }>;
    deviceTotals: Statement<[string, string], { rows: number; bytes: number }>;
    totalsUnder: Statement<[string, string], { rows: number; bytes: number }>;
    removeTraffic: Statement<[string, string]>;
  };

  constructor(
    db: Database,
    private readonly commit: GroupCommit,
    logger: Logger,
    /** For putAll's `remember` (written in the same transaction). */
    private readonly kv?: SqliteKvState,
  ) {
    this.dropLog = new DropLog(logger, 'inbox commands expired undelivered');
    this.refusedLog = new DropLog(logger, 'inbox full: messages refused');
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO inbox (target, device, topic, payload, qos, created_at, expires_at, command_id, meta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      pending: db.prepare(
        `SELECT * FROM inbox WHERE target = ? AND device = ? AND (expires_at IS NULL OR expires_at > ?)
         ORDER BY id LIMIT ?`,
      ),
      expiredOf: db.prepare('SELECT id FROM inbox WHERE target = ? AND device = ? AND expires_at <= ?'),
      remove: db.prepare('DELETE FROM inbox WHERE id = ?'),
      // Re-checked at delete time so a row is counted once even if pending() saw it twice.
      removeExpired: db.prepare('DELETE FROM inbox WHERE id = ? AND expires_at IS NOT NULL RETURNING *'),
      expire: db.prepare('DELETE FROM inbox WHERE expires_at <= ? RETURNING *'),
      anyExpired: db.prepare('SELECT 1 FROM inbox WHERE expires_at <= ? LIMIT 1'),
      count: db.prepare('SELECT rows AS n FROM inbox_totals'),
      totals: db.prepare('SELECT rows, bytes FROM inbox_totals'),
      deviceTotals: db.prepare('SELECT rows, bytes FROM inbox_device_totals WHERE target = ? AND device = ?'),
      removeTraffic: db.prepare('DELETE FROM inbox WHERE target = ? AND device = ? AND command_id IS NULL'),
      // A range on the (target, device, id) index: no table scan.
      devices: db.prepare('SELECT DISTINCT target, device FROM inbox WHERE target >= ? AND target < ?'),
      totalsUnder: db.prepare(
        'SELECT COALESCE(SUM(rows), 0) AS rows, COALESCE(SUM(bytes), 0) AS bytes FROM inbox_device_totals WHERE target >= ? AND target < ?',
      ),
    };
  }

  put(cmd: InboxPut, limits?: InboxLimits): Promise<number> {
    const size = cmd.payload.length + Buffer.byteLength(cmd.topic);
    return this.commit.submit(() => {
      // In the transaction: the totals include every put committed or queued before this one.
      if (limits) this.refuseIfFull(cmd, size, limits);
      return this.insert(cmd, waitingNow());
    });
  }

  putAll(cmds: InboxPut[], opts: { remember?: KvEntry } = {}): Promise<number[]> {
    const { remember } = opts;
    if (remember && !this.kv)
      return Promise.reject(new Error('inbox: putAll with remember needs the kv state'));
    return this.commit.submit(
      () => {
        const now = waitingNow();
        const ids = cmds.map((c) => this.insert(c, now));
        if (remember) this.kv!.putInFlush(remember);
        return ids;
      },
      { atomic: cmds.length > 1 || remember !== undefined },
    );
  }

  private refuseIfFull(cmd: InboxPut, size: number, l: InboxLimits): void {
    const all = this.stmt.totals.get()!;
    let scope: 'inbox' | 'device' | undefined;
    if (
      (l.maxRows !== undefined && all.rows + 1 > l.maxRows) ||
      (l.maxBytes !== undefined && all.bytes + size > l.maxBytes)
    )
      scope = 'inbox';
    else if (l.deviceMaxRows !== undefined || l.deviceMaxBytes !== undefined) {
      const d = this.deviceTotals(cmd.target, cmd.device);
      if (
        (l.deviceMaxRows !== undefined && d.rows + 1 > l.deviceMaxRows) ||
        (l.deviceMaxBytes !== undefined && d.bytes + size > l.deviceMaxBytes)
      )
        scope = 'device';
    }
    if (scope === undefined) return;
    this.refusedLog.add(scope, 1);
    throw new InboxFullError(scope, `inbox full (${scope}): message for ${cmd.target}/${cmd.device} refused`);
  }

  deviceTotals(target: string, device: string): { rows: number; bytes: number } {
    return this.stmt.deviceTotals.get(target, device) ?? { rows: 0, bytes: 0 };
  }

  removeDeviceTraffic(target: string, device: string): Promise<number> {
    return this.commit.submit(() => this.stmt.removeTraffic.run(target, device).changes);
  }

  devices(prefix: string): { target: string; device: string }[] {
    return this.stmt.devices.all(prefix, prefixEnd(prefix));
  }

  totalsUnder(prefix: string): { rows: number; bytes: number } {
    return this.stmt.totalsUnder.get(prefix, prefixEnd(prefix))!;
  }

  private insert(cmd: InboxPut, now: number): number {
    return this.stmt.insert.run(
      cmd.target,
      cmd.device,
      cmd.topic,
      cmd.payload,
      cmd.qos,
      now,
      cmd.expiresAt,
      cmd.commandId ?? null,
      cmd.meta === undefined ? null : JSON.stringify(cmd.meta),
    ).lastInsertRowid as number;
  }

  pending(target: string, device: string, limit = 100): InboxRow[] {
    const now = waitingNow();
    const expired = this.stmt.expiredOf.all(target, device, now).map((r) => r.id);
    if (expired.length > 0) {
      this.commit
        .submit(() => expired.flatMap((id) => this.stmt.removeExpired.all(id).map(toInboxRow)))
        .then((rows) => this.countExpired(rows))
        .catch(() => {}); // the rows stay and are retried by the next pending()/expire()
    }
    return this.stmt.pending.all(target, device, now, limit).map(toInboxRow);
  }

  remove(ids: number[]): Promise<void> {
    return this.commit.submit(() => {
      for (const id of ids) this.stmt.remove.run(id);
    });
  }

  async expire(now = waitingNow()): Promise<InboxRow[]> {
    // Checked by a read first: a write op every second would be a commit (and WAL pages) of its own.
    if (this.stmt.anyExpired.get(now) === undefined) return [];
    const rows = await this.commit.submit(() => this.stmt.expire.all(now).map(toInboxRow));
    this.countExpired(rows);
    return rows;
  }

  count(): number {
    return this.stmt.count.get()!.n;
  }

  close(): void {
    this.dropLog.flush();
    this.refusedLog.flush();
    this.expired$.complete();
  }

  private countExpired(rows: InboxRow[]): void {
    if (rows.length === 0) return;
    this.dropLog.add('expired', rows.length);
    this.expired$.next(rows);
  }
}

/** The least string above every string that starts with `prefix` (a range on the target index). */
function prefixEnd(prefix: string): string {
  if (prefix === '') throw new Error('inbox: empty target prefix');
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
