import { z } from 'zod';
import { POINT_DATA_TYPES } from '../../contracts/points.js';

/** A Sparkplug id (group, edge node, device, host): one topic level, no wildcards. */
const sparkplugId = z
  .string()
  .min(1)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is not allowed in a topic
  .regex(/^[^/+#\u0000]+$/, 'a Sparkplug id is one topic level: no / + # or NUL');

/** One topic of a source that carries one value per message (MQTT-SN): which metric it is. */
export const metricMapSchema = z.strictObject({
  /** An MQTT filter over the reading's topic; a level `+device` names the Sparkplug device. */
  topic: z
    .string()
    .min(1)
    .refine((t) => t.split('/').every((l) => !l.includes('#') || l === '#'), 'a # must be a whole level'),
  /** The metric's name (default: the topic's last level). */
  name: z.string().min(1).optional(),
  datatype: z.enum(POINT_DATA_TYPES).default('Double'),
  unit: z.string().optional(),
  /**
   * Writable: a DCMD write of the metric is sent to the device (through the command spool) on this
   * topic, `{device}` the Sparkplug device id, its value as text.
   */
  command_topic: z.string().min(1).optional(),
});

/**
 * A metric a host may write on a serial source: what the port is sent for a DCMD write of it (the
 * port's framing added, as for any command).
 */
export const metricWriteSchema = z.strictObject({
  metric: z.string().min(1),
  /** `{value}`: the written value as text; `{device}`: the Sparkplug device id. */
  payload: z.string().min(1),
  /** Its datatype in births when the device never reports it (a control that is only written). */
  datatype: z.enum(POINT_DATA_TYPES).default('String'),
});

export const sparkplugSourceSchema = z.strictObject({
  /** The adapter instance whose points are published (Reading.source, e.g. modbus:meters). */
  source: z.string().min(1),
  /** sparkplug: only as Sparkplug; both: the plain topics too. */
  publish: z.enum(['sparkplug', 'both']).default('both'),
  /** exception: only metrics whose value changed (beyond the deadband); every_poll: every value. */
  report: z.enum(['exception', 'every_poll']).default('exception'),
  /** By exception: a numeric change no larger than this is not reported (per metric name, or `*`). */
  deadband: z.record(z.string(), z.number().min(0)).default({}),
  /** Per device (by its Sparkplug device id): its own `report` and `deadband` (merged over the source's). */
  devices: z
    .record(
      z.string(),
      z.strictObject({
        report: z.enum(['exception', 'every_poll']).optional(),
        deadband: z.record(z.string(), z.number().min(0)).optional(),
      }),
    )
    .default({}),
  /**
   * For a source whose readings carry one value per topic and declare no points (MQTT-SN): which
   * topic is which metric of which device, with its datatype. Given, other topics are not published.
   */
  metrics: z.array(metricMapSchema).optional(),
  /** Serial sources: the metrics a DCMD may write, and the command each write sends to the port. */
  writes: z
    .array(metricWriteSchema)
    .refine((ws) => new Set(ws.map((w) => w.metric)).size === ws.length, 'a metric is listed twice')
    .optional(),
});

export const sparkplugConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    group_id: sparkplugId.default('fieldgate'),
    /** Default: gateway.id. */
    edge_node_id: sparkplugId.optional(),
    /** Publish births and data only while this host's retained STATE says online. */
    primary_host_id: sparkplugId.optional(),
    /** The Sparkplug connection's own client id (default: the upstream client id + "-spb"). */
    client_id: z.string().min(1).optional(),
    /**
     * Sparkplug publishes data at QoS 0; 1 (off the specification) keeps a reading in the outbox until
     * the broker acknowledged it, so a connection drop loses none.
     */
    data_qos: z.union([z.literal(0), z.literal(1)]).default(0),
    /**
     * Births declare an alias per metric and DDATA carries the alias instead of the name (a third
     * smaller on a meter's poll; see docs/configuration.md).
     */
    aliases: z.boolean().default(false),
    sources: z.array(sparkplugSourceSchema).default([]),
  })
  .prefault({});

export type SparkplugConfig = z.output<typeof sparkplugConfigSchema>;
export type SparkplugSourceConfig = z.output<typeof sparkplugSourceSchema>;
export type MetricMap = z.output<typeof metricMapSchema>;
export type MetricWrite = z.output<typeof metricWriteSchema>;
