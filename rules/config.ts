import { z } from 'zod';
import { duration } from '../gateway/config/units.js';

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const uplinkRuleSchema = z.strictObject({
  name: z.string().optional(),
  /** Source pattern: "serial:*", "mqttsn:sensor-*". Default any. */
  source: z.string().default('*'),
  /** Topic pattern with named wildcards: sensors/+device/#rest. */
  match: z.string().min(1),
  /** JSONata condition; the reading is kept when it evaluates truthy. */
  filter: z.string().optional(),
  /** JSONata expression producing the new payload. */
  transform: z.string().optional(),
  /** Output topic template: site/{gateway}/{device}/temperature. Omit with drop: true. */
  publish: z.string().optional(),
  drop: z.boolean().default(false),
  qos: qos.optional(),
  retain: z.boolean().optional(),
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
  /** JSONata expression or template producing the payload sent to the device; default: payload as is. */
  payload: z.string().optional(),
  ttl: duration().default(3600e3),
  /** Topic to publish the command result/ack to (template). */
  result_topic: z.string().optional(),
  report_expired: z.boolean().default(false),
});

export const triggerRuleSchema = z.strictObject({
  name: z.string().optional(),
  source: z.string().default('*'),
  match: z.string().min(1),
  /** JSONata condition over the reading. */
  when: z.string().min(1),
  to: z.string().min(1),
  device: z.string().optional(),
  topic: z.string().optional(),
  payload: z.string().min(1),
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
