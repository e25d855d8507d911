import {
  type Adapter,
  type Command,
  CommandExpiredError,
  type DownlinkMessage,
  isSubscribing,
} from '../../adapters/types.js';
import {
  type CommandOutcome,
  commandReply,
  type ResponseRequest,
  type RoutedCommand,
  type RuleEngine,
} from '../../rules/index.js';
import type { Logger } from '../log.js';
import type { Inbox, InboxOutcome, InboxRow, KvEntry, Outbox, OutboxMessage } from '../../contracts/store.js';
import { DeviceQueues } from './device-queues.js';
import { fromInboxRow, toSpoolRow } from './spool.js';
import { fitSpool, type SpoolLimits } from './spool-bound.js';
import { waitingNow } from '../../contracts/clock.js';
import { type ThrottledLog, throttledLog } from '../../contracts/throttled-log.js';

export interface DownlinkDeps {
  adapters: ReadonlyMap<string, Adapter>;
  rules: () => RuleEngine;
  outbox: Outbox;
  /** The store's inbox: upstream commands are spooled here (target `spool:<adapter>`) before the ack. */
  inbox: Inbox;
  logger: Logger;
  onCommand?: (command: Command, outcome: CommandOutcome) => void;
  /** Why a request's Response Topic may not be published to (gateway/response-topics.ts), or undefined. */
  screenResponseTopic?: (topic: string) => string | undefined;
  /** A Response Topic was refused: the command still runs, its result goes to result_topic if any. */
  onResponseTopicRefused?: (topic: string, reason: string) => void;
  /** Bounds of the command spool; none in tests that do not exercise them. */
  spoolLimits?: SpoolLimits;
}

/** Commands awaiting a device reply are remembered this long at most (bounded memory). */
const MAX_AWAITING_REPLY = 1000;

/**
 * The downlink path: upstream message -> command rules -> durable spool -> per-device queues ->
 * adapter.send(), and device subscriptions (MQTT-SN) -> adapter.deliver(). The upstream message is
 * acked once its commands are spooled, so a device that does not answer delays only itself.
 * Adapters queue commands for asleep/unplugged devices in the durable inbox themselves.
 */
export class Downlink {
  /** Commands with a result topic sent to ports that answer (request/response), by command id. */
  private readonly awaitingReply = new Map<string, RoutedCommand>();
  private readonly queues: DeviceQueues;
  private readonly spoolFullLog: ThrottledLog;

  constructor(private readonly deps: DownlinkDeps) {
    this.spoolFullLog = throttledLog(deps.logger);
    this.queues = new DeviceQueues({ inbox: deps.inbox, send: (c) => this.dispatch(c), logger: deps.logger });
  }

  /** After the adapters started: deliver what was spooled (accepted upstream) before a restart. */
  resume(): void {
    this.queues.resume();
  }

  /** Stopping: take no further spooled commands; spooled ones are delivered after the restart. */
  halt(): void {
    this.queues.halt();
  }

  /** Resolves when every command being handed to an adapter got its answer. */
  idle(): Promise<void> {
    return this.queues.idle();
  }

  /** A device answered a command (or did not in time): publish it as the command's result. */
  async handleReply(reply: {
    commandId: string;
    status: 'ok' | 'timeout';
    reply?: string;
    groups?: Record<string, string>;
  }): Promise<void> {
    const command = this.awaitingReply.get(reply.commandId);
    if (!command) return;
    this.awaitingReply.delete(reply.commandId);
    const result = commandReply(command, reply, waitingNow());
    if (result) await this.enqueue([result]);
  }

  /**
   * Handles one upstream message; the upstream client acks it (PUBACK/PUBREC) when this resolves:
   * once device subscriptions took it (memory for connected MQTT-SN devices, inbox for sleepers) and
   * its commands are committed to the spool, with `remember` (the QoS 2 id) in the same commit.
   * Rejects when a write failed: the caller retries the whole message (subscribers may get it twice).
   */
  async handleUpstream(
    message: DownlinkMessage & ResponseRequest,
    remember?: KvEntry,
  ): Promise<{ remembered: boolean }> {
    const { adapters, logger } = this.deps;
    const now = waitingNow();
    // MQTT 5 request/response: results go to the request's Response Topic with its Correlation Data.
    const request: ResponseRequest = this.screen(message);
    const routed = await this.deps.rules().downlink(message.topic, message.payload, now, request);
    for (const e of routed.errors)
      logger.warn({ rule: e.rule, topic: message.topic }, `command rule: ${e.message}`);
    await Promise.all([...adapters.values()].filter(isSubscribing).map((a) => a.deliver(message)));
    const { fit: known, full } = this.fitSpool(routed.commands.filter((c) => adapters.has(c.target)));
    let remembered = false;
    if (known.length) {
      await this.deps.inbox.putAll(known.map(toSpoolRow), remember ? { remember } : {});
      remembered = remember !== undefined;
    }
    // After the spool commit, so a retried message does not report twice.
    if (routed.results.length) await this.enqueue(routed.results);
    for (const c of routed.commands) {
      // Reported as rejected; nothing to wait for.
      if (!adapters.has(c.target))
        this.dispatch(c).catch((err) => logger.error({ err }, 'command dispatch failed'));
    }
    for (const c of known) this.queues.kick(c.target, c.device);
    for (const c of full) await this.reject(c, 'spool_full');
    return { remembered };
  }

  /** The commands the spool has room for; the rest are logged and rejected (their results after the spool's). */
  private fitSpool(commands: RoutedCommand[]): { fit: RoutedCommand[]; full: RoutedCommand[] } {
    const limits = this.deps.spoolLimits;
    if (!limits) return { fit: commands, full: [] };
    const r = fitSpool(commands, this.deps.inbox, limits);
    for (const c of r.full)
      this.spoolFullLog(
        `${c.target}\0${c.device}`,
        { target: c.target, device: c.device, ...limits },
        'command spool full for this device (or in all): command rejected; is the device answering?',
      );
    return r;
  }

  /** A command refused before it was spooled: counted, and reported where its rule asked. */
  private async reject(command: RoutedCommand, reason: string): Promise<void> {
    this.deps.onCommand?.(command, 'rejected');
    const result = this.deps.rules().commandResult(command, 'rejected', waitingNow(), reason);
    if (result) await this.enqueue([result]);
  }

  /** The request's Response Topic and Correlation Data, or neither when the topic is refused. */
  private screen(message: ResponseRequest): ResponseRequest {
    const topic = message.responseTopic;
    if (!topic) return {};
    const refused = this.deps.screenResponseTopic?.(topic);
    if (refused) {
      this.deps.onResponseTopicRefused?.(topic, refused);
      return {};
    }
    return { responseTopic: topic, correlationData: message.correlationData };
  }

  /** An adapter removed a command from its inbox with an outcome (drained after a wake or replug). */
  async handleDrained(row: InboxRow, outcome: InboxOutcome): Promise<void> {
    const command = fromInboxRow(row);
    this.deps.onCommand?.(command, outcome);
    if (command.resultTopic && outcome === 'delivered') this.remember(command);
    const result = this.deps.rules().commandResult(command, outcome, waitingNow());
    if (result) await this.enqueue([result]);
  }

  /** Send one command to its adapter; report the result upstream when the rule asked for it. */
  async dispatch(command: RoutedCommand): Promise<CommandOutcome> {
    const { adapters, logger } = this.deps;
    const adapter = adapters.get(command.target);
    // Kept with the command if it waits in the inbox, so its expiry can still be reported.
    if (command.resultTopic)
      command.meta = {
        resultTopic: command.resultTopic,
        reportExpired: command.reportExpired === true,
        ...(command.correlationData !== undefined && { correlationData: command.correlationData }),
      };
    let outcome: CommandOutcome;
    if (!adapter) {
      logger.warn(
        { target: command.target, device: command.device },
        'command for an unknown target dropped',
      );
      outcome = 'rejected';
    } else {
      try {
        outcome = await adapter.send(command);
      } catch (err) {
        // Adapters reject commands that expired or that the device refused; neither is retried.
        outcome = err instanceof CommandExpiredError ? 'expired' : 'rejected';
        logger.warn(
          { err, target: command.target, device: command.device, outcome },
          'command not delivered',
        );
      }
    }
    logger.debug(
      { target: command.target, device: command.device, topic: command.topic, outcome },
      'command',
    );
    this.deps.onCommand?.(command, outcome);
    // Remembered before any await: a fast device can answer while the result is being stored.
    if (command.resultTopic && (outcome === 'delivered' || outcome === 'queued')) this.remember(command);
    const result = this.deps.rules().commandResult(command, outcome, waitingNow());
    if (result) await this.enqueue([result]);
    return outcome;
  }

  /** Commands that expired in the inbox: count them, and report them where the rule asked. */
  async handleExpired(rows: InboxRow[]): Promise<void> {
    const now = waitingNow();
    const results: OutboxMessage[] = [];
    for (const row of rows) {
      const command = fromInboxRow(row); // spool rows too: reported for the adapter they were meant for
      this.deps.onCommand?.(command, 'expired');
      const result = this.deps.rules().commandResult(command, 'expired', now);
      if (result) results.push(result);
    }
    if (results.length) await this.enqueue(results);
  }

  /**
   * Commands the gateway made itself from an upstream message it handles on its own (a Sparkplug
   * DCMD): into the durable spool like a command rule's, then sent in per-device order.
   */
  async spool(commands: RoutedCommand[]): Promise<void> {
    const known = commands.filter((c) => this.deps.adapters.has(c.target));
    if (known.length) await this.deps.inbox.putAll(known.map(toSpoolRow));
    for (const c of commands)
      if (!this.deps.adapters.has(c.target))
        this.dispatch(c).catch((err) => this.deps.logger.error({ err }, 'command dispatch failed'));
    for (const c of known) this.queues.kick(c.target, c.device);
  }

  /** Fire-and-log: local triggers must not hold up the uplink path. */
  dispatchAll(commands: Command[]): void {
    for (const c of commands) {
      this.dispatch(c).catch((err) => this.deps.logger.error({ err }, 'command dispatch failed'));
    }
  }

  private remember(command: RoutedCommand): void {
    if (this.awaitingReply.size >= MAX_AWAITING_REPLY) {
      const oldest = this.awaitingReply.keys().next().value;
      if (oldest !== undefined) this.awaitingReply.delete(oldest);
    }
    this.awaitingReply.set(command.id, command);
  }

  private async enqueue(messages: OutboxMessage[]): Promise<void> {
    try {
      await this.deps.outbox.enqueue(messages);
    } catch (err) {
      this.deps.logger.warn({ err }, 'command result not stored');
    }
  }
}
