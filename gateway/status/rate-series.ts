/**
 * Counts per second over the last `seconds` seconds (a ring of buckets): messages in/out for the
 * status page chart. Pure; the clock is passed in.
 */
export class RateSeries {
  private readonly counts: Float64Array;
  /** The second (ms / 1000, floored) the newest bucket belongs to. */
  private head = 0;

  constructor(private readonly seconds = 600) {
    this.counts = new Float64Array(seconds);
  }

  add(now: number, n = 1): void {
    this.advance(now);
    this.counts[this.slot(this.head)]! += n;
  }

  /** Oldest first, one value per second, ending with the current (partial) second. */
  values(now: number): number[] {
    this.advance(now);
    const out: number[] = [];
    for (let s = this.head - this.seconds + 1; s <= this.head; s++) out.push(this.counts[this.slot(s)]!);
    return out;
  }

  /** Mean per second over the last `window` full seconds. */
  rate(now: number, window = 60): number {
    const v = this.values(now).slice(-window - 1, -1);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
  }

  private slot(sec: number): number {
    return ((sec % this.seconds) + this.seconds) % this.seconds;
  }

  private advance(now: number): void {
    const sec = Math.floor(now / 1000);
    if (this.head === 0) this.head = sec;
    if (sec <= this.head) return;
    // Clear the buckets skipped since the last event (at most the whole ring).
    for (let s = Math.max(this.head + 1, sec - this.seconds + 1); s <= sec; s++)
      this.counts[this.slot(s)] = 0;
    this.head = sec;
  }
}
