/**
 * MQTT packet identifiers (1..65535) for outgoing QoS 1/2 PUBLISH, SUBSCRIBE and
 * UNSUBSCRIBE. An id is never handed out while it is still held, including ids
 * restored from the store after a restart.
 *
 * A flag per id (64 KiB, once) rather than a Set: one id is taken and released per message,
 * and a Set's table was reallocated as those adds and deletes churned it.
 */
export class PacketIds {
  private readonly held = new Uint8Array(65536);
  private count = 0;
  private next = 1;

  /** Returns a free id and holds it, or undefined when all 65535 are held. */
  take(): number | undefined {
    if (this.count >= 65535) return undefined;
    for (;;) {
      const id = this.next;
      this.next = id === 65535 ? 1 : id + 1;
      if (this.held[id] === 0) {
        this.held[id] = 1;
        this.count++;
        return id;
      }
    }
  }

  /** Hold a known id (a row in flight from before a reconnect/restart). */
  hold(id: number): void {
    if (this.held[id] !== 0) return;
    this.held[id] = 1;
    this.count++;
  }

  release(id: number): void {
    if (this.held[id] !== 1) return;
    this.held[id] = 0;
    this.count--;
  }

  isHeld(id: number): boolean {
    return this.held[id] === 1;
  }

  clear(): void {
    this.held.fill(0);
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}
