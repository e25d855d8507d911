import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config/load.js';
import {
  peek,
  peekSetAside,
  purge,
  purgeSetAside,
  retrySetAside,
  stats,
  wallOffsetEstimate,
} from '../store/inspect.js';

interface QueueOptions {
  config: string;
  inbox?: boolean;
  /** The set-aside rows (rows the broker would not take) instead of the outbox. */
  dead?: boolean;
  limit: string;
  yes?: boolean;
}

/** `fieldgate queue stats|peek|purge|retry`: safe beside a running gateway (WAL readers; purge waits for its lock). */
export async function queueCommand(action: string, opts: QueueOptions): Promise<number> {
  const dir = loadConfig(opts.config).gateway.state_dir;
  const which = opts.inbox ? 'inbox' : 'outbox';
  switch (action) {
    case 'stats': {
      const s = stats(dir);
      const age = s.outbox.oldestAgeMs === null ? '-' : `${Math.round(s.outbox.oldestAgeMs / 1000)}s`;
      console.log(`store      ${s.path} (${s.fileBytes} bytes on disk, schema v${s.schemaVersion})`);
      console.log(
        `outbox     ${s.outbox.rows} rows, ${s.outbox.bytes} bytes (max_bytes counts these), ${s.outbox.inflight} QoS 2 in flight, oldest ${age}`,
      );
      console.log(`inbox      ${s.inbox.rows} commands waiting for devices`);
      const reasons = Object.entries(s.setAside.byReason).map(([r, n]) => `${n} ${r}`);
      console.log(
        `set aside  ${s.setAside.rows} rows the broker would not take${reasons.length ? ` (${reasons.join(', ')})` : ''}`,
      );
      return 0;
    }
    case 'peek': {
      const offset = wallOffsetEstimate(dir);
      if (opts.dead) {
        for (const row of peekSetAside(dir, { limit: Number(opts.limit) })) {
          const { payload, ...rest } = row;
          console.log(JSON.stringify({ ...onWallClock(rest, offset), payload: preview(payload) }));
        }
        return 0;
      }
      for (const row of peek(dir, { limit: Number(opts.limit), from: which })) {
        const { payload, ...rest } = row;
        console.log(JSON.stringify({ ...onWallClock(rest, offset), payload: preview(payload) }));
      }
      return 0;
    }
    case 'retry': {
      const n = retrySetAside(dir);
      console.log(`${n} set-aside rows queued again at the end of the outbox`);
      return 0;
    }
    case 'purge': {
      if (opts.dead) {
        if (!opts.yes && !(await confirm(`Delete every set-aside row in ${dir}? Type "yes": `))) {
          console.error('not purged');
          return 1;
        }
        console.log(`purged ${purgeSetAside(dir)} set-aside rows`);
        return 0;
      }
      if (!opts.yes && !(await confirm(`Delete every row of the ${which} in ${dir}? Type "yes": `))) {
        console.error('not purged');
        return 1;
      }
      const n = purge(dir, { which });
      console.log(`purged ${n.outbox} outbox rows, ${n.inbox} inbox rows`);
      return 0;
    }
    default:
      console.error(`unknown action "${action}": expected stats, peek, retry or purge`);
      return 2;
  }
}

function preview(payload: Buffer): string {
  const text = payload.toString('utf8');
  const printable = /^[\x20-\x7e\t\r\n]*$/.test(text);
  const shown = printable ? text : `hex:${payload.toString('hex')}`;
  return shown.length > 120 ? `${shown.slice(0, 117)}...` : shown;
}

/** Asks on a terminal; without one (a script, systemd) the answer is no: use --yes. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/** Rows keep waiting-clock times (they never step); shown as ms since epoch on today's wall clock. */
const TIMES = ['receivedAt', 'createdAt', 'expiresAt', 'setAsideAt'] as const;

function onWallClock<T extends object>(row: T, offset: number): T {
  const out = { ...row } as Record<string, unknown>;
  for (const k of TIMES) if (typeof out[k] === 'number') out[k] = (out[k] as number) + offset;
  return out as T;
}
