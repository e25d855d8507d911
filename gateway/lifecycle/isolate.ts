import { catchError, defer, EMPTY, from, mergeMap, type Observable, retry, timer } from 'rxjs';
import type { Adapter, Reading } from '../../adapters/types.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './backoff.js';

export interface IsolateOptions {
  logger: Logger;
  minDelay?: number;
  maxDelay?: number;
  /** Called when the adapter failed and is about to be restarted (for metrics). */
  onRestart?: (adapter: Adapter, error: unknown, attempt: number) => void;
}

/**
 * One adapter's readings, shielded from the rest: an error is logged, the
 * adapter is stopped and started again after a backoff, and the stream goes on.
 * The merged stream never sees the error, so one failing source cannot
 * complete or error the others.
 */
export function isolate(adapter: Adapter, opts: IsolateOptions): Observable<Reading> {
  const { logger, minDelay = 1000, maxDelay = 60_000 } = opts;
  return defer(() => adapter.readings$).pipe(
    retry({
      resetOnSuccess: true,
      delay: (error, attempt) => {
        const ms = backoffDelay(attempt - 1, minDelay, maxDelay);
        logger.error({ adapter: adapter.name, err: error, retryInMs: ms }, 'adapter failed; restarting it');
        opts.onRestart?.(adapter, error, attempt);
        // Restarting can fail too (port still gone): keep trying with the same backoff.
        return timer(ms).pipe(
          mergeMap(() =>
            defer(() => from(restart(adapter, logger))).pipe(
              retry({
                delay: (err, n) => {
                  logger.warn({ adapter: adapter.name, err }, 'adapter restart failed; will try again');
                  return timer(backoffDelay(attempt - 1 + n, minDelay, maxDelay));
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
