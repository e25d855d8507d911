import { waitingNow } from '../../contracts/clock.js';
/**
 * Bounds answers the gateway sends unasked-for (DISCONNECT to a sender with no session): at most one
 * per peer per one to two seconds, and at most `perSecond` in all. A spoofed source cannot turn the
 * gateway into a reflector beyond that, and the memory is at most 2 x perSecond keys: two
 * one-second generations, the older dropped whole.
 */
export class ReplyLimit {
  private second = Number.NEGATIVE_INFINITY;
  private current = new Set<string>();
  private previous = new Set<string>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = waitingNow,
  ) {}

  /** True when an answer to `key` may go now (and it is counted). */
  allow(key: string): boolean {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.previous = second === this.second + 1 ? this.current : new Set();
      this.current = new Set();
      this.second = second;
    }
    if (this.current.size >= this.perSecond || this.current.has(key) || this.previous.has(key)) return false;
    this.current.add(key);
    return true;
  }
}
