import type { Command, QoS, Reading } from '../adapters/types.js';
import { compilePayload, type PayloadBuilder } from './command-payload.js';
import type { TriggerRuleConfig } from './config.js';
import type { Problems } from './errors.js';
import { compileExpression, errorMessage, type Expression, isTruthy } from './expression.js';
import { type DecodedPayload, ruleInput } from './input.js';
import { compileTemplate, renderProblem, type Template, type TopicValues } from './template.js';
import { compileSourcePattern, compileTopicPattern, type TopicPattern } from './topic-pattern.js';
import { READING_NAMES, templateContext } from './uplink.js';

const SWEEP_MIN = 1024;

/**
 * A local trigger: a reading that satisfies `when` produces a command for a device, without a round
 * trip through the broker. A trigger fires at most once per `cooldown` per target: a serial port,
 * or a device on an MQTT-SN or Modbus target.
 */
export class CompiledTrigger {
  /** Target (see coolKey) -> when it last fired. The trigger's only state. */
  private fired = new Map<string, number>();
  /** Size at which cool-downs that have run out are swept (doubles with what stays). */
  private sweepAt = SWEEP_MIN;
  /** Device and topic carry values as data: see TopicValues. */
  private readonly topicValues: TopicValues;

  constructor(
    readonly index: number,
    readonly label: string,
    readonly key: string,
    private readonly source: (source: string) => boolean,
    private readonly pattern: TopicPattern,
    private readonly when: Expression,
    private readonly to: string,
    private readonly device: Template,
    private readonly topic: Template,
    private readonly payload: PayloadBuilder,
    private readonly qos: QoS,
    private readonly ttl: number,
    private readonly cooldown: number,
  ) {
    this.topicValues = { spans: new Set(['topic', ...(pattern.multiLevel ? [pattern.multiLevel] : [])]) };
  }

  static compile(
    cfg: TriggerRuleConfig,
    index: number,
    gateway: string,
    problems: Problems,
  ): CompiledTrigger | undefined {
    const at = ['triggers', index];
    const before = problems.list.length;
    const pattern = compileTopicPattern(cfg.match, { gateway }, problems, [...at, 'match']);
    const when = compileExpression(cfg.when, problems, [...at, 'when']);
    const scope = new Set<string>([...READING_NAMES, ...(pattern?.names ?? [])]);
    const device = compileTemplate(cfg.device ?? '{device}', scope, problems, [...at, 'device']);
    const topic = compileTemplate(cfg.topic ?? '{topic}', scope, problems, [...at, 'topic']);
    const payload = compilePayload(cfg, scope, problems, at, true);
    if (problems.list.length > before || !pattern || !when || !device || !topic || !payload) return undefined;
    return new CompiledTrigger(
      index,
      cfg.name ?? `triggers.${index}`,
      cfg.name ?? `${cfg.source}|${cfg.match}|${cfg.when}|${cfg.to}`,
      compileSourcePattern(cfg.source),
      pattern,
      when,
      cfg.to,
      device,
      topic,
      payload,
      cfg.qos,
      cfg.ttl,
      cfg.cooldown,
    );
  }

  /** Does this trigger look at the reading at all (source and topic)? False: fire() would do nothing. */
  matches(reading: Pick<Reading, 'source' | 'topic'>): boolean {
    return this.source(reading.source) && this.pattern.match(reading.topic) !== null;
  }

  /** The command this reading fires, if any; records the firing for the cool-down. */
  async fire(
    reading: Reading,
    decoded: DecodedPayload,
    gateway: string,
    now: number,
    newId: () => string,
  ): Promise<{ command?: Command; error?: string; cooling?: boolean }> {
    if (!this.source(reading.source)) return {};
    const captures = this.pattern.match(reading.topic);
    if (!captures) return {};
    const input = ruleInput(reading, decoded, gateway, captures);
    try {
      if (!isTruthy(await this.when.evaluate(input))) return {};
    } catch (err) {
      return { error: `when failed: ${errorMessage(err)}` };
    }
    const ctx = templateContext(reading, decoded, gateway, captures);
    const device = this.device.render(ctx, this.topicValues);
    if (!device.ok) return { error: renderProblem(device) };
    const topic = this.topic.render(ctx, this.topicValues);
    if (!topic.ok) return { error: renderProblem(topic) };
    const target = this.coolKey(device.text);
    const last = this.fired.get(target);
    if (last !== undefined && now - last < this.cooldown) return { cooling: true };
    const payload = await this.payload.build(input, ctx);
    if (!payload.ok) return { error: payload.error };
    this.fired.set(target, now);
    if (this.fired.size >= this.sweepAt) this.sweep(now);
    return {
      command: {
        id: newId(),
        target: this.to,
        device: device.text,
        topic: topic.text,
        payload: payload.payload ?? Buffer.alloc(0),
        qos: this.qos,
        expiresAt: now + this.ttl,
      },
    };
  }

  /**
   * What the cool-down protects: the thing that receives the command. A serial port is one device
   * whatever `device` renders to (readings from t1, t2 and t3 must not switch one fan three times);
   * on MQTT-SN and Modbus the device is the addressee.
   */
  private coolKey(device: string): string {
    return this.to.startsWith('serial:') ? this.to : `${this.to}\u0000${device}`;
  }

  adopt(old: CompiledTrigger): void {
    this.fired = new Map(old.fired);
  }

  /** Forget devices whose cool-down ran out: they would fire anyway. Keeps the map bounded by the
   * devices fired at within one cool-down, amortised O(1) per firing. */
  private sweep(now: number): void {
    for (const [device, at] of this.fired) if (now - at >= this.cooldown) this.fired.delete(device);
    this.sweepAt = Math.max(SWEEP_MIN, 2 * this.fired.size);
  }

  /** Devices with a cool-down remembered (for tests). */
  get remembered(): number {
    return this.fired.size;
  }
}
