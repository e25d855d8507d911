import type { Logger } from 'pino';

/**
 * Warn about refusals without letting a flood flood the journal: at most one line per reason per
 * interval, carrying how many of that reason were suppressed since the last line. Counting is the
 * caller's job (Stats.drop); this only decides what is logged.
 */
export class RefusalLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(reason: string, fields: Record<string, unknown>, msg: string, level: 'warn' | 'error' = 'warn'): void {
    const t = this.now();
    const e = this.last.get(reason);
    if (e && t - e.at < this.everyMs) {
      e.suppressed++;
      return;
    }
    this.log[level]({ ...fields, reason, suppressedSinceLast: e?.suppressed ?? 0 }, msg);
    this.last.set(reason, { at: t, suppressed: 0 });
  }
}
