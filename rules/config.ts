import { z } from 'zod';
import { haEntitySchema } from '../contracts/ha.js';
import { duration } from '../contracts/units.js';

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const uplinkRuleSchema = z.strictObject({
  name: z.string().optional(),
  /** Source pattern: "serial:*", "mqttsn:sensor-*". Default any. */
  source: z.string().default('*'),
  /** Topic pattern with named wildcards: sensors/+device/#rest. */
  match: z.string().min(1),
  /**
   * JSONata condition; the reading is kept when it evaluates truthy. A falsy filter drops the reading
   * ('filtered') and still counts as a match: later rules and the default route do not see it
   * (unless `continue: true`).
   */
  filter: z.string().optional(),
  /** JSONata expression producing the new payload (strings/Buffers as is, anything else JSON-encoded). */
  transform: z.string().optional(),
  /** Output topic template: site/{gateway}/{device}/temperature. Default: the reading's topic. */
  publish: z.string().optional(),
  /**
   * Match and drop (reason 'rule_drop'): silences a topic before broader rules see it. With a filter,
   * only readings the filter accepts are dropped; the others go on to the later rules.
   */
  drop: z.boolean().default(false),
  /** Upstream QoS / retain of the output; default: the reading's. */
  qos: qos.optional(),
  retain: z.boolean().optional(),
  /** Report strategies, per output topic (see rules/strategies.ts). */
  report: z
    .strictObject({
      on_change: z.boolean().default(false),
      deadband: z.number().min(0).optional(),
      throttle: duration().optional(),
      heartbeat: duration().optional(),
    })
    .optional(),
  /** Keep matching later rules too (all-match) instead of stopping here (first-match, the default). */
  continue: z.boolean().default(false),
  /** Home Assistant discovery for what this rule publishes (homeassistant.enabled): one entity per output topic. */
  ha: haEntitySchema.optional(),
  /**
   * MQTT 5 User Properties, values are templates like `publish`: {source: "{source}", device: "{device}"}.
   * Ignored (not sent) with upstream.protocol 3.1.1.
   */
  properties: z.record(z.string().min(1), z.string()).optional(),
  /**
   * How long the message stays worth delivering, from when the reading arrived (MQTT 5 Message
   * Expiry Interval, minus the time it waited in the outbox); default store.max_age. A message
   * older than this is not sent (counted as dropped, reason 'expired').
   */
  expiry: duration().optional(),
  /**
   * Sets this field of a JSON object payload to the reading's time when the message is sent, not
   * when it is built: so the time is right after a clock step (a Pi without RTC before NTP).
   */
  time_field: z.string().min(1).optional(),
  /** time_field as ms since epoch, or an ISO 8601 string. */
  time_format: z.enum(['ms', 'iso']).default('ms'),
  /** MQTT 5 Content Type; text/* and application/json also set the Payload Format Indicator (UTF-8). */
  content_type: z.string().min(1).optional(),
});

export const commandRuleSchema = z.strictObject({
  name: z.string().optional(),
  /** Upstream topic filter with named wildcards: cmd/{gateway}/+device/#. */
  subscribe: z.string().min(1),
  qos: qos.default(1),
  /** Target adapter: serial:weather or mqttsn. */
  to: z.string().min(1),
  /** Device id template (default: the +device capture). */
  device: z.string().optional(),
  /** MQTT-SN topic the device receives the command on (template). */
  topic: z.string().optional(),
  /** Text template of the payload sent to the device ({fields.x}, captures...). Default: the upstream payload as is. */
  payload: z.string().optional(),
  /** JSONata expression producing the device payload instead (over {topic, payload, fields, captures, gateway}). */
  transform: z.string().optional(),
  ttl: duration().default(3600e3),
  /** Topic to publish the command result/ack to (template). */
  result_topic: z.string().optional(),
  report_expired: z.boolean().default(false),
});

export const triggerRuleSchema = z.strictObject({
  name: z.string().optional(),
  /** Adapter-name glob of the readings to watch. */
  source: z.string().default('*'),
  /** Topic pattern with named wildcards, as in rules. */
  match: z.string().min(1),
  /** JSONata condition over the reading (same input as a rule filter). */
  when: z.string().min(1),
  /** Target adapter: serial:weather or mqttsn. */
  to: z.string().min(1),
  /** Target device id template (default: the +device capture, else the reading's device). */
  device: z.string().optional(),
  /** Topic template the device receives the command on (default: the reading's topic). */
  topic: z.string().optional(),
  /** Text template of the command payload ({fields.x}, {device}...). One of payload / transform. */
  payload: z.string().optional(),
  /** JSONata expression producing the command payload (over the same input as `when`). */
  transform: z.string().optional(),
  qos: qos.default(1),
  /** The command expires (and is dropped) if not delivered within this time. */
  ttl: duration().default(3600e3),
  /** Minimum time between two firings of this trigger for the same target device. */
  cooldown: duration().default(60_000),
});

export const rulesConfigSchema = z.array(uplinkRuleSchema).default([]);
export const commandsConfigSchema = z.array(commandRuleSchema).default([]);
export const triggersConfigSchema = z.array(triggerRuleSchema).default([]);
export const defaultRouteSchema = z
  .strictObject({
    /** A reading no rule matched: pass it through (optionally under a prefix) or drop and count it. */
    action: z.enum(['pass', 'drop']).default('pass'),
    prefix: z.string().default(''),
  })
  .prefault({});

export type UplinkRuleConfig = z.output<typeof uplinkRuleSchema>;
export type CommandRuleConfig = z.output<typeof commandRuleSchema>;
export type TriggerRuleConfig = z.output<typeof triggerRuleSchema>;
export type DefaultRouteConfig = z.output<typeof defaultRouteSchema>;

/** The parts of the gateway config the rules engine compiles (top-level keys of the YAML file). */
export interface RulesConfig {
  rules: UplinkRuleConfig[];
  default_route: DefaultRouteConfig;
  commands: CommandRuleConfig[];
  triggers: TriggerRuleConfig[];
}
