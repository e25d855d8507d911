import type { Observable, Subscription } from 'rxjs';
import type { Command, Reading, StoreOutcome } from '../adapters/types.js';
import type { Logger } from './log.js';
import { type Outbox, OutboxFullError, type OutboxMessage } from '../contracts/store.js';
import { type TopicProblem, topicNameProblem, topicPreview } from '../contracts/topic.js';
import { throttledLog } from '../contracts/throttled-log.js';
import { waitingNow } from '../contracts/clock.js';

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
 * The uplink path: reading -> rules -> outbox, then tell the adapter the outcome.
 * Rules run one reading at a time (they are fast and pure) so enqueue calls happen in arrival order:
 * that is what keeps per-device order. Most readings pass the rules synchronously, inside the
 * adapter's emit; a reading whose rules answer with a promise (a JSONata expression) holds back every
 * reading after it until it is done, as concatMap would, without a promise or an inner subscription
 * per reading. The enqueue itself is not awaited here: group commit gathers many readings into one
 * transaction, and each reading's settle() runs when its own commit lands.
 */
export function startIngest(readings$: Observable<Reading>, deps: IngestDeps): Subscription {
  const { outbox, logger } = deps;
  const warn = throttledLog(logger);
  // A full disk refuses every reading of every device: one line per 10 s says so (the metrics count all).
  const storeError = throttledLog(logger, 10_000, waitingNow, 'error');
  /** Readings that arrived while an earlier one was still being evaluated, oldest at `head`. */
  let waiting: (Reading | undefined)[] = [];
  let head = 0;
  let busy = false;
  let stopped = false;

  function take(reading: Reading): void {
    if (busy) {
      waiting.push(reading);
      return;
    }
    evaluate(reading);
    if (!busy && head < waiting.length) drain();
  }

  /** Rules, then the outbox; busy meanwhile, so a reading emitted from inside (re-entrant) waits its turn. */
  function evaluate(reading: Reading): void {
    busy = true;
    let out: UplinkOutput | Promise<UplinkOutput>;
    try {
      out = deps.rules().uplink(reading, waitingNow());
    } catch (err) {
      out = ruleFailed(reading, err);
    }
    if (out instanceof Promise) {
      out.then(
        (r) => resume(reading, r),
        (err: unknown) => resume(reading, ruleFailed(reading, err)),
      );
      return;
    }
    handle(reading, out);
    busy = false;
  }

  /** The asynchronous reading is done: handle it, then the readings that waited for it, in order. */
  function resume(reading: Reading, out: UplinkOutput): void {
    if (stopped) return;
    handle(reading, out);
    busy = false;
    drain();
  }

  function drain(): void {
    while (!busy && head < waiting.length) {
      const next = waiting[head]!;
      waiting[head++] = undefined;
      evaluate(next);
    }
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
  }

  function ruleFailed(reading: Reading, err: unknown): UplinkOutput {
    logger.warn(
      { err, source: reading.source, topic: reading.topic },
      'rule evaluation failed; reading dropped',
    );
    return { messages: [], commands: [], dropped: 'rule_error' };
  }

  /**
   * One reading's fate. A throw here (a broken callback, an enqueue that throws instead of rejecting)
   * stops at this reading: nothing of it was stored, so it settles 'error' (no ack; the device resends)
   * rather than staying in flight at its adapter for good.
   */
  function handle(reading: Reading, result: UplinkOutput): void {
    try {
      store(reading, result);
    } catch (err) {
      logger.error({ err, source: reading.source }, 'ingest failed on a reading');
      settle(reading, 'error');
    }
  }

  /**
   * Every message passes the topic check here, whatever produced it (adapter, rule template, default
   * route): a topic the broker refuses would drop the uplink connection and stall every row behind it.
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

  function store(reading: Reading, result: UplinkOutput): void {
    if (result.commands.length) deps.dispatch(result.commands);
    if (result.dropped) deps.onDropped?.(reading, result.dropped);
    if (result.dropped === 'invalid_topic')
      warn(
        `invalid_topic:${reading.source}`,
        { source: reading.source, device: reading.device, topic: topicPreview(reading.topic) },
        'message refused: a rule made an invalid topic name from it',
      );
    const messages = screen(reading, result.messages);
    if (!messages.length) {
      // Refused (here or by the rules' own topic check): the device is told, so it does not resend.
      const refused = messages.length < result.messages.length || result.dropped === 'invalid_topic';
      settle(reading, refused ? 'refused' : 'filtered');
      return;
    }
    // enqueueThen: one callback per reading instead of enqueue's promise and .then's (CPU per message).
    // A reading with an ack to give (QoS 1/2) may wait for the commit window; QoS 0/-1 never waits.
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

  function settle(reading: Reading, outcome: StoreOutcome): void {
    try {
      reading.settle?.(outcome);
    } catch (err) {
      logger.error({ err, source: reading.source }, 'adapter settle callback threw');
    }
  }

  const sub = readings$.subscribe(take);
  // As concatMap's unsubscription: a reading still being evaluated, and those waiting, are let go.
  sub.add(() => {
    stopped = true;
    waiting = [];
    head = 0;
  });
  return sub;
}
