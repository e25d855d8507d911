import { z } from 'zod';
import { TOPIC_PROBLEM_TEXT, topicFilterProblem } from '../../contracts/topic.js';
import { bytes, duration } from '../../contracts/units.js';

const brokerUrl = z
  .string()
  .regex(/^mqtts?:\/\/[^/]+(:\d+)?\/?$/, 'expected mqtt://host:port or mqtts://host:port');

export const upstreamConfigSchema = z.strictObject({
  /**
   * mqtt://host:port or mqtts://host:port (TLS), or a list of them (a broker cluster's nodes): on a
   * failed connect the next one is tried; a healthy connection stays where it is.
   */
  url: z.union([brokerUrl, z.array(brokerUrl).min(1)]),
  /**
   * Defaults to fieldgate-{gateway.id}. "" (MQTT 5 only) lets the broker assign one; it is kept and
   * reused on every reconnect of this run, so the session carries over.
   */
  client_id: z.string().max(65535).optional(),
  username: z.string().optional(),
  /** Prefer password_file or FIELDGATE_UPSTREAM_PASSWORD over a password in the YAML. */
  password: z.string().optional(),
  password_file: z.string().optional(),
  tls: z
    .strictObject({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      /** Server name check; leave on unless you know why. */
      verify_server: z.boolean().default(true),
      servername: z.string().optional(),
    })
    .optional(),
  /**
   * MQTT 5 by default; a broker answering "unsupported protocol version" gets 3.1.1 from then on
   * (logged once). YAML `protocol: 5` is a number, `3.1.1` a string: both are accepted.
   */
  protocol: z
    .union([z.literal('3.1.1'), z.literal('5'), z.literal(5).transform(() => '5' as const)])
    .default('5'),
  /**
   * MQTT 5 Session Expiry Interval: how long the broker keeps our session (subscriptions, QoS 1/2
   * in flight) after the connection ends. clean_session: true sends Clean Start and 0 instead.
   * With 3.1.1 a persistent session lasts as long as the broker's own limit.
   */
  session_expiry: duration()
    .default(86_400_000)
    .refine((ms) => ms / 1000 <= 0xffffffff, 'at most 2^32-1 seconds'),
  keepalive: z.number().int().min(0).max(65535).default(30),
  clean_session: z.boolean().default(false),
  /** Max unacknowledged QoS 1/2 PUBLISHes in flight. */
  inflight: z.number().int().min(1).max(65535).default(32),
  /**
   * Max QoS 2 PUBLISHes awaiting PUBREC/PUBCOMP, within `inflight`. Brokers accept only so many
   * QoS 2 messages awaiting PUBREL per client and silently discard the rest (mosquitto
   * max_inflight_messages 20, EMQX max_awaiting_rel, HiveMQ receive maximum 10): stay below.
   */
  max_inflight_qos2: z.number().int().min(1).max(65535).default(10),
  status_topic: z.string().default('fieldgate/{gateway}/status'),
  /**
   * Largest packet accepted from the broker, fixed header included. A larger one is never buffered:
   * it is skipped as it streams in; a PUBLISH is dropped (counted, logged) and still acknowledged so
   * the broker does not send it again on every reconnect; any other packet closes the connection.
   */
  max_packet_size: bytes()
    .default(1024 * 1024)
    .refine((n) => n >= 1024 && n <= 268_435_460, 'expected 1KiB to 256MiB (the MQTT maximum)'),
  /** Backlog drain rate cap in messages/second; 0 = unlimited. */
  max_rate: z.number().min(0).default(0),
  /** Give up on a connect attempt without CONNACK after this long. */
  connect_timeout: duration().default(10_000),
  reconnect: z.strictObject({ min: duration().default(1000), max: duration().default(60_000) }).prefault({}),
  /** Topic filters to subscribe to (commands); rules add their own. */
  subscribe: z
    .array(
      z.strictObject({
        topic: z.string().min(1),
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
      }),
    )
    .default([]),
  /**
   * Where a command's MQTT 5 Response Topic may point: topic filters (`{gateway}` allowed). The result
   * is published with the gateway's own broker rights, so a requester must not pick any topic.
   */
  response_topics: z
    .array(
      z
        .string()
        .min(1)
        .superRefine((f, ctx) => {
          const problem = topicFilterProblem(f.replaceAll('{gateway}', 'gw'));
          if (problem)
            ctx.addIssue({ code: 'custom', message: `not a topic filter: ${TOPIC_PROBLEM_TEXT[problem]}` });
        }),
    )
    .default(['reply/#']),
});
export type UpstreamConfig = z.output<typeof upstreamConfigSchema>;

/** upstream.url as a list (one URL or several). */
export function brokerUrls(c: Pick<UpstreamConfig, 'url'>): string[] {
  return typeof c.url === 'string' ? [c.url] : c.url;
}
