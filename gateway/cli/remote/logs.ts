import type { Admin } from './admin.js';
import { EXIT, exitForCode } from './exit-codes.js';
import { NoAnswer } from '../../upstream/operator-session.js';
import { waitingNow } from '../../../contracts/clock.js';

export interface LogsOptions {
  lines: number;
  level?: string;
  follow?: boolean;
  /** Between polls when following. */
  intervalMs: number;
}

type LogEvent = Record<string, unknown>;

/** Events already printed, remembered only this far back (the ring holds at most 1000). */
const REMEMBER = 2000;

/**
 * `fieldgate remote logs GW [-f]`: the last events of the gateway's log ring, oldest first. With
 * -f, the ring is asked again every interval and only new events are printed, until Ctrl-C; a
 * missed poll (gateway restarting, link down) is said once and the next one tried.
 */
export async function logsCommand(admin: Admin, gateway: string, opts: LogsOptions): Promise<number> {
  const printed = new Set<string>();
  const order: string[] = [];
  const poll = async (): Promise<number> => {
    const a = await admin.request(gateway, 'logs', {
      lines: opts.lines,
      ...(opts.level && { level: opts.level }),
    });
    const events = (a.body as { events?: unknown } | undefined)?.events;
    if (a.code !== 'ok' || !Array.isArray(events)) {
      console.error(`${gateway}: ${a.code}: ${a.message}`);
      return exitForCode(a.code) || EXIT.refused;
    }
    for (const e of oldestFirst(events as LogEvent[])) {
      const key = JSON.stringify(e);
      if (printed.has(key)) continue;
      printed.add(key);
      order.push(key);
      if (order.length > REMEMBER) printed.delete(order.shift()!);
      console.log(formatEvent(e));
    }
    return EXIT.ok;
  };
  const first = await poll();
  if (!opts.follow || first !== EXIT.ok) return first;

  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let quiet = false;
  try {
    while (!stopped) {
      await sleepUnless(opts.intervalMs, () => stopped);
      if (stopped) break;
      try {
        const code = await poll();
        if (code !== EXIT.ok) return code;
        if (quiet) console.error(`${gateway}: answering again`);
        quiet = false;
      } catch (err) {
        if (!(err instanceof NoAnswer)) throw err;
        if (!quiet) console.error(`${gateway}: ${err.message}; still trying (Ctrl-C stops)`);
        quiet = true;
      }
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The ring may answer newest first; print in time order when the events say their time. */
function oldestFirst(events: LogEvent[]): LogEvent[] {
  const t = (e: LogEvent) =>
    typeof e.time === 'number' ? e.time : typeof e.time === 'string' ? Date.parse(e.time) : Number.NaN;
  if (events.every((e) => !Number.isNaN(t(e)))) return [...events].sort((a, b) => t(a) - t(b));
  return events;
}

/** `time LEVEL [part] msg (detail)`: one line per event, whatever the gateway's version adds. */
export function formatEvent(e: LogEvent): string {
  const time =
    typeof e.time === 'number' ? new Date(e.time).toISOString() : typeof e.time === 'string' ? e.time : '';
  const level = typeof e.level === 'string' ? e.level.toUpperCase() : String(e.level ?? '');
  const part = typeof e.part === 'string' ? ` [${e.part}]` : '';
  const detail = typeof e.detail === 'string' ? ` (${e.detail})` : '';
  return `${time} ${level.padEnd(5)}${part} ${String(e.msg ?? '')}${detail}`.trim();
}

async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const until = waitingNow() + ms;
  while (!stop() && waitingNow() < until)
    await new Promise((r) => setTimeout(r, Math.min(100, until - waitingNow())));
}
