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
  /** ms since epoch when the reading arrived (end-to-end latency starts here). */
  receivedAt: number;
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
  /** enqueue time (ms) of the oldest row, null when empty. */
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
  /** Oldest rows in state 'queued' with id > afterId, in id order (index scan, never a full scan). */
  nextQueued(afterId: number, limit: number): OutboxRow[];
  /** Rows in state 'sent' or 'released', in id order: resumed after reconnect/restart. */
  inflight(): OutboxRow[];
  /**
   * Durably record packet ids before the PUBLISHes are written: QoS 2 exactly-once needs the broker
   * to see the same id again after a restart. QoS 0/1 rows stay 'queued' until completed.
   */
  markSent(assignments: { id: number; packetId: number }[]): Promise<void>;
  /** Durably record that PUBREL is about to be written for this QoS 2 row. */
  markReleased(id: number): Promise<void>;
  /** Broker acknowledged (PUBACK/PUBCOMP) or QoS 0 written: delete. */
  complete(ids: number[]): Promise<void>;
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
   * The rows a commit added, in id order, right after COMMIT: wakes the upstream sender, which
   * takes them from here instead of reading them back while it has no backlog.
   */
  readonly added$: Observable<OutboxRow[]>;
  /** Counted drops, by reason; also logged (rate-limited) by the store. */
  readonly dropped$: Observable<{ reason: DropReason; count: number }>;
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

export interface Inbox {
  put(cmd: InboxPut): Promise<number>;
  /** Unexpired commands for one device, oldest first. Expired rows are deleted and counted. */
  pending(target: string, device: string, limit?: number): InboxRow[];
  /** Delivered (or given up): delete. */
  remove(ids: number[]): Promise<void>;
  /** Delete expired rows; returns them so the caller can report/count. */
  expire(now?: number): Promise<InboxRow[]>;
  count(): number;
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

export interface Store {
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly state: KvState;
  /** Histogram source for metrics: duration of each group commit in ms and its size. */
  readonly commits$: Observable<{ ms: number; ops: number }>;
  close(): void;
}
