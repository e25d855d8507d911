import { concatMap, type Observable, type Subscription } from 'rxjs';
import type { Command, Reading, StoreOutcome } from '../adapters/types.js';
import type { Logger } from './log.js';
import { type Outbox, OutboxFullError, type OutboxMessage } from '../contracts/store.js';

/** What the gateway needs from the rules: a reading in, messages and commands out. */
export interface UplinkRules {
  uplink(
    reading: Reading,
    now: number,
  ): Promise<{ messages: OutboxMessage[]; commands: Command[]; dropped?: string }>;
}

export interface IngestDeps {
  /** Current rules; a function so a SIGHUP reload swaps them between two readings. */
  rules: () => UplinkRules;
  outbox: Outbox;
  /** Commands the rules produced (local triggers): handed to the downlink dispatcher. */
  dispatch: (commands: Command[]) => void;
  logger: Logger;
  onDropped?: (reading: Reading, reason: string) => void;
  /** The store failed to commit (disk full, I/O error): health reports it until a commit succeeds. */
  onStoreError?: (err: unknown) => void;
}

/**
 * The uplink path: reading -> rules -> outbox, then tell the adapter the outcome.
 * Rules run one reading at a time (they are fast and pure) so enqueue calls
 * happen in arrival order: that is what keeps per-device order. The enqueue
 * itself is not awaited here: group commit gathers many readings into one
 * transaction, and each reading's settle() runs when its own commit lands.
 */
export function startIngest(readings$: Observable<Reading>, deps: IngestDeps): Subscription {
  const { outbox, logger } = deps;
  return readings$
    .pipe(
      concatMap(async (reading) => {
        try {
          return { reading, result: await deps.rules().uplink(reading, Date.now()) };
        } catch (err) {
          logger.warn(
            { err, source: reading.source, topic: reading.topic },
            'rule evaluation failed; reading dropped',
          );
          return { reading, result: { messages: [], commands: [], dropped: 'rule_error' } };
        }
      }),
    )
    .subscribe(({ reading, result }) => {
      if (result.commands.length) deps.dispatch(result.commands);
      if (result.dropped) deps.onDropped?.(reading, result.dropped);
      if (!result.messages.length) {
        settle(reading, 'filtered');
        return;
      }
      outbox.enqueue(result.messages, reading.remember && { remember: reading.remember }).then(
        () => settle(reading, 'stored'),
        (err: unknown) => {
          if (err instanceof OutboxFullError) {
            // Counted once, by the store (dropped$ reject_new, with this reading's source).
            settle(reading, 'congestion');
          } else {
            logger.error({ err, source: reading.source }, 'outbox enqueue failed');
            deps.onStoreError?.(err);
            settle(reading, 'error');
          }
        },
      );
    });

  function settle(reading: Reading, outcome: StoreOutcome): void {
    try {
      reading.settle?.(outcome);
    } catch (err) {
      logger.error({ err, source: reading.source }, 'adapter settle callback threw');
    }
  }
}
