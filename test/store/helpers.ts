import { pino } from 'pino';
import { openStore } from '../../gateway/store/open.js';
import type { OutboxLimits } from '../../gateway/store/limits.js';
import { rowCost } from '../../gateway/store/outbox-totals.js';
import type { OutboxMessage, Store } from '../../contracts/store.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function captureLogger() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

export const DEFAULT_LIMITS: OutboxLimits = {
  max_rows: 1_000_000,
  max_bytes: 256 * 1024 * 1024,
  max_age: 7 * 86400e3,
  overflow: 'drop-oldest',
};

export function open(
  dir: string,
  limits: Partial<OutboxLimits> = {},
  durability: 'power-loss' | 'process-crash' = 'process-crash',
  expireEveryMs?: number,
) {
  const { logger, lines } = captureLogger();
  const store: Store = openStore({
    dir,
    durability,
    limits: { ...DEFAULT_LIMITS, ...limits },
    logger,
    expireEveryMs,
  });
  return { store, lines };
}

export function msg(device: string, seq: number, payloadBytes?: number): OutboxMessage {
  return {
    source: 'test',
    device,
    topic: `sensors/${device}/seq`,
    payload: payloadBytes === undefined ? Buffer.from(String(seq)) : Buffer.alloc(payloadBytes, seq % 256),
    qos: 1,
    retain: false,
    receivedAt: 1_700_000_000_000 + seq,
  };
}

/** Collects dropped$ totals by reason. */
export function dropTotals(store: Store): Record<string, number> {
  const totals: Record<string, number> = {};
  store.outbox.dropped$.subscribe(({ reason, count }) => {
    totals[reason] = (totals[reason] ?? 0) + count;
  });
  return totals;
}

/** Enqueues messages seq from..to-1 for `device`, `burst` concurrent calls per event-loop turn. */
export async function enqueueRange(
  store: Store,
  device: string,
  from: number,
  to: number,
  burst = 100,
  bytes?: number,
) {
  const results: PromiseSettledResult<number[]>[] = [];
  for (let start = from; start < to; start += burst) {
    const calls = [];
    for (let seq = start; seq < Math.min(to, start + burst); seq++)
      calls.push(store.outbox.enqueue([msg(device, seq, bytes)]));
    results.push(...(await Promise.allSettled(calls)));
  }
  return results;
}

/** What a message without properties counts against max_bytes (its row's cost on disk). */
export function cost(m: OutboxMessage): number {
  return rowCost(m, null);
}
