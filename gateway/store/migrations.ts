import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order; PRAGMA user_version is the count applied.
 * Append new steps, never edit a released one.
 */
const MIGRATIONS: readonly string[] = [
  `
  -- AUTOINCREMENT: ids never reuse, so the upstream sender's "afterId" cursor stays valid.
  CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    device      TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    qos         INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
    retain      INTEGER NOT NULL CHECK (retain IN (0, 1)),
    properties  TEXT,
    received_at INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'released')),
    packet_id   INTEGER
  );
  -- Two partial indexes: each row is in exactly one, so a row costs one index entry.
  CREATE INDEX outbox_queued   ON outbox (id) WHERE state = 'queued';
  CREATE INDEX outbox_inflight ON outbox (id) WHERE state <> 'queued';

  -- Kept by triggers in the same transaction as every change, so stats() never counts rows.
  CREATE TABLE outbox_totals (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    rows  INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  );
  INSERT INTO outbox_totals VALUES (1, 0, 0);
  CREATE TRIGGER outbox_totals_insert AFTER INSERT ON outbox BEGIN
    UPDATE outbox_totals SET rows = rows + 1, bytes = bytes + length(NEW.payload);
  END;
  CREATE TRIGGER outbox_totals_delete AFTER DELETE ON outbox BEGIN
    UPDATE outbox_totals SET rows = rows - 1, bytes = bytes - length(OLD.payload);
  END;

  CREATE TABLE inbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    target     TEXT    NOT NULL,
    device     TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX inbox_device  ON inbox (target, device, id);
  CREATE INDEX inbox_expires ON inbox (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
  ) WITHOUT ROWID;
  `,
  `
  -- v2: a queued command keeps its id and the gateway's metadata (result topic), so its reply or
  -- expiry can be reported after a restart.
  ALTER TABLE inbox ADD COLUMN command_id TEXT;
  ALTER TABLE inbox ADD COLUMN meta TEXT;
  `,
  `
  -- Rows the broker would not take (e.g. it dropped the connection on them twice), set aside so the
  -- rows behind them flow. Same columns as outbox (ids kept), plus why and when; 'queue retry' puts
  -- them back at the end of the outbox. Not counted in outbox_totals: bounded on its own.
  CREATE TABLE outbox_dead (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    device      TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    qos         INTEGER NOT NULL,
    retain      INTEGER NOT NULL,
    properties  TEXT,
    received_at INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    set_aside_at INTEGER NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the schema up to SCHEMA_VERSION; refuses a database written by a newer fieldgate. */
export function migrate(db: Database): void {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new Error(
      `store schema version ${from} is newer than this fieldgate understands (${SCHEMA_VERSION})`,
    );
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
