import type { Logger } from 'pino';
import { waitingNow } from './clock.js';

/** Logs `msg` unless a line of the same key went out less than an interval ago (see throttledLog). */
export type ThrottledLog = (
  key: string,
  fields: Record<string, unknown>,
  msg: string,
  level?: 'info' | 'warn' | 'error',
) => void;

/**
 * Logs at most one line per key per interval, then says how many it held back: a device flooding
 * bad messages is counted in full by the metrics but cannot flood the journal. The one rate limit
 * of log lines for adapters and gateway alike (the store's DropLog adds up counts it is handed).
 */
export function throttledLog(
  logger: Logger,
  intervalMs = 10_000,
  now: () => number = waitingNow,
  defaultLevel: 'info' | 'warn' | 'error' = 'warn',
): ThrottledLog {
  const last = new Map<string, { at: number; held: number }>();
  return (key, fields, msg, level = defaultLevel) => {
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
