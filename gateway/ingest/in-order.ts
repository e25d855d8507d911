/**
 * One item at a time, in arrival order, with a synchronous fast path: `step` runs inside `take` when
 * nothing is pending; when it answers with a promise, every item after it waits (as concatMap would,
 * without a promise or an inner subscription per item). Items taken from inside `step` or `then`
 * (re-entrant emits) also wait their turn.
 */
export class InOrder<T, R> {
  /** Items that arrived while an earlier one was still being handled, oldest at `head`. */
  private waiting: (T | undefined)[] = [];
  private head = 0;
  private busy = false;
  private stopped = false;

  constructor(
    /** The step whose answer may come later. It must not throw (turn a throw into an answer). */
    private readonly step: (item: T) => R | Promise<R>,
    /** What follows once the answer is in; runs before the next item's step. */
    private readonly then: (item: T, answer: R) => void,
    /** A promise the step returned was rejected: its answer instead. */
    private readonly failed: (item: T, err: unknown) => R,
  ) {}

  take(item: T): void {
    if (this.busy) {
      this.waiting.push(item);
      return;
    }
    this.run(item);
    if (!this.busy && this.head < this.waiting.length) this.drain();
  }

  /** Let go of the item in progress and those waiting (nothing more is handled). */
  stop(): void {
    this.stopped = true;
    this.waiting = [];
    this.head = 0;
  }

  private run(item: T): void {
    this.busy = true;
    const answer = this.step(item);
    if (answer instanceof Promise) {
      answer.then(
        (r) => this.resume(item, r),
        (err: unknown) => this.resume(item, this.failed(item, err)),
      );
      return;
    }
    this.then(item, answer);
    this.busy = false;
  }

  private resume(item: T, answer: R): void {
    if (this.stopped) return;
    this.then(item, answer);
    this.busy = false;
    this.drain();
  }

  private drain(): void {
    while (!this.busy && this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      this.run(next);
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    }
  }
}
