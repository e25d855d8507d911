import type { Database, Statement } from 'better-sqlite3';
import type { QoS } from '../../adapters/types.js';
import type {
  DeviceSessionFootprint,
  DeviceSessionMeta,
  DeviceSessionPatch,
  DeviceSessionRow,
  DeviceSessionStore,
  StoredWill,
} from '../../contracts/store.js';
import type { GroupCommit } from './group-commit.js';
import { waitingNow } from '../../contracts/clock.js';
import { withDb } from './cli-open.js';

interface SessionDbRow {
  client_id: string;
  last_seen: number;
  live: number;
  keep_alive_ms: number;
  sleep_ms: number;
  peer: string | null;
  will_topic: string | null;
  will_msg: Buffer | null;
  will_qos: number | null;
  will_retain: number | null;
}

function parsePeer(json: string | null): Record<string, unknown> | null {
  if (json === null) return null;
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface FootprintDbRow {
  client_id: string;
  last_seen: number;
  live: number;
  peer: string | null;
  topics: number;
  topic_bytes: number;
  subs: number;
  sub_bytes: number;
  will_bytes: number | null;
}

/** Per session: counts and UTF-8 byte sums of what it holds, without reading a single name. */
const FOOTPRINTS_SQL = `
  SELECT s.client_id, s.last_seen, s.live, s.peer,
    coalesce(t.n, 0) AS topics, coalesce(t.b, 0) AS topic_bytes,
    coalesce(u.n, 0) AS subs, coalesce(u.b, 0) AS sub_bytes,
    CASE WHEN s.will_topic IS NULL THEN NULL
      ELSE length(CAST(s.will_topic AS BLOB)) + coalesce(length(s.will_msg), 0) END AS will_bytes
  FROM device_session s
  LEFT JOIN (SELECT client_id, count(*) AS n, sum(length(CAST(name AS BLOB))) AS b
             FROM device_topic WHERE target = @target GROUP BY client_id) t ON t.client_id = s.client_id
  LEFT JOIN (SELECT client_id, count(*) AS n, sum(length(CAST(filter AS BLOB))) AS b
             FROM device_sub WHERE target = @target GROUP BY client_id) u ON u.client_id = s.client_id
  WHERE s.target = @target
  ORDER BY s.last_seen, s.client_id`;

const toFootprint = (r: FootprintDbRow): DeviceSessionFootprint => ({
  clientId: r.client_id,
  lastSeen: r.last_seen,
  live: r.live === 1,
  peer: parsePeer(r.peer),
  topics: r.topics,
  topicBytes: r.topic_bytes,
  subs: r.subs,
  subBytes: r.sub_bytes,
  willBytes: r.will_bytes,
});

/** MQTT-SN clean-session=false sessions as rows (device_session, device_topic, device_sub). */
export class SqliteDeviceSessions implements DeviceSessionStore {
  private readonly stmt: {
    sessions: Statement<[string], SessionDbRow>;
    footprints: Statement<[{ target: string }], FootprintDbRow>;
    topics: Statement<[string], { client_id: string; topic_id: number; name: string }>;
    subs: Statement<[string], { client_id: string; filter: string; qos: number }>;
    upsertMeta: Statement<unknown[]>;
    ensure: Statement<[string, string, number]>;
    setWill: Statement<unknown[]>;
    putTopic: Statement<[string, string, number, string]>;
    deleteTopic: Statement<[string, string, number]>;
    putSub: Statement<[string, string, string, number]>;
    deleteSub: Statement<[string, string, string]>;
    removeSession: Statement<[string, string]>;
    removeTopics: Statement<[string, string]>;
    removeSubs: Statement<[string, string]>;
  };

  constructor(
    db: Database,
    private readonly commit: GroupCommit,
  ) {
    this.stmt = {
      sessions: db.prepare('SELECT * FROM device_session WHERE target = ? ORDER BY last_seen, client_id'),
      footprints: db.prepare(FOOTPRINTS_SQL),
      topics: db.prepare('SELECT client_id, topic_id, name FROM device_topic WHERE target = ?'),
      subs: db.prepare('SELECT client_id, filter, qos FROM device_sub WHERE target = ?'),
      upsertMeta: db.prepare(
        `INSERT INTO device_session (target, client_id, last_seen, live, keep_alive_ms, sleep_ms, peer)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen, live = excluded.live,
           keep_alive_ms = excluded.keep_alive_ms, sleep_ms = excluded.sleep_ms, peer = excluded.peer`,
      ),
      ensure: db.prepare(
        'INSERT INTO device_session (target, client_id, last_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      setWill: db.prepare(
        `UPDATE device_session SET will_topic = ?, will_msg = ?, will_qos = ?, will_retain = ?
         WHERE target = ? AND client_id = ?`,
      ),
      putTopic: db.prepare(
        `INSERT INTO device_topic (target, client_id, topic_id, name) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET name = excluded.name`,
      ),
      deleteTopic: db.prepare('DELETE FROM device_topic WHERE target = ? AND client_id = ? AND topic_id = ?'),
      putSub: db.prepare(
        `INSERT INTO device_sub (target, client_id, filter, qos) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET qos = excluded.qos`,
      ),
      deleteSub: db.prepare('DELETE FROM device_sub WHERE target = ? AND client_id = ? AND filter = ?'),
      removeSession: db.prepare('DELETE FROM device_session WHERE target = ? AND client_id = ?'),
      removeTopics: db.prepare('DELETE FROM device_topic WHERE target = ? AND client_id = ?'),
      removeSubs: db.prepare('DELETE FROM device_sub WHERE target = ? AND client_id = ?'),
    };
  }

  /** Oldest first (by last_seen); registrations and subscriptions without a session row are ignored. */
  list(target: string, choose?: (all: DeviceSessionFootprint[]) => ReadonlySet<string>): DeviceSessionRow[] {
    const chosen = choose?.(this.stmt.footprints.all({ target }).map(toFootprint));
    const byId = new Map<string, DeviceSessionRow>();
    for (const r of this.stmt.sessions.iterate(target)) {
      if (chosen && !chosen.has(r.client_id)) continue;
      const will: StoredWill | null =
        r.will_topic === null
          ? null
          : {
              topic: r.will_topic,
              msg: r.will_msg ?? Buffer.alloc(0),
              qos: (r.will_qos ?? 0) as QoS,
              retain: r.will_retain === 1,
            };
      byId.set(r.client_id, {
        clientId: r.client_id,
        lastSeen: r.last_seen,
        live: r.live === 1,
        keepAliveMs: r.keep_alive_ms,
        sleepMs: r.sleep_ms,
        peer: parsePeer(r.peer),
        will,
        topics: [],
        subs: [],
      });
    }
    for (const t of this.stmt.topics.iterate(target))
      byId.get(t.client_id)?.topics.push([t.topic_id, t.name]);
    for (const s of this.stmt.subs.iterate(target))
      byId.get(s.client_id)?.subs.push([s.filter, s.qos as QoS]);
    return [...byId.values()];
  }

  update(target: string, clientId: string, patch: DeviceSessionPatch): Promise<void> {
    const meta = patch.meta;
    return this.commit.submit(() => {
      if (meta) this.writeMeta(target, clientId, meta);
      else this.stmt.ensure.run(target, clientId, waitingNow());
      if (patch.will !== undefined) {
        const w = patch.will;
        this.stmt.setWill.run(
          w?.topic ?? null,
          w?.msg ?? null,
          w?.qos ?? null,
          w === null ? null : w.retain ? 1 : 0,
          target,
          clientId,
        );
      }
      if (patch.replaceAll) {
        this.stmt.removeTopics.run(target, clientId);
        this.stmt.removeSubs.run(target, clientId);
      }
      for (const id of patch.deleteTopics ?? []) this.stmt.deleteTopic.run(target, clientId, id);
      for (const [id, name] of patch.putTopics ?? []) this.stmt.putTopic.run(target, clientId, id, name);
      for (const f of patch.deleteSubs ?? []) this.stmt.deleteSub.run(target, clientId, f);
      for (const [f, qos] of patch.putSubs ?? []) this.stmt.putSub.run(target, clientId, f, qos);
    });
  }

  remove(target: string, clientId: string): Promise<void> {
    return this.commit.submit(() => {
      this.stmt.removeSession.run(target, clientId);
      this.stmt.removeTopics.run(target, clientId);
      this.stmt.removeSubs.run(target, clientId);
    });
  }

  private writeMeta(target: string, clientId: string, m: DeviceSessionMeta): void {
    this.stmt.upsertMeta.run(
      target,
      clientId,
      m.lastSeen,
      m.live ? 1 : 0,
      m.keepAliveMs,
      m.sleepMs,
      m.peer === null ? null : JSON.stringify(m.peer),
    );
  }
}

/** A stored device session as `fieldgate sessions list` shows it. */
export interface StoredSessionInfo {
  target: string;
  clientId: string;
  lastSeen: number;
  live: boolean;
  /** The address it was last seen at, if stored. */
  address: string | null;
  topics: number;
  subs: number;
  /** UTF-8 bytes of its registrations, subscriptions and will together. */
  bytes: number;
}

const addressOf = (peer: string | null): string | null => {
  const a = parsePeer(peer)?.address;
  return typeof a === 'string' ? a.replace(/^::ffff:(?=\d+\.)/i, '') : null;
};

/** Every stored MQTT-SN session of every adapter, largest first (what to purge is usually on top). */
export function listStoredSessions(dir: string): StoredSessionInfo[] {
  return withDb(dir, true, (db) => {
    const targets = db.prepare('SELECT DISTINCT target FROM device_session').pluck().all() as string[];
    const rows = targets.flatMap((target) =>
      (db.prepare(FOOTPRINTS_SQL).all({ target }) as FootprintDbRow[]).map((r) => ({
        target,
        clientId: r.client_id,
        lastSeen: r.last_seen,
        live: r.live === 1,
        address: addressOf(r.peer),
        topics: r.topics,
        subs: r.subs,
        bytes: r.topic_bytes + r.sub_bytes + (r.will_bytes ?? 0),
      })),
    );
    return rows.sort((a, b) => b.bytes - a.bytes || a.clientId.localeCompare(b.clientId));
  });
}

/**
 * Deletes stored sessions (with their registrations and subscriptions) by client id or by the
 * address they were last seen at; returns the client ids deleted. For a stopped gateway: a running
 * one keeps its sessions in memory and would write them back.
 */
export function purgeStoredSessions(
  dir: string,
  sel: { ids?: readonly string[]; address?: string },
): string[] {
  const ids = new Set(sel.ids ?? []);
  return withDb(dir, false, (db) =>
    db
      .transaction(() => {
        const all = db.prepare('SELECT target, client_id, peer FROM device_session').all() as {
          target: string;
          client_id: string;
          peer: string | null;
        }[];
        const hit = all.filter(
          (r) => ids.has(r.client_id) || (sel.address !== undefined && addressOf(r.peer) === sel.address),
        );
        for (const r of hit)
          for (const table of ['device_session', 'device_topic', 'device_sub'])
            db.prepare(`DELETE FROM ${table} WHERE target = ? AND client_id = ?`).run(r.target, r.client_id);
        return hit.map((r) => r.client_id);
      })
      .immediate(),
  );
}
