import type { Observable, Subscription } from 'rxjs';
import type { Command, Reading, StoreOutcome } from '../../adapters/types.js';
import type { Logger } from '../log.js';
import { type Outbox, OutboxFullError, type OutboxMessage } from '../../contracts/store.js';
import { type TopicProblem, topicNameProblem, topicPreview } from '../../contracts/topic.js';
import { throttledLog } from '../../contracts/throttled-log.js';
import { waitingNow } from '../../contracts/clock.js';
import { InOrder } from './in-order.js';

/** What the rules made of one reading. */
export interface UplinkOutput {
  messages: OutboxMessage[];
  commands: Command[];
  dropped?: string;
}

/**
 * What the gateway needs from the rules: a reading in, messages and commands out. Synchronously when
 * the rules can (no expression looked at the reading), else a promise.
 */
export interface UplinkRules {
  uplink(reading: Reading, now: number): UplinkOutput | Promise<UplinkOutput>;
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
  /**
   * True for a topic this gateway takes commands from or publishes its own status on: an uplink
   * message there is refused ('loop_guard'), so a device cannot command another through the broker.
   */
  isOwnTopic?: (topic: string) => boolean;
}

/** Enqueue options of a reading whose ack waits on its commit: one object, not one per reading. */
const WAIT = { wait: true } as const;

/** Why ingest itself refused a message the rules produced (counted via onDropped). */
export type RefusedReason = 'invalid_topic' | 'loop_guard';

/** The check every message passes before the outbox (also the rules' heartbeat re-publications). */
export function refusalOf(
  topic: string,
  isOwnTopic?: (topic: string) => boolean,
): { reason: RefusedReason; problem?: TopicProblem } | undefined {
  const problem = topicNameProblem(topic);
  if (problem) return { reason: 'invalid_topic', problem };
  return isOwnTopic?.(topic) ? { reason: 'loop_guard' } : undefined;
}

/**
 * The uplink path of one reading: six named steps, in this order (each a function below).
 *
 *   1. inOrder   one reading at a time, in arrival order: a reading whose rules answer later (a JSONata
 *                expression) holds back every reading after it. This is what keeps per-device order.
 *   2. rules     the pure rules: the reading becomes messages and commands (synchronously, inside the
 *                adapter's emit, unless an expression looks at it).
 *   3. commands  commands of local triggers go to the downlink.
 *   4. screen    every message passes the topic check and the own-topics guard.
 *   5. enqueue   the messages join the outbox's next group commit. Not awaited here: each reading
 *                hears its own outcome when its commit (and, in power-loss mode, its fsync) lands.
 *   6. settle    the adapter hears stored / filtered / refused / congestion / error, and acks its
 *                device (or does not, so it resends).
 *
 * A throw in steps 3-5 stops at that reading: nothing of it was stored, so it settles 'error'.
 */
export function startIngest(readings$: Observable<Reading>, deps: IngestDeps): Subscription {
  const { outbox, logger } = deps;
  const warn = throttledLog(logger);
  // A full disk refuses every reading of every device: one line per 10 s says so (the metrics count all).
  const storeError = throttledLog(logger, 10_000, waitingNow, 'error');

  const inOrder = new InOrder<Reading, UplinkOutput>(rules, afterRules, ruleFailed);

  /** Step 2. */
  function rules(reading: Reading): UplinkOutput | Promise<UplinkOutput> {
    try {
      return deps.rules().uplink(reading, waitingNow());
    } catch (err) {
      return ruleFailed(reading, err);
    }
  }

  function ruleFailed(reading: Reading, err: unknown): UplinkOutput {
    logger.warn(
      { err, source: reading.source, topic: reading.topic },
      'rule evaluation failed; reading dropped',
    );
    return { messages: [], commands: [], dropped: 'rule_error' };
  }

  /** Steps 3 to 5, once the rules answered. */
  function afterRules(reading: Reading, out: UplinkOutput): void {
    try {
      commands(out);
      countDrop(reading, out);
      const messages = screen(reading, out.messages);
      if (messages.length) enqueue(reading, messages);
      else {
        // Refused (here or by the rules' own topic check): the device is told, so it does not resend.
        const refused = out.messages.length > 0 || out.dropped === 'invalid_topic';
        settle(reading, refused ? 'refused' : 'filtered');
      }
    } catch (err) {
      logger.error({ err, source: reading.source }, 'ingest failed on a reading');
      settle(reading, 'error');
    }
  }

  /** Step 3. */
  function commands(out: UplinkOutput): void {
    if (out.commands.length) deps.dispatch(out.commands);
  }

  function countDrop(reading: Reading, out: UplinkOutput): void {
    if (!out.dropped) return;
    deps.onDropped?.(reading, out.dropped);
    if (out.dropped === 'invalid_topic')
      warn(
        `invalid_topic:${reading.source}`,
        { source: reading.source, device: reading.device, topic: topicPreview(reading.topic) },
        'message refused: a rule made an invalid topic name from it',
      );
  }

  /**
   * Step 4. Every message passes the topic check here, whatever produced it (adapter, rule template,
   * default route): a topic the broker refuses would drop the uplink connection and stall every row
   * behind it.
   */
  function screen(reading: Reading, messages: OutboxMessage[]): OutboxMessage[] {
    let kept: OutboxMessage[] | undefined; // only copied once one is refused (rare)
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const refused = refusalOf(m.topic, deps.isOwnTopic);
      if (!refused) {
        kept?.push(m);
        continue;
      }
      kept ??= messages.slice(0, i);
      const { reason, problem } = refused;
      deps.onDropped?.(reading, reason);
      warn(
        `${reason}:${reading.source}`,
        { source: reading.source, device: reading.device, topic: topicPreview(m.topic), reason, problem },
        reason === 'loop_guard'
          ? "message refused: its topic is one of the gateway's own (commands, status)"
          : 'message refused: the topic is not a valid MQTT topic name',
      );
    }
    return kept ?? messages;
  }

  /**
   * Step 5. enqueueThen: one callback per reading instead of enqueue's promise and .then's (CPU per
   * message). A reading with an ack to give (QoS 1/2) may wait for the commit window; QoS 0/-1 never
   * waits.
   */
  function enqueue(reading: Reading, messages: OutboxMessage[]): void {
    const opts =
      reading.settle === undefined
        ? undefined
        : reading.remember
          ? { remember: reading.remember, wait: true }
          : WAIT;
    outbox.enqueueThen(messages, opts, (err, ids) => {
      if (ids) settle(reading, 'stored');
      else if (err instanceof OutboxFullError) {
        // Counted once, by the store (dropped$ reject_new, with this reading's source).
        settle(reading, 'congestion');
      } else {
        storeError('enqueue', { err, source: reading.source }, 'outbox enqueue failed');
        deps.onStoreError?.(err);
        settle(reading, 'error');
      }
    });
  }

  /** Step 6. */
  function settle(reading: Reading, outcome: StoreOutcome): void {
    try {
      reading.settle?.(outcome);
    } catch (err) {
      logger.error({ err, source: reading.source }, 'adapter settle callback threw');
    }
  }

  // Step 1: every reading enters through inOrder.
  const sub = readings$.subscribe((reading) => inOrder.take(reading));
  // As concatMap's unsubscription: a reading still being evaluated, and those waiting, are let go.
  sub.add(() => inOrder.stop());
  return sub;
}
