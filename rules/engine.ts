import type { Command, Reading } from '../adapters/types.js';
import type { OutboxMessage } from '../contracts/store.js';
import {
  type CompiledCommandRule,
  type CommandOutcome,
  commandResult,
  type ResponseRequest,
  type RoutedCommand,
} from './command-rules.js';
import { type DecodedPayload, decodePayload } from './input.js';
import type { CompiledTrigger } from './triggers.js';
import {
  append,
  type CompiledUplinkRule,
  type DefaultRoute,
  type DropReason,
  runUplink,
  type TraceEntry,
  type UplinkRun,
} from './uplink.js';

/**
 * An empty `messages`, `commands`, `errors` or `trace` may be the shared frozen NONE (uplink.ts): read the
 * lists, never push onto them.
 */
export interface UplinkResult {
  /** To enqueue in the outbox, in order. */
  messages: OutboxMessage[];
  /** From local triggers: hand to the target adapter's send(). */
  commands: Command[];
  /** Why no message came out (set only when `messages` is empty): count it, and settle the reading 'filtered'. */
  dropped?: DropReason;
  /** Filter/transform/trigger failures at run time: log them (they are config bugs), rate-limited. */
  errors: { rule: string; message: string }[];
  /** Every rule's and trigger's verdict, for `fieldgate rules test` and debug logs. */
  trace: TraceEntry[];
}

export interface DownlinkResult {
  /** To send (or queue in the inbox) via the target adapter. Keep resultTopic/reportExpired with them. */
  commands: RoutedCommand[];
  /** Result messages due now (commands that could not be built, on rules with result_topic): enqueue. */
  results: OutboxMessage[];
  errors: { rule: string; message: string }[];
  trace: TraceEntry[];
}

/**
 * Compiled rules. Immutable after compile (the gateway swaps whole engines on SIGHUP); the only
 * mutable part is report-strategy and trigger cool-down state, which adoptStateFrom() carries over.
 */
export class RuleEngine {
  private readonly newId: () => string;

  constructor(
    readonly gatewayId: string,
    private readonly rules: readonly CompiledUplinkRule[],
    private readonly defaultRoute: DefaultRoute,
    private readonly commandRules: readonly CompiledCommandRule[],
    private readonly triggers: readonly CompiledTrigger[],
    newId: () => string,
  ) {
    this.newId = newId;
    Object.freeze(this);
  }

  /**
   * Call for every reading an adapter emits; `now` is the gateway clock (ms). The result comes back
   * synchronously when no JSONata expression (filter, transform, trigger `when`) looks at the reading,
   * else as a promise whose resolution order depends on the expressions: handle readings one at a
   * time, a promise holding back the readings after it, to keep per-device order and consistent
   * report-strategy state (gateway/ingest.ts does).
   */
  uplink(reading: Reading, now: number): UplinkResult | Promise<UplinkResult> {
    const decoded = decodePayload(reading.payload, reading.fields);
    const run = runUplink(this.rules, this.defaultRoute, reading, decoded, this.gatewayId, now);
    if (run instanceof Promise) return run.then((r) => this.withTriggers(r, reading, decoded, now));
    return this.withTriggers(run, reading, decoded, now);
  }

  private withTriggers(
    run: UplinkRun,
    reading: Reading,
    decoded: DecodedPayload,
    now: number,
  ): UplinkResult | Promise<UplinkResult> {
    // The run is the result already (same fields): no second object per reading.
    for (const t of this.triggers)
      if (t.matches(reading)) return this.fireTriggers(run, reading, decoded, now);
    return run;
  }

  private async fireTriggers(
    result: UplinkResult,
    reading: Reading,
    decoded: DecodedPayload,
    now: number,
  ): Promise<UplinkResult> {
    for (const trigger of this.triggers) {
      const r = await trigger.fire(reading, decoded, this.gatewayId, now, this.newId);
      if (r.command) {
        result.commands = append(result.commands, r.command);
        result.trace = append(result.trace, commandTrace(trigger.label, r.command));
      } else if (r.error) {
        result.errors = append(result.errors, { rule: trigger.label, message: r.error });
        result.trace = append(result.trace, { rule: trigger.label, outcome: 'error', detail: r.error });
      } else if (r.cooling) {
        result.trace = append(result.trace, { rule: trigger.label, outcome: 'cooldown' });
      }
    }
    return result;
  }

  /**
   * Call for every message arriving on an upstream subscription. Every command rule whose filter
   * matches produces a command (all-match: one upstream message may address several devices).
   */
  async downlink(
    topic: string,
    payload: Buffer,
    now: number,
    request: ResponseRequest = {},
  ): Promise<DownlinkResult> {
    const out: DownlinkResult = { commands: [], results: [], errors: [], trace: [] };
    for (const rule of this.commandRules) {
      const r = await rule.route(topic, payload, this.gatewayId, now, this.newId, request);
      if (!r) continue;
      if ('command' in r) {
        out.commands.push(r.command);
        out.trace.push(commandTrace(rule.label, r.command));
      } else {
        if (r.rejected) out.results.push(r.rejected);
        out.errors.push({ rule: rule.label, message: r.error });
        out.trace.push({ rule: rule.label, outcome: 'error', detail: r.error });
      }
    }
    return out;
  }

  /** Upstream filters to subscribe to (plain MQTT syntax), one per distinct filter with the highest QoS. */
  subscriptions(): { topic: string; qos: Command['qos'] }[] {
    const byFilter = new Map<string, Command['qos']>();
    for (const rule of this.commandRules) {
      byFilter.set(
        rule.pattern.filter,
        Math.max(byFilter.get(rule.pattern.filter) ?? 0, rule.qos) as Command['qos'],
      );
    }
    return [...byFilter].map(([topic, qos]) => ({ topic, qos }));
  }

  /** Call about once a second: heartbeat re-publications due at `now`, to enqueue. */
  tick(now: number): OutboxMessage[] {
    return this.rules.flatMap((rule) => rule.report?.due(now) ?? []);
  }

  /** Result/ack message for a command's final outcome (see command-rules.ts commandResult). */
  commandResult(
    command: RoutedCommand,
    outcome: CommandOutcome,
    now: number,
    reason?: string,
  ): OutboxMessage | undefined {
    return commandResult(command, outcome, now, reason);
  }

  /**
   * Carry report-strategy state (last values, throttle/heartbeat clocks) and trigger cool-downs over
   * from the engine this one replaces. Rules are paired by `name`, else by source+match+publish
   * (triggers: source+match+when+to); rules without a partner start fresh. Call before the swap.
   */
  adoptStateFrom(old: RuleEngine): void {
    const oldRules = new Map(old.rules.map((r) => [r.key, r]));
    for (const rule of this.rules) {
      const prev = oldRules.get(rule.key)?.report;
      if (rule.report && prev) rule.report.adopt(prev);
    }
    const oldTriggers = new Map(old.triggers.map((t) => [t.key, t]));
    for (const trigger of this.triggers) {
      const prev = oldTriggers.get(trigger.key);
      if (prev) trigger.adopt(prev);
    }
  }
}

function commandTrace(rule: string, command: Command): TraceEntry {
  return { rule, outcome: 'command', topic: command.topic, detail: `${command.target} ${command.device}` };
}
