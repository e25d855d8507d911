import type { Adapter, Command, DownlinkMessage, SubscribingAdapter } from '../adapters/types.js';
import { type CommandOutcome, commandReply, type RoutedCommand, type RuleEngine } from '../rules/index.js';
import type { Logger } from './log.js';
import type { InboxRow, Outbox, OutboxMessage } from '../contracts/store.js';

export interface DownlinkDeps {
  adapters: ReadonlyMap<string, Adapter>;
  rules: () => RuleEngine;
  outbox: Outbox;
  logger: Logger;
  onCommand?: (command: Command, outcome: CommandOutcome) => void;
}

export function isSubscribing(a: Adapter): a is SubscribingAdapter {
  return 'subscriptions$' in a && 'deliver' in a;
}

/**
 * The downlink path: upstream message -> command rules -> adapter.send(), and
 * device subscriptions (MQTT-SN) -> adapter.deliver(). Adapters queue commands
 * for asleep/unplugged devices in the durable inbox themselves.
 */
/** Commands awaiting a device reply are remembered this long at most (bounded memory). */
const MAX_AWAITING_REPLY = 1000;

export class Downlink {
  /** Commands with a result topic sent to ports that answer (request/response), by command id. */
  private readonly awaitingReply = new Map<string, RoutedCommand>();

  constructor(private readonly deps: DownlinkDeps) {}

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
    const result = commandReply(command, reply, Date.now());
    if (result) await this.enqueue([result]);
  }

  /** Handles one upstream message; the upstream client acks it (PUBACK/PUBREC) when this resolves. */
  async handleUpstream(message: DownlinkMessage): Promise<void> {
    const now = Date.now();
    const routed = await this.deps.rules().downlink(message.topic, message.payload, now);
    for (const e of routed.errors)
      this.deps.logger.warn({ rule: e.rule, topic: message.topic }, `command rule: ${e.message}`);
    if (routed.results.length) await this.enqueue(routed.results);
    await Promise.all([
      ...routed.commands.map((c) => this.dispatch(c)),
      ...[...this.deps.adapters.values()].filter(isSubscribing).map((a) => a.deliver(message)),
    ]);
  }

  /** Send one command to its adapter; report the result upstream when the rule asked for it. */
  async dispatch(command: RoutedCommand): Promise<CommandOutcome> {
    const { adapters, logger } = this.deps;
    const adapter = adapters.get(command.target);
    // Kept with the command if it waits in the inbox, so its expiry can still be reported.
    if (command.resultTopic)
      command.meta = { resultTopic: command.resultTopic, reportExpired: command.reportExpired === true };
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
        outcome = /expired/i.test(`${(err as Error).name} ${(err as Error).message}`)
          ? 'expired'
          : 'rejected';
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
    const result = this.deps.rules().commandResult(command, outcome, Date.now());
    if (result) await this.enqueue([result]);
    return outcome;
  }

  /** Commands that expired in the inbox: count them, and report them where the rule asked. */
  async handleExpired(rows: InboxRow[]): Promise<void> {
    const now = Date.now();
    const results: OutboxMessage[] = [];
    for (const row of rows) {
      const command: RoutedCommand = {
        id: row.commandId ?? `inbox:${row.id}`,
        target: row.target,
        device: row.device,
        topic: row.topic,
        payload: row.payload,
        qos: row.qos,
        resultTopic: typeof row.meta?.resultTopic === 'string' ? row.meta.resultTopic : undefined,
        reportExpired: row.meta?.reportExpired === true,
      };
      this.deps.onCommand?.(command, 'expired');
      const result = this.deps.rules().commandResult(command, 'expired', now);
      if (result) results.push(result);
    }
    if (results.length) await this.enqueue(results);
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
