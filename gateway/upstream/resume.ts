import type { Outbox, OutboxRow } from '../../contracts/store.js';
import type { PacketIds } from './packet-ids.js';
import { READ_AHEAD } from './read-ahead.js';

/** A row to write again after a reconnect, with the packet id it goes with (0 for QoS 0). */
export interface Resumed {
  row: OutboxRow;
  packetId: number;
}

/** What to resend on a connection whose broker kept our session. */
export interface ResumePlan {
  /** Every row to write again, in id order. */
  order: Resumed[];
  /** Queued QoS 2 rows among them with a packet id just taken: markSent before any is written. */
  fresh2: { id: number; packetId: number }[];
  /** Rows found in flight (they had a packet id) and queued rows between them. */
  resumed: number;
  between: number;
  /** The id of the last row that was in flight: the read-ahead cursor starts after it. */
  last: number;
}

/**
 * The broker kept our session: the rows left in flight are resent with the same packet ids. QoS
 * 0/1 rows stay 'queued' while in flight: those older than the last resumed QoS 2 row go out
 * between them, in id order, so a device mixing QoS levels keeps its order. A queued QoS 2 row
 * among them (its markSent never committed) gets a new id, to be made durable first.
 */
export function planResume(outbox: Outbox, ids: PacketIds, resumed: OutboxRow[]): ResumePlan {
  for (const row of resumed) ids.hold(row.packetId!);
  const last = resumed.at(-1)?.id ?? 0;
  const between = queuedBefore(outbox, last).map((row) => ({
    row,
    packetId: row.qos > 0 ? ids.take()! : 0,
  }));
  const fresh2 = between.filter((b) => b.row.qos === 2).map((b) => ({ id: b.row.id, packetId: b.packetId }));
  const order = [...resumed.map((row) => ({ row, packetId: row.packetId! })), ...between].sort(
    (a, b) => a.row.id - b.row.id,
  );
  return { order, fresh2, resumed: resumed.length, between: between.length, last };
}

/**
 * The broker has no session (clean session, or it restarted without persistence): it holds none
 * of our PUBLISHes, and a PUBREL alone would complete a row it never delivered. Every row left in
 * flight, 'released' ones too, goes out again as a new PUBLISH with a new packet id, in id order
 * with the queued rows between them. A duplicate is possible (the broker may have delivered some
 * before it lost its state); a loss is not. Returns those rows, in id order, to read ahead.
 */
export function resendAsNew(outbox: Outbox, resumed: OutboxRow[]): OutboxRow[] {
  const last = resumed.at(-1)?.id ?? 0;
  return [...resumed, ...queuedBefore(outbox, last)].sort((a, b) => a.id - b.id);
}

/** Queued rows with ids below `last` (at most the window that was in flight, plus QoS 0). */
function queuedBefore(outbox: Outbox, last: number): OutboxRow[] {
  const rows: OutboxRow[] = [];
  for (let after = 0; after < last; ) {
    const chunk = outbox.nextQueued(after, READ_AHEAD);
    for (const row of chunk) if (row.id < last) rows.push(row);
    if (chunk.length < READ_AHEAD || chunk.at(-1)!.id >= last) break;
    after = chunk.at(-1)!.id;
  }
  return rows;
}

/**
 * Rows of a ResumePlan not yet written: the sender writes them as the windows allow (QoS 2 limit,
 * a probe's window of 1), before any new row.
 */
export class ResumeQueue {
  private list: Resumed[] = [];
  private at = 0;

  get pending(): boolean {
    return this.at < this.list.length;
  }

  set(order: Resumed[]): void {
    this.list = order;
    this.at = 0;
  }

  clear(): void {
    this.list = [];
    this.at = 0;
  }

  /** The next row to write; only while `pending`. */
  peek(): Resumed {
    return this.list[this.at]!;
  }

  /** The row from peek() was written. */
  advance(): void {
    this.at++;
  }
}
