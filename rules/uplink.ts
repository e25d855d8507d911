import type { Command, QoS, Reading } from '../adapters/types.js';
import type { OutboxMessage } from '../contracts/store.js';
import { topicNameProblem } from '../contracts/topic.js';
import type { DefaultRouteConfig, UplinkRuleConfig } from './config.js';
import type { Problems } from './errors.js';
import { compileExpression, errorMessage, type Expression, isTruthy } from './expression.js';
import { type DecodedPayload, encodePayload, ruleInput } from './input.js';
import { ReportState } from './strategies.js';
import { checkTopicTemplate, compileTemplate, type Template, type TemplateContext } from './template.js';
import { compileSourcePattern, compileTopicPattern, type TopicPattern } from './topic-pattern.js';

/** Names every uplink template may use besides the pattern's captures. */
export const READING_NAMES = ['device', 'gateway', 'source', 'topic', 'payload', 'fields'] as const;

export interface CompiledUplinkRule {
  readonly index: number;
  /** `name`, else "rules.<index>": for traces, logs and metrics. */
  readonly label: string;
  /** Identity across reloads, to carry report state over. */
  readonly key: string;
  readonly source: (source: string) => boolean;
  readonly pattern: TopicPattern;
  readonly filter?: Expression;
  readonly transform?: Expression;
  readonly publish?: Template;
  readonly drop: boolean;
  readonly qos?: QoS;
  readonly retain?: boolean;
  readonly report?: ReportState;
  readonly continue: boolean;
  /** MQTT 5 User Property templates, by name. */
  readonly properties?: ReadonlyMap<string, Template>;
  readonly expiryMs?: number;
  readonly contentType?: string;
  /** time_field: written into the payload when the message is sent (gateway/upstream/stamp.ts). */
  readonly stamp?: { field: string; iso: boolean };
}

/** Why a reading produced no message. Stable short codes: fit for a metric label. */
export type DropReason =
  | 'no_rule'
  | 'filtered'
  | 'rule_drop'
  | 'filter_error'
  | 'transform_error'
  | 'transform_empty'
  | 'missing_field'
  | 'invalid_topic' // the output topic fails the MQTT topic-name check (contracts/topic.ts)
  | 'throttled'
  | 'unchanged'
  | 'deadband';

/** One rule's verdict on a reading, for dry runs and debug logs. */
export interface TraceEntry {
  rule: string;
  /** 'published' with the topic, or the drop reason; for triggers/commands: 'command', 'cooldown', 'error'. */
  outcome: 'published' | DropReason | 'command' | 'cooldown' | 'error';
  topic?: string;
  detail?: string;
}

export function compileUplinkRule(
  cfg: UplinkRuleConfig,
  index: number,
  gateway: string,
  problems: Problems,
): CompiledUplinkRule | undefined {
  const at = ['rules', index];
  const before = problems.list.length;
  const pattern = compileTopicPattern(cfg.match, { gateway }, problems, [...at, 'match']);
  const filter =
    cfg.filter === undefined ? undefined : compileExpression(cfg.filter, problems, [...at, 'filter']);
  const transform =
    cfg.transform === undefined
      ? undefined
      : compileExpression(cfg.transform, problems, [...at, 'transform']);
  const scope = new Set<string>([...READING_NAMES, ...(pattern?.names ?? [])]);
  const publish =
    cfg.publish === undefined ? undefined : compileTemplate(cfg.publish, scope, problems, [...at, 'publish']);
  if (cfg.publish !== undefined) checkTopicTemplate(cfg.publish, problems, [...at, 'publish']);
  if (cfg.drop && (cfg.publish !== undefined || cfg.transform !== undefined || cfg.report !== undefined)) {
    problems.add([...at, 'drop'], 'a rule with drop: true cannot also publish, transform or report');
  }
  const properties = cfg.properties
    ? new Map(
        Object.entries(cfg.properties).map(([name, t]) => [
          name,
          compileTemplate(t, scope, problems, [...at, 'properties', name]),
        ]),
      )
    : undefined;
  if (problems.list.length > before || !pattern) return undefined;
  return {
    properties: properties as Map<string, Template> | undefined,
    expiryMs: cfg.expiry,
    contentType: cfg.content_type,
    ...(cfg.time_field !== undefined && { stamp: { field: cfg.time_field, iso: cfg.time_format === 'iso' } }),
    index,
    label: cfg.name ?? `rules.${index}`,
    key: cfg.name ?? `${cfg.source}|${cfg.match}|${cfg.publish ?? ''}`,
    source: compileSourcePattern(cfg.source),
    pattern,
    filter,
    transform,
    publish,
    drop: cfg.drop,
    qos: cfg.qos,
    retain: cfg.retain,
    report: cfg.report ? new ReportState(cfg.report) : undefined,
    continue: cfg.continue,
  };
}

type RuleResult =
  | { kind: 'message'; message: OutboxMessage }
  | { kind: 'skip' }
  | { kind: 'drop'; reason: DropReason; topic?: string; detail?: string };

export function templateContext(
  reading: Pick<Reading, 'device' | 'source' | 'topic'>,
  decoded: DecodedPayload,
  gateway: string,
  captures: Record<string, string>,
): TemplateContext {
  return {
    vars: {
      device: reading.device,
      gateway,
      source: reading.source,
      topic: reading.topic,
      get payload() {
        return decoded.text;
      },
      ...captures,
    },
    // Read only by a {fields.x} placeholder: a template without one never parses the payload.
    get fields() {
      return decoded.fields;
    },
  };
}

/**
 * One rule against one reading whose topic and source it matched (captures given). Synchronous for a
 * rule without filter or transform (no JSONata: most rules), else a promise.
 */
export function applyRule(
  rule: CompiledUplinkRule,
  reading: Reading,
  decoded: DecodedPayload,
  captures: Record<string, string>,
  gateway: string,
  now: number,
): RuleResult | Promise<RuleResult> {
  if (rule.drop && !rule.filter) return { kind: 'drop', reason: 'rule_drop' };
  if (rule.filter || rule.transform) return applyExpressions(rule, reading, decoded, captures, gateway, now);
  return finishRule(rule, reading, decoded, captures, gateway, now, reading.payload);
}

/** The JSONata part of a rule (filter, transform), then the rest as for any rule. */
async function applyExpressions(
  rule: CompiledUplinkRule,
  reading: Reading,
  decoded: DecodedPayload,
  captures: Record<string, string>,
  gateway: string,
  now: number,
): Promise<RuleResult> {
  const input = ruleInput(reading, decoded, gateway, captures);
  if (rule.filter) {
    let keep: boolean;
    try {
      keep = isTruthy(await rule.filter.evaluate(input));
    } catch (err) {
      return { kind: 'drop', reason: 'filter_error', detail: errorMessage(err) };
    }
    // On a drop rule the filter picks what to drop; the rest is left to later rules.
    if (rule.drop) return keep ? { kind: 'drop', reason: 'rule_drop' } : { kind: 'skip' };
    if (!keep) return { kind: 'drop', reason: 'filtered' };
  }
  let payload = reading.payload;
  if (rule.transform) {
    let out: unknown;
    try {
      out = await rule.transform.evaluate(input);
    } catch (err) {
      return { kind: 'drop', reason: 'transform_error', detail: errorMessage(err) };
    }
    if (out === undefined) return { kind: 'drop', reason: 'transform_empty' };
    payload = encodePayload(out);
  }
  return finishRule(rule, reading, decoded, captures, gateway, now, payload);
}

/** Topic, message, properties and report strategy: the synchronous end of every rule. */
function finishRule(
  rule: CompiledUplinkRule,
  reading: Reading,
  decoded: DecodedPayload,
  captures: Record<string, string>,
  gateway: string,
  now: number,
  payload: Buffer,
): RuleResult {
  let topic = reading.topic;
  if (rule.publish) {
    const r = rule.publish.render(templateContext(reading, decoded, gateway, captures));
    if (!r.ok) return { kind: 'drop', reason: 'missing_field', detail: `{${r.missing}} has no value` };
    topic = r.text;
  }
  const problem = topicNameProblem(topic);
  if (problem) return { kind: 'drop', reason: 'invalid_topic', topic, detail: problem };
  const message: OutboxMessage = {
    source: reading.source,
    device: reading.device,
    topic,
    payload,
    qos: rule.qos ?? reading.qos,
    retain: rule.retain ?? reading.retain,
    receivedAt: reading.receivedAt,
  };
  const props = messageProperties(rule, reading, decoded, gateway, captures);
  if (props) message.properties = props;
  if (rule.report) {
    const verdict = rule.report.offer(message, now);
    if (!verdict.publish) return { kind: 'drop', reason: verdict.reason, topic };
  }
  return { kind: 'message', message };
}

/**
 * The MQTT 5 extras of a rule's message, as stored with the outbox row (see
 * gateway/upstream/publish-packet.ts RowProperties). A user property whose template lacks a value
 * is left out, not the message.
 */
function messageProperties(
  rule: CompiledUplinkRule,
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
  captures: Record<string, string>,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (rule.properties) {
    const ctx = templateContext(reading, decoded, gateway, captures);
    const user: Record<string, string> = {};
    for (const [name, t] of rule.properties) {
      const r = t.render(ctx);
      if (r.ok) user[name] = r.text;
    }
    if (Object.keys(user).length > 0) out.user = user;
  }
  if (rule.expiryMs !== undefined) out.expiryMs = rule.expiryMs;
  if (rule.stamp) out.stamp = rule.stamp;
  if (rule.contentType) {
    out.contentType = rule.contentType;
    if (/^text\/|^application\/json\b/.test(rule.contentType)) out.utf8 = true;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface UplinkRun {
  messages: OutboxMessage[];
  /** Commands of local triggers: none from the rules themselves (RuleEngine adds them). */
  commands: Command[];
  dropped?: DropReason;
  /** Filter/transform failures: config bugs worth a log line (the reading is dropped, not retried). */
  errors: { rule: string; message: string }[];
  trace: TraceEntry[];
}

/**
 * The shared "nothing" of a run's lists: most readings produce no error and no command, so a run
 * starts with this frozen empty array and gets an array of its own only when one comes (append()):
 * `[item]`, sized for one, where a push onto `[]` would reserve room for 17.
 * Frozen: a caller pushing onto it instead of appending fails loudly rather than sharing data.
 */
export const NONE: never[] = Object.freeze([]) as unknown as never[];

/** Appends `item` to `list`, which may be the shared NONE: returns the list to keep. */
export function append<T>(list: T[], item: T): T[] {
  if (list === NONE) return [item];
  list.push(item);
  return list;
}

/** Where a run of the rules is: what it produced so far and whether any rule matched. */
interface RunState {
  run: UplinkRun;
  matched: boolean;
  firstDrop?: DropReason;
}

/**
 * Run the rules in order. First-match by default: the first rule whose source and topic match decides
 * (publishes, drops or filters out), and later rules are not tried. A rule with `continue: true` lets
 * the following rules match too (all-match), whatever its own outcome. A reading no rule matched
 * follows the default route.
 *
 * Synchronous until a matching rule has an expression (JSONata evaluates asynchronously): from that
 * rule on, the run continues in a promise. Readings no expression touches never make one.
 */
export function runUplink(
  rules: readonly CompiledUplinkRule[],
  defaultRoute: DefaultRoute,
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
  now: number,
): UplinkRun | Promise<UplinkRun> {
  const st: RunState = {
    run: { messages: NONE, commands: NONE, dropped: undefined, errors: NONE, trace: NONE },
    matched: false,
  };
  const waiting = runFrom(0, st, rules, reading, decoded, gateway, now);
  if (waiting) return continueAsync(waiting, st, rules, defaultRoute, reading, decoded, gateway, now);
  return finishRun(st, defaultRoute, reading, decoded, gateway);
}

/** A rule whose expression is being evaluated: its index, and its result to come. */
interface Waiting {
  at: number;
  result: Promise<RuleResult>;
}

/**
 * The one loop over the rules: from index `from`, synchronously, until the run stops (undefined) or
 * a matching rule has to wait for JSONata (that rule, to be recorded once its result comes).
 */
function runFrom(
  from: number,
  st: RunState,
  rules: readonly CompiledUplinkRule[],
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
  now: number,
): Waiting | undefined {
  for (let i = from; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!rule.source(reading.source)) continue;
    const captures = rule.pattern.match(reading.topic);
    if (!captures) continue;
    const r = applyRule(rule, reading, decoded, captures, gateway, now);
    if (r instanceof Promise) return { at: i, result: r };
    if (record(st, rule, r)) return undefined;
  }
  return undefined;
}

/** The run from the first rule that had to wait: each wait recorded, then the same loop goes on. */
async function continueAsync(
  first: Waiting,
  st: RunState,
  rules: readonly CompiledUplinkRule[],
  defaultRoute: DefaultRoute,
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
  now: number,
): Promise<UplinkRun> {
  let waiting: Waiting | undefined = first;
  while (waiting) {
    const stop = record(st, rules[waiting.at]!, await waiting.result);
    waiting = stop ? undefined : runFrom(waiting.at + 1, st, rules, reading, decoded, gateway, now);
  }
  return finishRun(st, defaultRoute, reading, decoded, gateway);
}

/** One rule's result into the run; true when the run stops here (first-match). */
function record(st: RunState, rule: CompiledUplinkRule, r: RuleResult): boolean {
  if (r.kind === 'skip') return false;
  st.matched = true;
  const { run } = st;
  if (r.kind === 'message') {
    run.messages = append(run.messages, r.message);
    run.trace = append(run.trace, { rule: rule.label, outcome: 'published', topic: r.message.topic });
  } else {
    st.firstDrop ??= r.reason;
    run.trace = append(run.trace, { rule: rule.label, outcome: r.reason, topic: r.topic, detail: r.detail });
    if (r.reason === 'filter_error' || r.reason === 'transform_error')
      run.errors = append(run.errors, { rule: rule.label, message: `${r.reason}: ${r.detail}` });
  }
  return !rule.continue;
}

function finishRun(
  st: RunState,
  defaultRoute: DefaultRoute,
  reading: Reading,
  decoded: DecodedPayload,
  gateway: string,
): UplinkRun {
  const { run } = st;
  if (!st.matched) {
    const message = defaultRoute.route(reading, decoded, gateway);
    if (message) {
      run.messages = append(run.messages, message);
      run.trace = append(run.trace, { rule: 'default_route', outcome: 'published', topic: message.topic });
    } else {
      st.firstDrop = 'no_rule';
      run.trace = append(run.trace, { rule: 'default_route', outcome: 'no_rule' });
    }
  }
  if (run.messages.length === 0) run.dropped = st.firstDrop;
  return run;
}

/** `default_route`: pass an unmatched reading through (topic = prefix + topic) or drop it as 'no_rule'. */
export class DefaultRoute {
  private constructor(private readonly prefix: Template | undefined) {}

  static compile(cfg: DefaultRouteConfig, problems: Problems): DefaultRoute {
    if (cfg.action === 'drop') return new DefaultRoute(undefined);
    const scope = new Set(['gateway', 'device', 'source']);
    const prefix = compileTemplate(cfg.prefix, scope, problems, ['default_route', 'prefix']);
    checkTopicTemplate(cfg.prefix, problems, ['default_route', 'prefix']);
    return new DefaultRoute(prefix ?? compileTemplate('', scope, problems, []));
  }

  route(reading: Reading, decoded: DecodedPayload, gateway: string): OutboxMessage | undefined {
    const prefix = this.prefix;
    if (!prefix) return undefined;
    let topic: string;
    if (prefix.constant !== undefined)
      topic = prefix.constant + reading.topic; // no context to build
    else {
      const r = prefix.render({
        vars: { gateway, device: reading.device, source: reading.source },
        get fields() {
          return decoded.fields;
        },
      });
      topic = r.ok ? r.text + reading.topic : reading.topic;
    }
    const { source, device, payload, qos, retain, receivedAt } = reading;
    return { source, device, topic, payload, qos, retain, receivedAt };
  }
}
