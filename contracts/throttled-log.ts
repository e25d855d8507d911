import type { Logger } from 'pino';

/**
 * Logs at most one line per key per interval, then says how many it held back: a device flooding
 * bad messages is counted in full by the metrics but cannot flood the journal.
 */
export function throttledLog(
  logger: Logger,
  intervalMs = 10_000,
  now: () => number = Date.now,
  level: 'warn' | 'error' = 'warn',
) {
  const last = new Map<string, { at: number; held: number }>();
  return (key: string, fields: Record<string, unknown>, msg: string): void => {
    const t = now();
    const entry = last.get(key);
    if (entry && t - entry.at < intervalMs) {
      entry.held++;
      return;
    }
    const held = entry?.held ?? 0;
    last.set(key, { at: t, held: 0 });
    if (last.size > 1000) last.delete(last.keys().next().value!); // keys are reasons: never many
    logger[level](held ? { ...fields, suppressed: held } : fields, msg);
  };
}
