import type { LoggerOptions } from 'pino';
import { waitingNow } from '../../contracts/clock.js';

export interface LogEvent {
  /** Waiting-clock ms (contracts/clock.ts); the status board shows it as wall time. */
  time: number;
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  /** The logger's bindings that say where it came from (part, adapter). */
  part?: string;
  /** err.message, reason or similar from the log object, as text. */
  detail?: string;
}

const LEVELS: Record<number, LogEvent['level']> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * The last `size` log events at `minLevel` (pino's number) or above: warnings and errors for the
 * status page, everything logged for remote management's `logs`. Bounded; oldest dropped first.
 */
export class LogRing {
  private readonly events: LogEvent[] = [];

  constructor(
    private readonly size = 50,
    readonly minLevel = 40,
  ) {}

  push(e: LogEvent): void {
    this.events.push(e);
    if (this.events.length > this.size) this.events.shift();
  }

  /** Newest first. */
  recent(): LogEvent[] {
    return [...this.events].reverse();
  }
}

/**
 * pino hooks that copy warn and above into `ring` in-process (no transport, no worker thread); the
 * log line itself goes to the logger's destination unchanged (JSON on stdout in production).
 */
export function logRingHooks(...rings: LogRing[]): NonNullable<LoggerOptions['hooks']> {
  return {
    logMethod(args, method, level) {
      const name = LEVELS[level];
      const into = name ? rings.filter((r) => level >= r.minLevel) : [];
      if (into.length) {
        try {
          const e = toEvent(name!, args, (this as { bindings?: () => Record<string, unknown> }).bindings?.());
          for (const r of into) r.push(e);
        } catch {
          // a log call must never fail because the status page could not read it
        }
      }
      return method.apply(this, args);
    },
  };
}

function toEvent(level: LogEvent['level'], args: unknown[], bindings?: Record<string, unknown>): LogEvent {
  const [first, second] = args;
  const obj = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
  const msg = obj
    ? typeof second === 'string'
      ? second
      : obj instanceof Error
        ? obj.message
        : ''
    : String(first);
  const part = [bindings?.part, bindings?.adapter].filter((v) => typeof v === 'string').join(' ');
  const detail = obj && describe(obj instanceof Error ? { err: obj } : obj);
  return { time: waitingNow(), level, msg: clip(msg, 300), ...(part && { part }), ...(detail && { detail }) };
}

/** A short text for the page from the usual fields of a log object; never whole objects. */
function describe(obj: Record<string, unknown>): string | undefined {
  const err = obj.err ?? obj.error;
  if (err instanceof Error) return clip(err.message, 300);
  if (typeof err === 'string') return clip(err, 300);
  for (const k of ['reason', 'detail', 'topic', 'path'] as const)
    if (typeof obj[k] === 'string' || typeof obj[k] === 'number') return clip(`${k}: ${obj[k]}`, 300);
  return undefined;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
