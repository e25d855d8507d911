import { catchError, defer, EMPTY, from, mergeMap, type Observable, retry, tap, timer } from 'rxjs';
import type { Adapter, Reading } from '../../adapters/types.js';
import type { Logger } from '../log.js';
import { Backoff } from './backoff.js';

export interface IsolateOptions {
  logger: Logger;
  minDelay?: number;
  maxDelay?: number;
}

/**
 * One adapter's readings, shielded from the rest: an error is logged, the
 * adapter is stopped and started again after a backoff, and the stream goes on.
 * The merged stream never sees the error, so one failing source cannot
 * complete or error the others.
 */
export function isolate(adapter: Adapter, opts: IsolateOptions): Observable<Reading> {
  const { logger } = opts;
  const backoff = new Backoff(opts.minDelay ?? 1000, opts.maxDelay ?? 60_000);
  return defer(() => adapter.readings$).pipe(
    tap(() => backoff.reset()),
    retry({
      delay: (error) => {
        const ms = backoff.next();
        logger.error({ adapter: adapter.name, err: error, retryInMs: ms }, 'adapter failed; restarting it');
        // Restarting can fail too (port still gone): keep trying with the same backoff.
        return timer(ms).pipe(
          mergeMap(() =>
            defer(() => from(restart(adapter, logger))).pipe(
              retry({
                delay: (err) => {
                  logger.warn({ adapter: adapter.name, err }, 'adapter restart failed; will try again');
                  return timer(backoff.next());
                },
              }),
            ),
          ),
        );
      },
    }),
    catchError((error) => {
      logger.fatal({ adapter: adapter.name, err: error }, 'adapter stream failed for good');
      return EMPTY;
    }),
  );
}

async function restart(adapter: Adapter, logger: Logger): Promise<void> {
  try {
    await adapter.stop();
  } catch (err) {
    logger.warn({ adapter: adapter.name, err }, 'adapter stop failed during restart');
  }
  await adapter.start();
  logger.info({ adapter: adapter.name }, 'adapter restarted');
}
