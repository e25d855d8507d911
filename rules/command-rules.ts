import { wallOf } from '../contracts/clock.js';
import type { Command, QoS, SendOutcome } from '../adapters/types.js';
import type { OutboxMessage } from '../contracts/store.js';
import { compilePayload, type PayloadBuilder } from './command-payload.js';
import type { CommandRuleConfig } from './config.js';
import type { Problems } from './errors.js';
import { decodePayload } from './input.js';
import { isValidTopicName } from '../contracts/topic.js';
import {
  checkTopicTemplate,
  compileTemplate,
  renderProblem,
  type Template,
  type TemplateContext,
  type TopicValues,
} from './template.js';
import { compileTopicPattern, type TopicPattern } from './topic-pattern.js';

/** Names a command template may use besides the subscribe pattern's captures. */
const DOWNLINK_NAMES = ['gateway', 'topic', 'payload', 'fields'] as const;

/**
 * A command as produced by downlink(): a plain Command plus what its result message needs, rendered
 * now (the captures are gone later). Persist these fields with the command if it waits in the inbox,
 * so a result can still be reported after a restart or a config reload.
 */
export interface RoutedCommand extends Command {
  /** Topic for result/ack messages (rendered `result_topic`), when the rule has one. */
  resultTopic?: string;
  /** Whether an expired command gets a result message too (`report_expired`). */
  reportExpired?: boolean;
  /** MQTT 5 Correlation Data of the request (base64), echoed on its result (request/response). */
  correlationData?: string;
}

/** MQTT 5 request/response: the upstream command's Response Topic and Correlation Data. */
export interface ResponseRequest {
  responseTopic?: string;
  correlationData?: Buffer;
}

/** What finally happened to a command; 'rejected' means it could not even be built. */
export type CommandOutcome = SendOutcome | 'expired' | 'rejected';

/** What JSONata `payload`/`transform` expressions of a command rule see. */
export interface DownlinkInput {
  topic: string;
  gateway: string;
  payload: unknown;
  fields: Record<string, unknown>;
  captures: Record<string, string>;
}

export class CompiledCommandRule {
  /** Device, topic and result topic carry values as data: see TopicValues. */
  private readonly topicValues: TopicValues;

  constructor(
    readonly index: number,
    readonly label: string,
    readonly pattern: TopicPattern,
    readonly qos: QoS,
    private readonly to: string,
    private readonly device: Template,
    private readonly topic: Template,
    private readonly payload: PayloadBuilder,
    private readonly ttl: number,
    private readonly resultTopic: Template | undefined,
    private readonly reportExpired: boolean,
  ) {
    this.topicValues = { spans: new Set(['topic', ...(pattern.multiLevel ? [pattern.multiLevel] : [])]) };
  }

  static compile(
    cfg: CommandRuleConfig,
    index: number,
    gateway: string,
    problems: Problems,
  ): CompiledCommandRule | undefined {
    const at = ['commands', index];
    const before = problems.list.length;
    const pattern = compileTopicPattern(cfg.subscribe, { gateway }, problems, [...at, 'subscribe']);
    const names = pattern?.names ?? [];
    const scope = new Set<string>([...DOWNLINK_NAMES, ...names]);
    let device: Template | undefined;
    if (cfg.device === undefined && !names.includes('device')) {
      if (pattern)
        problems.add(
          [...at, 'device'],
          `required: subscribe "${cfg.subscribe}" has no +device wildcard to take it from`,
        );
    } else {
      device = compileTemplate(cfg.device ?? '{device}', scope, problems, [...at, 'device']);
    }
    scope.add('device'); // the other templates see the rendered device
    const topic = compileTemplate(cfg.topic ?? '{topic}', scope, problems, [...at, 'topic']);
    const payload = compilePayload(cfg, scope, problems, at, false);
    const resultTopic =
      cfg.result_topic === undefined
        ? undefined
        : compileTemplate(cfg.result_topic, scope, problems, [...at, 'result_topic']);
    if (cfg.result_topic !== undefined)
      checkTopicTemplate(cfg.result_topic, problems, [...at, 'result_topic']);
    if (problems.list.length > before || !pattern || !device || !topic || !payload) return undefined;
    return new CompiledCommandRule(
      index,
      cfg.name ?? `commands.${index}`,
      pattern,
      cfg.qos,
      cfg.to,
      device,
      topic,
      payload,
      cfg.ttl,
      resultTopic,
      cfg.report_expired,
    );
  }

  /** The command for an upstream message (undefined when the topic does not match this rule). */
  async route(
    topic: string,
    payload: Buffer,
    gateway: string,
    now: number,
    newId: () => string,
    request: ResponseRequest = {},
  ): Promise<
    { command: RoutedCommand } | { rejected: OutboxMessage | undefined; error: string } | undefined
  > {
    const captures = this.pattern.match(topic);
    if (!captures) return undefined;
    const decoded = decodePayload(payload);
    const input: DownlinkInput = { topic, gateway, payload: decoded.value, fields: decoded.fields, captures };
    const ctx: TemplateContext = {
      vars: { gateway, topic, payload: decoded.text, ...captures },
      fields: decoded.fields,
    };
    const id = newId();
    const device = this.device.render(ctx, this.topicValues);
    if (device.ok) ctx.vars = { ...ctx.vars, device: device.text };
    const result = this.resultTopic?.render(ctx, this.topicValues);
    // The requester's Response Topic wins over result_topic: that is where it waits for the answer.
    const asked =
      request.responseTopic && isValidTopicName(request.responseTopic) ? request.responseTopic : undefined;
    const resultTopic = asked ?? (result?.ok && isValidTopicName(result.text) ? result.text : undefined);
    const correlationData = asked ? request.correlationData?.toString('base64') : undefined;
    const target = this.topic.render(ctx, this.topicValues);
    const body = await this.payload.build(input, ctx);
    const error = !device.ok
      ? renderProblem(device)
      : !target.ok
        ? renderProblem(target)
        : !body.ok
          ? body.error
          : undefined;
    if (error || !device.ok || !target.ok || !body.ok) {
      const rejected = resultTopic
        ? resultMessage(
            resultTopic,
            this.qos,
            { id, outcome: 'rejected', reason: error, topic },
            '',
            '',
            now,
            correlationData,
          )
        : undefined;
      return { rejected, error: error ?? 'rejected' };
    }
    const command: RoutedCommand = {
      id,
      target: this.to,
      device: device.text,
      topic: target.text,
      payload: body.payload ?? payload,
      qos: this.qos,
      expiresAt: now + this.ttl,
    };
    if (resultTopic) {
      command.resultTopic = resultTopic;
      command.reportExpired = this.reportExpired;
      if (correlationData !== undefined) command.correlationData = correlationData;
    }
    return { command };
  }
}

/**
 * The result/ack message for a command (published on its rule's `result_topic`), or undefined when
 * the rule has none, or the command expired and the rule does not report expiry. Call it when the
 * adapter's send() settles ('delivered' | 'queued' | 'unknown-device') and when the inbox expires it.
 * Payload: {"id", "outcome", "target", "device", "at"} as JSON.
 */
export function commandResult(
  command: RoutedCommand,
  outcome: CommandOutcome,
  now: number,
  /** Why, when the outcome alone does not say (a `rejected` command the spool had no room for). */
  reason?: string,
): OutboxMessage | undefined {
  if (!command.resultTopic) return undefined;
  if (outcome === 'expired' && !command.reportExpired) return undefined;
  return resultMessage(
    command.resultTopic,
    command.qos,
    { id: command.id, outcome, ...(reason && { reason }), target: command.target, device: command.device },
    command.target,
    command.device,
    now,
    command.correlationData,
  );
}

/**
 * The result message for a device's reply to a command (request/response ports): outcome
 * 'replied' with the reply text and named groups, or 'reply_timeout'. Undefined without result_topic.
 */
export function commandReply(
  command: RoutedCommand,
  reply: { status: 'ok' | 'timeout'; reply?: string; groups?: Record<string, string> },
  now: number,
): OutboxMessage | undefined {
  if (!command.resultTopic) return undefined;
  const outcome = reply.status === 'ok' ? 'replied' : 'reply_timeout';
  const body = {
    id: command.id,
    outcome,
    target: command.target,
    device: command.device,
    reply: reply.reply,
    groups: reply.groups,
  };
  return resultMessage(
    command.resultTopic,
    command.qos,
    body,
    command.target,
    command.device,
    now,
    command.correlationData,
  );
}

function resultMessage(
  topic: string,
  qos: QoS,
  body: Record<string, unknown>,
  source: string,
  device: string,
  now: number,
  /** base64; sent as MQTT 5 Correlation Data (see gateway/upstream/publish-packet.ts). */
  correlationData?: string,
): OutboxMessage {
  const m: OutboxMessage = {
    source,
    device,
    topic,
    payload: Buffer.from(JSON.stringify({ ...body, at: wallOf(now) })), // `now` is waiting-clock time
    qos,
    retain: false,
    receivedAt: now,
  };
  m.properties = { contentType: 'application/json', utf8: true };
  if (correlationData !== undefined) m.properties.correlationData = correlationData;
  return m;
}
