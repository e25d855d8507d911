import { waitingNow } from '../../contracts/clock.js';
/** Token bucket for the optional drain rate cap (max_rate msg/s; 0 = unlimited). */
export class RateLimit {
  private tokens: number;
  private last = waitingNow();
  private readonly burst: number;

  constructor(private readonly perSecond: number) {
    this.burst = Math.max(1, perSecond / 10);
    this.tokens = this.burst;
  }

  /** How many messages may go now (Infinity when unlimited). */
  available(): number {
    if (this.perSecond <= 0) return Number.POSITIVE_INFINITY;
    const now = waitingNow();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    return Math.floor(this.tokens);
  }

  take(n: number): void {
    if (this.perSecond > 0) this.tokens -= n;
  }

  /** ms until one more message may go. */
  waitMs(): number {
    return this.perSecond <= 0 ? 0 : Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
  }
}
