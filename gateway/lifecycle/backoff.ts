/**
 * Exponential backoff with full jitter (AWS "full jitter"), floored at `min` so a
 * failing peer (broker, adapter) is never hammered: delay = min + random * (ceiling - min),
 * ceiling = min(max, min * 2^attempt).
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt after an ordinary failure (broker down, network). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(this.minMs + this.random() * Math.max(0, ceiling - this.minMs));
  }

  /**
   * Delay after a failure that retrying soon cannot fix (bad credentials, not authorized,
   * untrusted certificate): between max/2 and max, so a misconfigured gateway stays quiet.
   */
  long(): number {
    this.attempt++;
    const low = Math.max(this.minMs, this.maxMs / 2);
    return Math.round(low + this.random() * Math.max(0, this.maxMs - low));
  }

  reset(): void {
    this.attempt = 0;
  }
}
