import type { Observable } from 'rxjs';
import type { QoS } from '../adapters/types.js';

/** A message waiting to go upstream, as handed to the outbox. */
export interface OutboxMessage {
  source: string;
  device: string;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 properties later; stored as JSON. */
  properties?: Record<string, unknown>;
  /** Waiting-clock ms (contracts/clock.ts) when the reading arrived: ages, expiry and latency start here. */
  receivedAt: number;
  /**
   * Which connection sends it: 0 (absent) the main upstream connection; another lane has a sender
   * of its own (Sparkplug), so neither holds the other up. Limits and ages count every lane.
   */
  lane?: number;
}

/** Upstream delivery state of an outbox row. */
export type DeliveryState =
  | 'queued' // not yet handed to the broker
  | 'sent' // PUBLISH written with packetId; awaiting PUBACK (QoS 1) or PUBREC (QoS 2)
  | 'released'; // QoS 2: PUBREL written; awaiting PUBCOMP

export interface OutboxRow extends OutboxMessage {
  /** Monotonic row id: the order messages reach the broker in. */
  id: number;
  state: DeliveryState;
  packetId: number | null;
}

export interface OutboxStats {
  rows: number;
  bytes: number;
  /** enqueue time (waiting-clock ms) of the oldest row, null when empty. */
  oldestAt: number | null;
  inflight: number;
}

export type DropReason =
  | 'max_rows'
  | 'max_bytes'
  | 'max_age'
  | 'reject_new'
  /** The oldest set-aside row deleted to keep the set-aside table under its bound. */
  | 'set_aside_full';

/** Why a row was set aside: e.g. 'broker_disconnect'; MQTT 5 reason codes later. */
export type SetAsideReason = string;

/** Thrown (rejected) by Outbox.enqueue under overflow: reject-new when the outbox is full. */
export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
}

/** Rejects every write submitted after Store.close(). */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
}

/**
 * The durable outbox. Writes are group-committed: every call made while a
 * transaction is being prepared lands in the same transaction, and each
 * returned promise resolves only once that transaction is committed.
 */
export interface Outbox {
  /**
   * Resolves with the row ids once committed; rejects with OutboxFullError under reject-new.
   * `remember` is written to KvState in the same transaction as the rows: a device's message id
   * recorded with its message, so a resend after a crash is recognised (QoS 2 exactly once).
   */
  enqueue(messages: OutboxMessage[], opts?: { remember?: KvEntry }): Promise<number[]>;
  /**
   * enqueue() for the hot ingest path, without a promise per call (two promises and their
   * microtasks per reading cost CPU per message): `done(undefined, ids)` once committed (and fsynced under power-loss),
   * `done(err, undefined)` when refused or failed (OutboxFullError under reject-new). Never called
   * synchronously; calls of one event-loop turn are answered in call order. Same rules as enqueue().
   * `wait`: a device's ack waits on this reading, so its commit may wait for the commit window
   * (store.commit_interval) to gather more; without it (QoS 0/-1) the commit goes at once.
   */
  enqueueThen(
    messages: OutboxMessage[],
    opts: { remember?: KvEntry; wait?: boolean } | undefined,
    done: (err: unknown, ids: number[] | undefined) => void,
  ): void;
  /** Oldest lane-0 rows in state 'queued' with id > afterId, in id order (rowid range from afterId, never a full scan). */
  nextQueued(afterId: number, limit: number): OutboxRow[];
  /**
   * The highest row id assigned so far. A nextQueued() that found fewer rows than asked looked at
   * every row up to it: a reader may go on from there instead of scanning other lanes' rows again.
   */
  scannedTo?(): number;
  /** The same for another lane (its own sender reads it); optional for in-memory test outboxes. */
  nextInLane?(lane: number, afterId: number, limit: number): OutboxRow[];
  /** Rows waiting in another lane (not 0), queued or in flight. */
  countInLane?(lane: number): number;
  /** A commit added rows to this lane (not 0: those come on added$). */
  readonly laneAdded$?: Observable<number>;
  /** Rows in state 'sent' or 'released', in id order: resumed after reconnect/restart. */
  inflight(): OutboxRow[];
  /**
   * Durably record packet ids before the PUBLISHes are written: QoS 2 exactly-once needs the broker
   * to see the same id again after a restart. QoS 0/1 rows stay 'queued' until completed.
   */
  markSent(assignments: { id: number; packetId: number }[]): Promise<void>;
  /** Durably record that PUBREL is about to be written for this QoS 2 row. */
  markReleased(id: number): Promise<void>;
  /**
   * Broker acknowledged (PUBACK/PUBCOMP) or QoS 0 written: delete. The delete rides with the next
   * commit (or commits within a couple of seconds): losing it in a crash only resends the rows.
   */
  complete(ids: number[]): Promise<void>;
  /** Completes still waiting for a commit go with the next one now (someone awaits them). */
  flushCompletions?(): void;
  /** Back to 'queued' (e.g. clean-session connect lost the broker's state). */
  requeueInflight(): Promise<void>;
  /**
   * Move a row the broker will not take out of the outbox into the set-aside table (kept, with the
   * reason and time), so the rows behind it flow. Resolves false when the row was no longer there.
   * The set-aside table is bounded: its oldest rows are dropped and counted ('set_aside_full').
   */
  setAside(id: number, reason: SetAsideReason): Promise<boolean>;
  /** Rows currently set aside. */
  setAsideCount(): number;
  stats(): OutboxStats;
  /**
   * The lane-0 rows a commit added, in id order, right after COMMIT: wakes the upstream sender, which
   * takes them from here instead of reading them back while it has no backlog.
   */
  readonly added$: Observable<OutboxRow[]>;
  /**
   * Counted drops, by reason; also logged (rate-limited) by the store. The one count of each drop:
   * reject_new refusals carry the refused messages' `source`; evictions of stored rows carry none.
   */
  readonly dropped$: Observable<{ reason: DropReason; count: number; source?: string }>;
}

/** A command waiting for a sleeping or unplugged device. */
export interface InboxRow {
  id: number;
  target: string;
  device: string;
  topic: string;
  payload: Buffer;
  qos: QoS;
  createdAt: number;
  expiresAt: number | null;
  /** The Command's id, so a reply or an expiry can still be reported after a restart. */
  commandId: string | null;
  /** Opaque to adapters (Command.meta): what the gateway needs to report the command's result. */
  meta: Record<string, unknown> | null;
}

export type InboxPut = Omit<InboxRow, 'id' | 'createdAt' | 'commandId' | 'meta'> & {
  commandId?: string;
  meta?: Record<string, unknown>;
};

/** Bounds a put must stay within, checked against the stored rows in the write's transaction. */
export interface InboxLimits {
  /** Whole inbox (every target and device). */
  maxRows?: number;
  maxBytes?: number;
  /** This put's (target, device). */
  deviceMaxRows?: number;
  deviceMaxBytes?: number;
}

/** Rejected by Inbox.put when a bound would be exceeded; nothing was written. */
export class InboxFullError extends Error {
  override readonly name = 'InboxFullError';
  constructor(
    readonly scope: 'inbox' | 'device',
    message: string,
  ) {
    super(message);
  }
}

/** How a command left the inbox, when the adapter knows: the gateway reports it on the result topic. */
export type InboxOutcome = 'delivered' | 'rejected';

export interface Inbox {
  /** Bytes counted against the limits are payload + topic (UTF-8). Rejects with InboxFullError. */
  put(cmd: InboxPut, limits?: InboxLimits): Promise<number>;
  /**
   * Several rows in one atomic commit, in order, with `remember` (KvState) in the same transaction:
   * the gateway's command spool and the upstream QoS 2 id it came with (exactly once into the spool).
   */
  putAll(cmds: InboxPut[], opts?: { remember?: KvEntry }): Promise<number[]>;
  /** Distinct (target, device) pairs of rows whose target starts with `prefix` (spool reload at start). */
  devices(prefix: string): { target: string; device: string }[];
  /** Unexpired commands for one device, oldest first. Expired rows are deleted and counted. */
  pending(target: string, device: string, limit?: number): InboxRow[];
  /**
   * Delivered (or given up): delete. `outcome`, when given, is what the device did with the rows: the
   * gateway reports it for commands that asked for a result (commands drained after sleep/replug).
   */
  remove(ids: number[], outcome?: InboxOutcome): Promise<void>;
  /** Delete expired rows; returns them so the caller can report/count. */
  expire(now?: number): Promise<InboxRow[]>;
  count(): number;
  /** Rows and bytes queued for one device, from the stored totals (optional: in-memory test inboxes). */
  deviceTotals(target: string, device: string): { rows: number; bytes: number };
  /** Rows and bytes of every target that starts with `prefix` (the command spool's bound). */
  totalsUnder(prefix: string): { rows: number; bytes: number };
  /** Deletes a device's rows that are not commands (commandId null): its session ended. Returns the count. */
  removeDeviceTraffic(target: string, device: string): Promise<number>;
  /** Expired commands deleted per commit (by pending() or expire()); also logged, rate-limited. */
  readonly expired$: Observable<InboxRow[]>;
}

export interface KvEntry {
  namespace: string;
  key: string;
  value: unknown;
}

/** Small durable key/value state: upstream incoming-QoS2 ids, MQTT-SN sessions, etc. */
export interface KvState {
  get<T>(namespace: string, key: string): T | undefined;
  put(namespace: string, key: string, value: unknown): Promise<void>;
  delete(namespace: string, key: string): Promise<void>;
  list<T>(namespace: string): { key: string; value: T }[];
}

/** A will as kept for a clean-session=false MQTT-SN device. */
export interface StoredWill {
  topic: string;
  msg: Buffer;
  qos: QoS;
  retain: boolean;
}

/** The session row of one clean-session=false device (what is not a registration or subscription). */
export interface DeviceSessionMeta {
  /** Waiting-clock ms of the last state change; for an offline session, when it went offline. */
  lastSeen: number;
  /** Connected or asleep at the last write (restored as such, so a missed keep-alive still fires the will). */
  live: boolean;
  keepAliveMs: number;
  sleepMs: number;
  /** The device's address (adapter-defined JSON), so a restart does not unbind it. */
  peer: Record<string, unknown> | null;
}

export interface DeviceSessionRow extends DeviceSessionMeta {
  clientId: string;
  will: StoredWill | null;
  topics: [id: number, name: string][];
  subs: [filter: string, qos: QoS][];
}

/** What a stored session holds, measured without loading it (restore picks within its budgets). */
export interface DeviceSessionFootprint {
  clientId: string;
  lastSeen: number;
  live: boolean;
  peer: Record<string, unknown> | null;
  topics: number;
  /** UTF-8 bytes of the registered names together. */
  topicBytes: number;
  subs: number;
  /** UTF-8 bytes of the subscription filters together. */
  subBytes: number;
  /** Will topic and message bytes; null when there is no will. */
  willBytes: number | null;
}

/** One atomic change to a device's stored session: only what changed is written. */
export interface DeviceSessionPatch {
  meta?: DeviceSessionMeta;
  /** Delete every stored registration and subscription first (then put* is the whole set). */
  replaceAll?: boolean;
  /** null deletes the will. */
  will?: StoredWill | null;
  putTopics?: [id: number, name: string][];
  deleteTopics?: number[];
  putSubs?: [filter: string, qos: QoS][];
  deleteSubs?: string[];
}

/**
 * Durable state of MQTT-SN clean-session=false devices, as rows: a registration or subscription
 * costs one row write, not a rewrite of the session.
 */
export interface DeviceSessionStore {
  /**
   * Oldest first. With `choose`, every session's footprint is measured first and only the sessions
   * it returns are loaded: a store holding more than the adapter may restore never enters memory.
   */
  list(target: string, choose?: (all: DeviceSessionFootprint[]) => ReadonlySet<string>): DeviceSessionRow[];
  /** Creates the session row when missing (patch.meta is then required for its fields). */
  update(target: string, clientId: string, patch: DeviceSessionPatch): Promise<void>;
  /** Deletes the session with its registrations, subscriptions and will. */
  remove(target: string, clientId: string): Promise<void>;
}

/** Whether writes reach the disk (Store.writeHealth). */
export interface WriteHealth {
  ok: boolean;
  /** Why not ok: the last storage error (SQLITE_FULL, I/O error, failed fsync). */
  error?: string;
  /** Waiting-clock ms of the first failure of the current spell. */
  since?: number;
  /** Waiting-clock ms of the last durable commit whose ops wrote rows. */
  lastWriteAt?: number;
  /** Writes (ops) failed by a storage error since the store opened. */
  errors: number;
}

export interface Store {
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly state: KvState;
  readonly devices: DeviceSessionStore;
  /** Histogram source for metrics: duration of each group commit in ms and its size. */
  readonly commits$: Observable<{ ms: number; ops: number }>;
  /**
   * Not ok from a storage error (disk full, I/O error, failed fsync) until a later commit whose ops
   * wrote rows is durable: an empty or read-only commit (periodic expiry) proves nothing.
   */
  writeHealth(): WriteHealth;
  /**
   * How many sources could send a reading now (e.g. MQTT-SN clients online). With it, a commit
   * waits up to store.commit_interval to gather more readings, and goes at once when every one of
   * them is waiting on an ack. Unset: every commit goes at once.
   */
  setSenders?(senders: () => number): void;
  close(): void;
}
