import type { Inbox } from '../../contracts/store.js';
import type { RoutedCommand } from '../../rules/index.js';
import { SPOOL_PREFIX, spoolTarget } from './spool.js';

/** How much the command spool may hold: commands for devices that do not answer wait here until their ttl. */
export interface SpoolLimits {
  maxRows: number;
  maxBytes: number;
  /** Rows for one device of one adapter. */
  perDevice: number;
}

/**
 * Splits one upstream message's commands into those the spool takes and those over a bound (counted
 * against the stored totals plus the ones taken before them). Without a bound, an application that
 * keeps commanding a device that never answers (unplugged, no ttl) fills the SD card.
 */
export function fitSpool(
  commands: RoutedCommand[],
  inbox: Inbox,
  limits: SpoolLimits,
): { fit: RoutedCommand[]; full: RoutedCommand[] } {
  const fit: RoutedCommand[] = [];
  const full: RoutedCommand[] = [];
  if (!commands.length) return { fit, full };
  const total = { ...inbox.totalsUnder(SPOOL_PREFIX) };
  const perDevice = new Map<string, number>();
  for (const c of commands) {
    const target = spoolTarget(c.target);
    const key = `${target}\0${c.device}`;
    const rows = perDevice.get(key) ?? inbox.deviceTotals(target, c.device).rows;
    const size = c.payload.length + Buffer.byteLength(c.topic);
    if (
      total.rows + 1 > limits.maxRows ||
      total.bytes + size > limits.maxBytes ||
      rows + 1 > limits.perDevice
    ) {
      full.push(c);
      continue;
    }
    fit.push(c);
    total.rows += 1;
    total.bytes += size;
    perDevice.set(key, rows + 1);
  }
  return { fit, full };
}
