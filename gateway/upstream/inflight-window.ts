import type { OutboxRow } from '../../contracts/store.js';

/** Where a QoS 1/2 PUBLISH of ours stands. */
export const SENT = 1;
/** QoS 2: PUBREC received (and the row marked released); PUBCOMP awaited. */
export const RELEASED = 2;
export type InFlightState = typeof SENT | typeof RELEASED;

/**
 * Our PUBLISHes awaiting their ack, by packet id. Slots indexed by the id (allocated once,
 * ~0.5 MiB) rather than a Map of { row, state } objects: a message in flight costs no object of
 * its own, and the Map's table was reallocated as one entry per message came and went.
 */
export class InFlightWindow {
  private readonly rows: (OutboxRow | undefined)[] = new Array(65536).fill(undefined);
  private readonly states = new Uint8Array(65536);
  private count = 0;
  /** QoS 2 rows held. */
  private q2 = 0;

  get size(): number {
    return this.count;
  }

  get qos2(): number {
    return this.q2;
  }

  get(packetId: number): OutboxRow | undefined {
    return this.rows[packetId];
  }

  state(packetId: number): InFlightState {
    return this.states[packetId] as InFlightState;
  }

  set(packetId: number, row: OutboxRow, state: InFlightState): void {
    const old = this.rows[packetId];
    if (old) this.forget(packetId, old);
    this.rows[packetId] = row;
    this.states[packetId] = state;
    this.count++;
    if (row.qos === 2) this.q2++;
  }

  release(packetId: number): void {
    this.states[packetId] = RELEASED;
  }

  delete(packetId: number): void {
    const row = this.rows[packetId];
    if (row) this.forget(packetId, row);
  }

  /** The rows in flight, oldest (lowest row id) first. Off the hot path: a dropped connection. */
  list(): OutboxRow[] {
    const out: OutboxRow[] = [];
    if (this.count === 0) return out;
    for (const row of this.rows) if (row) out.push(row);
    return out.sort((a, b) => a.id - b.id);
  }

  clear(): void {
    if (this.count > 0) {
      this.rows.fill(undefined);
      this.states.fill(0);
    }
    this.count = 0;
    this.q2 = 0;
  }

  private forget(packetId: number, row: OutboxRow): void {
    this.rows[packetId] = undefined;
    this.states[packetId] = 0;
    this.count--;
    if (row.qos === 2) this.q2--;
  }
}
