import { waitingNow } from '../../contracts/clock.js';
/** Disconnects with a row alone in flight and no ack before that row is set aside. */
const STRIKES = 2;
/**
 * A strike counts only when the connection ended this soon after the row went out: a broker drops
 * a PUBLISH it refuses at once, while a bad link that happens to die later is not the row's fault.
 */
const STRIKE_MS = 5000;

/**
 * Finds the row a broker will not take when it says so only by dropping the connection (MQTT 3.1.1,
 * or a broker that disconnects instead of answering with a reason code). A connection that ends
 * with rows in flight and no ack at all makes the next one probe with a window of 1 until an ack
 * comes; a row alone in flight when the connection dropped right after it (STRIKE_MS) STRIKES times
 * is the one to set aside. The sender asks only about drops by the broker or the network: one the
 * gateway made itself (keep-alive timeout, a failed store write, a packet it will not take) is none.
 */
export class PoisonProbe {
  /** The last connection dropped with rows in flight and no ack: one row at a time until an ack. */
  private active = false;
  /** An ack for one of our rows arrived on this connection. */
  private progress = false;
  /** Row id -> disconnects while it was alone in flight (probing). */
  private readonly strikes = new Map<number, number>();
  /** When the last row was put in flight. */
  private sentAt = 0;

  /** The in-flight window while probing (1), else the normal one. */
  window(normal: number): number {
    return this.active ? 1 : normal;
  }

  get probing(): boolean {
    return this.active;
  }

  attached(): void {
    this.progress = false;
  }

  sent(): void {
    this.sentAt = waitingNow();
  }

  /** Any ack (also a refusal) for a row in flight: the broker reads what we send. */
  acked(): void {
    this.progress = true;
  }

  /** A row was delivered: the broker takes messages again, back to the full window. */
  delivered(): void {
    if (!this.active) return;
    this.active = false;
    this.strikes.clear();
  }

  /**
   * The gateway closed the connection on a malformed ack for row `id`: a strike against that row,
   * whatever else was acked (the ack names it). Returns true on its last strike (set it aside), so a
   * broker that answers one row with garbage costs STRIKES reconnects, not a reconnect loop.
   */
  blame(id: number): boolean {
    const n = (this.strikes.get(id) ?? 0) + 1;
    if (n < STRIKES) {
      this.strikes.set(id, n);
      return false;
    }
    this.strikes.delete(id);
    return true;
  }

  /**
   * The connection ended with `inflight` rows in flight. Returns the row id to set aside, if this
   * drop was its last strike; `onStart` is called when probing begins.
   */
  dropped(inflight: readonly { id: number }[], onStart: () => void): number | undefined {
    if (this.progress || inflight.length === 0) return undefined;
    let guilty: number | undefined;
    if (this.active && inflight.length === 1 && waitingNow() - this.sentAt <= STRIKE_MS) {
      const id = inflight[0]!.id;
      const n = (this.strikes.get(id) ?? 0) + 1;
      if (n >= STRIKES) {
        this.strikes.delete(id);
        guilty = id;
      } else this.strikes.set(id, n);
    }
    if (!this.active) onStart();
    this.active = true;
    return guilty;
  }
}
