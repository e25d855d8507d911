import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

const require = createRequire(import.meta.url);

/**
 * JSON lines to stdout (journald keeps them); human-readable only when a
 * person is watching a terminal. pino-pretty runs as an in-process stream, not
 * a transport, so nothing spawns worker threads under systemd.
 */
export function createLogger(level: string, opts: { pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  if (!pretty) return pino({ level, base: { name: 'fieldgate' } });
  // Loaded lazily so journald deployments never pay for it.
  const pinoPretty = require('pino-pretty') as (opts: object) => pino.DestinationStream;
  return pino(
    { level },
    pinoPretty({
      colorize: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      sync: true,
    }),
  );
}
