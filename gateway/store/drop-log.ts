import type { Logger } from 'pino';
import { waitingNow } from '../../contracts/clock.js';

interface Tally {
  pending: number;
  lastLoggedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Logs drops at most once per interval per reason, each line with the count since the previous
 * one: a full outbox drops thousands of rows a second and must not flood the journal, nor go silent.
 */
export class DropLog {
  private readonly tallies = new Map<string, Tally>();

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly intervalMs = 10_000,
  ) {}

  add(reason: string, count: number): void {
    if (count <= 0) return;
    let t = this.tallies.get(reason);
    if (!t) {
      t = { pending: 0, lastLoggedAt: Number.NEGATIVE_INFINITY, timer: undefined };
      this.tallies.set(reason, t);
    }
    t.pending += count;
    const wait = t.lastLoggedAt + this.intervalMs - waitingNow();
    if (wait <= 0) this.write(reason, t);
    else t.timer ??= setTimeout(() => this.write(reason, t), wait).unref();
  }

  /** Writes the counts not logged yet (on close). */
  flush(): void {
    for (const [reason, t] of this.tallies) this.write(reason, t);
  }

  private write(reason: string, t: Tally): void {
    clearTimeout(t.timer);
    t.timer = undefined;
    if (t.pending === 0) return;
    const since = Number.isFinite(t.lastLoggedAt) ? waitingNow() - t.lastLoggedAt : undefined;
    this.logger.warn({ reason, count: t.pending, sinceMs: since }, this.message);
    t.pending = 0;
    t.lastLoggedAt = waitingNow();
  }
}
