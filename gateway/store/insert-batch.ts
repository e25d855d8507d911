import type { OutboxMessage, OutboxRow } from '../../contracts/store.js';

/** Called once per enqueue: with the ids after the commit (and fsync), or with why it failed. */
export type EnqueueDone = (err: unknown, ids: number[] | undefined) => void;

/**
 * Single-message enqueues gathered for one flush (bytes per message). Parallel arrays
 * instead of an entry object per message; the properties' JSON array exists only once a message
 * of the batch has properties (rare on the hot path).
 */
export class InsertBatch {
  readonly messages: OutboxMessage[] = [];
  readonly dones: EnqueueDone[] = [];
  /** JSON of each message's properties, serialised at enqueue (a throw refuses that message alone). */
  private json: (string | null)[] | undefined;
  /** Id of the batch's first row once inserted; the rest follow it (one writer; the store assigns them). */
  firstId = 0;
  /** Entries whose device waits on the ack (counted by the group commit's window). */
  waits = 0;

  get length(): number {
    return this.messages.length;
  }

  add(message: OutboxMessage, properties: string | null, done: EnqueueDone): void {
    if (properties !== null && !this.json) this.json = this.messages.map(() => null);
    this.messages.push(message);
    this.dones.push(done);
    this.json?.push(properties);
  }

  properties(i: number): string | null {
    return this.json ? this.json[i]! : null;
  }

  /**
   * Inserted (the rows the sender gets are built): let the messages go now rather than after the
   * fsync, so a scavenge meanwhile does not find them alive and promote them. Only `dones` and
   * `firstId` are read after this.
   */
  inserted(): void {
    this.messages.length = 0;
    this.json = undefined;
  }
}

/**
 * The row the sender gets for a stored message: one literal, in toOutboxRow's field order so rows
 * read back and rows just added share a shape (no spread: it copied into a bigger object).
 */
export function rowOf(m: OutboxMessage, id: number): OutboxRow {
  const row: OutboxRow = {
    id,
    source: m.source,
    device: m.device,
    topic: m.topic,
    payload: m.payload,
    qos: m.qos,
    retain: m.retain,
    receivedAt: m.receivedAt,
    state: 'queued',
    packetId: null,
  };
  if (m.properties !== undefined) row.properties = m.properties;
  if (m.lane !== undefined && m.lane !== 0) row.lane = m.lane;
  return row;
}
