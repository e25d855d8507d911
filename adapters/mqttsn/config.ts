import { z } from 'zod';
import { TOPIC_PROBLEM_TEXT, topicNameProblem } from '../../contracts/topic.js';
import { bytes, duration, listenAddress } from '../../contracts/units.js';
import { aclSchema } from './acl.js';
import { multicastSchema } from './multicast-config.js';
import { clientsSchema } from './pinning.js';

/**
 * Predefined topic ids: 0x0000 and 0xFFFF are reserved (MQTT-SN 1.2, 5.3.11), and each name must be a
 * topic the broker takes: checked at load, so a typo is a `fieldgate check` error, not a refusal per message.
 */
const topicIdMap = z
  .record(
    z.string(),
    z.string().superRefine((name, ctx) => {
      const problem = topicNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: `topic ${TOPIC_PROBLEM_TEXT[problem]}` });
    }),
  )
  .superRefine((ids, ctx) => {
    // Checked here, not as the record's key schema: zod reports a bad key only as "Invalid key in record".
    for (const id of Object.keys(ids))
      if (!/^\d+$/.test(id) || Number(id) < 1 || Number(id) > 0xfffe)
        ctx.addIssue({ code: 'custom', path: [id], message: 'expected a topic id from 1 to 65534' });
  });

export const mqttsnConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listen: listenAddress().default({ host: '0.0.0.0', port: 1884 }),
    gateway_id: z.number().int().min(0).max(255).default(1),
    /** ADVERTISE interval; 0 = off. */
    advertise: duration().default(0),
    /** Where ADVERTISE goes (broadcast address of the sensor network). */
    advertise_to: listenAddress().default({ host: '255.255.255.255', port: 1884 }),
    /** Multicast discovery: join this group, answer SEARCHGW sent to it, ADVERTISE to it too. */
    multicast: multicastSchema,
    /** Datagrams longer than this are dropped before decoding. */
    max_packet_size: z.number().int().min(64).max(65535).default(4096),
    /** Topic registrations kept per client (REGISTER and gateway-side). */
    max_topics_per_client: z.number().int().positive().default(1024),
    /**
     * Longest topic name or filter (UTF-8 bytes) a device may REGISTER, SUBSCRIBE to or set as its will
     * topic. Sensor topics are short (`sensors/<id>/<field>`, 20-60 bytes); embedded MQTT-SN clients
     * hold a whole packet in 32-256 bytes. Without it a device could make the gateway keep 64 KiB per
     * registration.
     */
    max_topic_length: z.number().int().min(8).max(65535).default(128),
    // --- what devices make the gateway keep (sessions, registrations, subscriptions, wills), in bytes ---
    /** One device's session state: registrations, subscriptions and will, plus the session itself. */
    max_state_bytes_per_client: bytes().default(64 * 1024),
    /** Session state of every client id one source address holds (an address that invents ids). */
    max_state_bytes_per_source: bytes().default(512 * 1024),
    /** Session state of every device together; restored sessions beyond it are dropped at start. */
    max_state_bytes: bytes().default(16 * 1024 * 1024),
    /**
     * Without an `acl`, may devices subscribe at all? Off by default: a device subscription makes the
     * gateway subscribe upstream with its own broker account. `fieldgate check` warns when it is on
     * without an acl.
     */
    open_subscriptions: z.boolean().default(false),
    /** Global predefined topic ids: { 1: sensors/common }. */
    predefined_topics: topicIdMap.default({}),
    /** Per-client predefined topic ids: { clientId: { 2: topic } }. */
    client_topics: z.record(z.string(), topicIdMap).default({}),
    /** Prefix prepended to device topics upstream (empty = as sent). */
    topic_prefix: z.string().default(''),
    qos_minus_one: z
      .strictObject({
        /** Anonymous, connectionless publishes: off unless asked for. */
        enabled: z.boolean().default(false),
        /** Source addresses (host or host:port) allowed; empty = any. */
        allow: z.array(z.string()).default([]),
      })
      .prefault({}),
    /** Client ids and/or source addresses allowed to CONNECT; empty = any. */
    allow: z.array(z.string()).default([]),
    max_clients: z.number().int().positive().default(5000),
    /**
     * When max_clients connected/sleeping devices fill the table and none is offline, a new CONNECT
     * takes the place of the device silent longest, if it has been silent at least this long (it gets
     * a DISCONNECT; no will). Without it, CONNECTs with a long keep-alive could hold every place for
     * a day (65535 s x 1.5). 0 = never.
     */
    evict_idle_after: duration().default(600_000),
    max_inflight_per_client: z.number().int().positive().default(10),
    max_queued_bytes_per_client: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    // --- per-device state bounds (what one device may make the gateway keep) ---
    /**
     * A clean-session=false session that stays offline this long is deleted with its registrations,
     * subscriptions and queued subscription traffic. max_clients counts connected and sleeping
     * devices; when the table is full the session offline longest gives way to a new device.
     */
    session_expiry: duration().default(7 * 86400e3),
    /** Subscriptions one device may hold; SUBSCRIBE beyond it gets SUBACK "rejected: not supported". */
    max_subscriptions_per_client: z.number().int().positive().default(64),
    /** Subscription traffic (not commands) waiting in the inbox for an absent device expires after this. */
    subscription_ttl: duration().default(86400e3),
    /** Messages waiting in the inbox for one device (max_queued_bytes_per_client bounds their bytes). */
    max_queued_messages_per_client: z.number().int().positive().default(1000),
    /** Whole inbox (every adapter's rows): beyond either bound nothing more is queued for MQTT-SN devices. */
    inbox_max_rows: z.number().int().positive().default(100_000),
    inbox_max_bytes: bytes().default(64 * 1024 * 1024),
    /**
     * Memory for messages waiting in connected devices' in-memory downlink queues, all devices
     * together (per device: max_queued_messages_per_client and max_queued_bytes_per_client). Beyond
     * it a message for a connected device is dropped and counted (queue_full), not buffered.
     */
    max_downlink_memory: bytes().default(32 * 1024 * 1024),
    /** The same for every device at one source address together (a host inventing client ids). */
    max_queued_bytes_per_source: bytes().default(4 * 1024 * 1024),
    /** Publish/subscribe topic ACLs per client id pattern; absent = allow all. */
    acl: aclSchema,
    /** Per client id settings: { sensor-7: { address: 10.0.3.7 } } pins the id to an address. */
    clients: clientsSchema,
    /** Downlink retry interval and count (T_retry / N_retry). */
    retry_interval: duration().default(10_000),
    retry_count: z.number().int().min(0).default(3),
  })
  .superRefine((c, ctx) => {
    // A socket on the listen port would receive the group's datagrams too, and answer them twice.
    if (c.multicast && c.listen.host.includes(':'))
      ctx.addIssue({ code: 'custom', path: ['multicast'], message: 'needs an IPv4 listen address' });
    if (c.multicast && c.multicast.port === c.listen.port)
      ctx.addIssue({
        code: 'custom',
        path: ['multicast', 'port'],
        message: 'must differ from the listen port',
      });
  })
  .prefault({ enabled: false });
export type MqttsnConfig = z.output<typeof mqttsnConfigSchema>;
