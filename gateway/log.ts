import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import { type LogRing, logRingHooks } from './status/log-ring.js';

export type { Logger };

const require = createRequire(import.meta.url);

/**
 * JSON lines to stdout (journald keeps them); human-readable only when a
 * person is watching a terminal. pino-pretty runs as an in-process stream, not
 * a transport, so nothing spawns worker threads under systemd.
 */
export function createLogger(
  level: string,
  opts: { pretty?: boolean; ring?: LogRing; tail?: LogRing } = {},
): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  // Warnings and errors are also copied, in-process, into the status page's ring.
  // And, for remote management's `logs`, everything logged into a longer tail.
  const rings = [opts.ring, opts.tail].filter((r): r is LogRing => r !== undefined);
  const hooks = rings.length ? { hooks: logRingHooks(...rings) } : {};
  if (!pretty) return pino({ level, base: { name: 'fieldgate' }, ...hooks });
  // Loaded lazily so journald deployments never pay for it.
  const pinoPretty = require('pino-pretty') as (opts: object) => pino.DestinationStream;
  return pino(
    { level, ...hooks },
    pinoPretty({
      colorize: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      sync: true,
    }),
  );
}
