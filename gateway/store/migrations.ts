import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order; PRAGMA user_version is the count applied.
 * Append new steps, never edit a released one.
 */
export const MIGRATIONS: readonly string[] = [
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

  -- Kept by triggers in the same transaction as every change, so stats() never counts rows
  -- (v5: kept by the writers instead, once per transaction).
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
  `
  -- MQTT-SN device state (h5): one row per clean-session=false session, one per registration and
  -- per subscription, so a REGISTER writes one small row instead of rewriting a session snapshot.
  CREATE TABLE device_session (
    target        TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    -- ms since epoch of the last state change; for an offline session, when it went offline.
    last_seen     INTEGER NOT NULL,
    -- 1 while connected or asleep at the last write: restored as such, so its will still fires.
    live          INTEGER NOT NULL DEFAULT 0,
    keep_alive_ms INTEGER NOT NULL DEFAULT 0,
    sleep_ms      INTEGER NOT NULL DEFAULT 0,
    peer          TEXT,
    will_topic    TEXT,
    will_msg      BLOB,
    will_qos      INTEGER,
    will_retain   INTEGER,
    PRIMARY KEY (target, client_id)
  );
  CREATE TABLE device_topic (
    target    TEXT    NOT NULL,
    client_id TEXT    NOT NULL,
    topic_id  INTEGER NOT NULL,
    name      TEXT    NOT NULL
  );
  CREATE UNIQUE INDEX device_topic_key ON device_topic (target, client_id, topic_id);
  CREATE TABLE device_sub (
    target    TEXT    NOT NULL,
    client_id TEXT    NOT NULL,
    filter    TEXT    NOT NULL,
    qos       INTEGER NOT NULL CHECK (qos IN (0, 1, 2))
  );
  CREATE UNIQUE INDEX device_sub_key ON device_sub (target, client_id, filter);

  -- The KvState snapshots of earlier versions become rows (the adapter was always named 'mqttsn').
  INSERT OR IGNORE INTO device_session (target, client_id, last_seen)
    SELECT 'mqttsn', key, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM kv WHERE namespace = 'mqttsn.sessions';
  INSERT OR IGNORE INTO device_topic (target, client_id, topic_id, name)
    SELECT 'mqttsn', kv.key, json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]')
    FROM kv, json_each(kv.value, '$.topics') AS t
    WHERE kv.namespace = 'mqttsn.sessions' AND json_valid(kv.value)
      AND json_type(t.value, '$[0]') = 'integer' AND json_type(t.value, '$[1]') = 'text';
  INSERT OR IGNORE INTO device_sub (target, client_id, filter, qos)
    SELECT 'mqttsn', kv.key, json_extract(s.value, '$[0]'), json_extract(s.value, '$[1]')
    FROM kv, json_each(kv.value, '$.subs') AS s
    WHERE kv.namespace = 'mqttsn.sessions' AND json_valid(kv.value)
      AND json_type(s.value, '$[0]') = 'text' AND json_extract(s.value, '$[1]') IN (0, 1, 2);
  DELETE FROM kv WHERE namespace = 'mqttsn.sessions';

  -- Inbox totals kept by triggers, so its bounds hold from the stored rows (also after a restart)
  -- without counting rows per put. Bytes are payload + topic, as the adapters budget them.
  CREATE TABLE inbox_totals (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    rows  INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  );
  INSERT INTO inbox_totals
    SELECT 1, count(*), coalesce(sum(length(payload) + length(CAST(topic AS BLOB))), 0) FROM inbox;
  CREATE TABLE inbox_device_totals (
    target TEXT    NOT NULL,
    device TEXT    NOT NULL,
    rows   INTEGER NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (target, device)
  ) WITHOUT ROWID;
  INSERT INTO inbox_device_totals
    SELECT target, device, count(*), sum(length(payload) + length(CAST(topic AS BLOB)))
    FROM inbox GROUP BY target, device;
  CREATE TRIGGER inbox_totals_insert AFTER INSERT ON inbox BEGIN
    UPDATE inbox_totals SET rows = rows + 1, bytes = bytes + length(NEW.payload) + length(CAST(NEW.topic AS BLOB));
    INSERT INTO inbox_device_totals VALUES
      (NEW.target, NEW.device, 1, length(NEW.payload) + length(CAST(NEW.topic AS BLOB)))
      ON CONFLICT DO UPDATE SET rows = rows + 1, bytes = bytes + excluded.bytes;
  END;
  CREATE TRIGGER inbox_totals_delete AFTER DELETE ON inbox BEGIN
    UPDATE inbox_totals SET rows = rows - 1, bytes = bytes - length(OLD.payload) - length(CAST(OLD.topic AS BLOB));
    UPDATE inbox_device_totals SET rows = rows - 1, bytes = bytes - length(OLD.payload) - length(CAST(OLD.topic AS BLOB))
      WHERE target = OLD.target AND device = OLD.device;
    DELETE FROM inbox_device_totals WHERE target = OLD.target AND device = OLD.device AND rows <= 0;
  END;

  -- drop-oldest: QoS 0 rows go first, found without scanning the QoS 1/2 backlog.
  CREATE INDEX outbox_queued_qos0 ON outbox (id) WHERE state = 'queued' AND qos = 0;
  `,
  `
  -- v5 (CPU per message): outbox_totals is no longer kept by a trigger UPDATE per inserted and per deleted
  -- row: the writers add what each statement did and write the sum once per transaction
  -- (outbox-totals.ts; the CLI's retry and purge likewise). The counts the triggers kept are exact,
  -- so they carry over as they are.
  DROP TRIGGER outbox_totals_insert;
  DROP TRIGGER outbox_totals_delete;
  -- Nor an entry in outbox_queued per row: nearly every row is queued, so the rowid order IS the
  -- queued order; the readers walk the table from their cursor and step over the few rows in flight
  -- (QoS 2, at most the upstream window; those keep their own index, outbox_inflight). Measured: an
  -- insert plus its delete cost ~1 us less per row (bench/store-micro.ts).
  DROP INDEX outbox_queued;
  `,
  `
  -- v6 (SD-card wear): a hot commit writes the outbox pages and nothing else.
  -- No AUTOINCREMENT: it rewrote sqlite_sequence in every commit that inserted. The store assigns
  -- ids itself (outbox-totals.ts): strictly increasing, never reused, also across restarts and the
  -- CLI's retry, from a ceiling reserved in outbox_totals a block at a time.
  CREATE TABLE outbox_v6 (
    id          INTEGER PRIMARY KEY,
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
  INSERT INTO outbox_v6 SELECT id, source, device, topic, payload, qos, retain, properties, received_at,
    enqueued_at, state, packet_id FROM outbox;
  ALTER TABLE outbox_totals ADD COLUMN id_ceiling INTEGER NOT NULL DEFAULT 0;
  UPDATE outbox_totals SET id_ceiling = max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0),
    coalesce((SELECT max(id) FROM outbox), 0),
    coalesce((SELECT max(id) FROM outbox_dead), 0));
  DROP TABLE outbox;
  ALTER TABLE outbox_v6 RENAME TO outbox;
  CREATE INDEX outbox_inflight ON outbox (id) WHERE state <> 'queued';
  CREATE INDEX outbox_queued_qos0 ON outbox (id) WHERE state = 'queued' AND qos = 0;
  -- The totals live in memory and are no longer written per commit: the row holds them as of the
  -- last clean stop (clean = 1) or start, plus what the CLI changed since. clean = 0 (a crash, or
  -- this upgrade, whose byte count now includes topic, device and properties): count at start.
  ALTER TABLE outbox_totals ADD COLUMN clean INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- v7: lanes. Rows of lane 0 go out on the main upstream connection; Sparkplug's rows (lane 1) on
  -- a connection of its own, which waits for its primary host: neither lane holds the other up.
  ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX outbox_lane ON outbox (lane, id) WHERE lane <> 0;
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
