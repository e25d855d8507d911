import { waitingNow } from '../../../contracts/clock.js';

/** Timers and time as the framers use them; tests hand in a fake one to step time by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: waitingNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Calls onStale once a held partial frame has seen no new byte for `ms`. One timer per partial
 * frame, not one per chunk: a byte only moves a timestamp, and a timer that fires before the
 * line has been quiet long enough (more bytes came, or it fired early) waits out the rest.
 */
export class StaleTimer {
  private lastByteAt = 0;
  private handle: unknown;

  constructor(
    private readonly ms: number,
    private readonly onStale: () => void,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Bytes arrived; `holding`: a partial frame is still buffered after them. */
  touch(holding: boolean): void {
    this.lastByteAt = this.clock.now();
    if (!holding) this.cancel();
    else if (this.handle === undefined) this.arm(this.ms);
  }

  cancel(): void {
    if (this.handle === undefined) return;
    this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(ms: number): void {
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      const quiet = this.clock.now() - this.lastByteAt;
      if (quiet >= this.ms) this.onStale();
      else this.arm(this.ms - quiet);
    }, ms);
  }
}
