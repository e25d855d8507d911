/**
 * MQTT packet identifiers (1..65535) for outgoing QoS 1/2 PUBLISH, SUBSCRIBE and
 * UNSUBSCRIBE. An id is never handed out while it is still held, including ids
 * restored from the store after a restart.
 */
export class PacketIds {
  private readonly held = new Set<number>();
  private next = 1;

  /** Returns a free id and holds it, or undefined when all 65535 are held. */
  take(): number | undefined {
    if (this.held.size >= 65535) return undefined;
    for (;;) {
      const id = this.next;
      this.next = id === 65535 ? 1 : id + 1;
      if (!this.held.has(id)) {
        this.held.add(id);
        return id;
      }
    }
  }

  /** Hold a known id (a row in flight from before a reconnect/restart). */
  hold(id: number): void {
    this.held.add(id);
  }

  release(id: number): void {
    this.held.delete(id);
  }

  isHeld(id: number): boolean {
    return this.held.has(id);
  }

  clear(): void {
    this.held.clear();
  }

  get size(): number {
    return this.held.size;
  }
}
