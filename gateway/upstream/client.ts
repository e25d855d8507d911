import type { IConnectPacket, Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { BehaviorSubject, type Observable, Subject, type Subscription } from 'rxjs';
import { waitingNow } from '../../contracts/clock.js';
import type { KvState, Outbox } from '../../contracts/store.js';
import { Backoff } from '../lifecycle/backoff.js';
import { DropLog } from '../store/drop-log.js';
import { type BrokerLimits, brokerLimits } from './broker-limits.js';
import { brokerUrls, type UpstreamConfig } from './config.js';
import { ConnectError, Connection, type ProtocolVersion } from './connection.js';
import type { ConnectionState, UpstreamEvent } from './events.js';
import type { AckCmd, Oversize } from './framer.js';
import { Inbound, type MessageHandler } from './inbound.js';
import { startKeepAlive } from './keepalive.js';
import { PacketIds } from './packet-ids.js';
import { connackReason, isConfigRefusal, isUnsupportedProtocol, reason5 } from './reasons.js';
import { Sender } from './sender.js';
import { type DirectMessage, DirectPublishes } from './direct.js';
import { NO_ROWS } from './no-rows.js';
import { Status } from './status.js';
import { type QoS, Subscriptions } from './subscriptions.js';
import { redactUrl, urlCredentials } from './url.js';

export interface UpstreamOptions {
  /** Password already resolved into config.password. */
  config: UpstreamConfig;
  /** {gateway} in status_topic; client id default `fieldgate-${gatewayId}`. */
  gatewayId: string;
  /** The rows this connection sends (absent: none, a connection for direct publishes only). */
  outbox?: Outbox;
  state: KvState;
  logger: Logger;
  /** store.max_age in ms: the Message Expiry Interval of a row without its own (MQTT 5). */
  maxAgeMs?: number;
  /** A QoS 2 message waiting this long for PUBREC/PUBCOMP is logged (default 60 s). */
  stuckAfterMs?: number;
  /**
   * The will of each connection, asked for right before it is dialled. Given, it replaces the
   * status topic (no retained online/offline is published on this connection).
   */
  will?: () => WillMessage;
  /** The `part` of its log lines (default `upstream`): a second connection says whose it is. */
  part?: string;
  /** Runs before each connection attempt (a Sparkplug bdSeq is made durable here); a throw retries later. */
  beforeConnect?: () => Promise<void>;
}

/** A will for UpstreamOptions.will. */
export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
}

const PROTOCOL: Record<UpstreamConfig['protocol'], ProtocolVersion> = { '3.1.1': 4, '5': 5 };
/** Topic aliases we accept from the broker on incoming PUBLISHes (MQTT 5). */
const INCOMING_ALIASES = 64;
/** Receive Maximum we announce: incoming QoS 1/2 handled one at a time, so a modest queue. */
const RECEIVE_MAXIMUM = 100;
const STOP_ACK_MS = 1000;
const STOP_SETTLE_MS = 2000;

/** The built-in upstream MQTT client: one connection, the outbox drained through it, reconnecting forever. */
export class UpstreamClient {
  readonly state$ = new BehaviorSubject<ConnectionState>('disconnected');
  private readonly events = new Subject<UpstreamEvent>();
  readonly events$: Observable<UpstreamEvent> = this.events.asObservable();

  private readonly log: Logger;
  private readonly ids = new PacketIds();
  private readonly backoff: Backoff;
  private readonly sender: Sender;
  private readonly inbound: Inbound;
  private readonly subs: Subscriptions;
  private readonly status: Status;
  private readonly direct: DirectPublishes;
  private readonly baseFilters: Map<string, QoS>;
  private running = false;
  private conn: Connection | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private added: Subscription | undefined;
  private reconnects = 0;
  private lastFailure = '';
  /** Incoming PUBLISHes dropped for exceeding max_packet_size. */
  private oversizeDropped = 0;
  private readonly dropLog: DropLog;
  /** Outbox rows past their expiry, deleted unsent: many at once after a long outage. */
  private readonly expiredLog: DropLog;
  /** upstream.url as a list; `urlIndex` is the one in use or being tried. */
  private readonly urls: string[];
  private urlIndex = 0;
  /** Protocol spoken: 5 until a broker shows it does not know it (then 3.1.1 for the run). */
  private protocol: ProtocolVersion;
  /**
   * Why we fell back to 3.1.1, and whether that is settled: a fallback on a mere close (no CONNACK)
   * is tried once; it holds for the run when 3.1.1 connects, and MQTT 5 is tried again if 3.1.1
   * got no CONNACK either (a broker that closes every connection says nothing about versions).
   */
  private fallback: { reason: string; at: number; settled: boolean } | undefined;
  /** Broker URLs that answered a QoS 2 PUBLISH with PUBACK: QoS 2 goes to them as QoS 1 (this run). */
  private readonly qos1Only = new Set<string>();
  /** The downgrade was logged on the current connection. */
  private downgradeLogged = false;
  /** Assigned Client Identifier from an MQTT 5 broker (only when we sent none). */
  private assignedId: string | undefined;
  /** Incoming topic aliases of this connection (alias -> topic). */
  private inAliases = new Map<number, string>();
  private limits: BrokerLimits | undefined;

  /** Does nothing (no I/O): start() does. */
  constructor(private readonly opts: UpstreamOptions) {
    const c = opts.config;
    this.urls = brokerUrls(c);
    this.protocol = PROTOCOL[c.protocol];
    this.log = opts.logger.child({ part: opts.part ?? 'upstream' });
    this.dropLog = new DropLog(this.log, 'upstream: incoming messages dropped');
    this.expiredLog = new DropLog(this.log, 'upstream: messages past their expiry deleted unsent');
    this.backoff = new Backoff(c.reconnect.min, Math.max(c.reconnect.min, c.reconnect.max));
    this.sender = new Sender({
      outbox: opts.outbox ?? NO_ROWS,
      ids: this.ids,
      window: c.inflight,
      maxInflightQos2: Math.min(c.max_inflight_qos2, c.inflight),
      maxRate: c.max_rate,
      logger: this.log,
      onDelivered: (rows) => this.events.next({ type: 'delivered-batch', rows }),
      onSetAside: (e) => this.events.next({ type: 'set-aside', ...e }),
      onRetry: (e) => this.events.next({ type: 'publish-retry', ...e }),
      onExpired: (e) => {
        this.expiredLog.add('expired', 1);
        this.events.next({ type: 'expired', ...e });
      },
      onDowngraded: (e) => this.downgraded(e),
      maxAgeMs: opts.maxAgeMs ?? 0,
      ...(opts.stuckAfterMs !== undefined && { stuckAfterMs: opts.stuckAfterMs }),
    });
    this.inbound = new Inbound(opts.state, this.log, (topic, bytes) => {
      this.dropLog.add('inbound_overload', 1);
      this.events.next({ type: 'inbound-dropped', reason: 'inbound_overload', topic, bytes });
    });
    this.subs = new Subscriptions(this.ids, this.log);
    this.direct = new DirectPublishes(this.ids);
    this.status = new Status(c.status_topic.replaceAll('{gateway}', opts.gatewayId), this.direct);
    this.baseFilters = new Map(c.subscribe.map((s) => [s.topic, s.qos]));
    this.subs.set(this.baseFilters);
  }

  get clientId(): string {
    return this.assignedId ?? this.opts.config.client_id ?? `fieldgate-${this.opts.gatewayId}`;
  }

  /** The broker URL in use (or being tried), credentials redacted. */
  get brokerUrl(): string {
    return redactUrl(this.urls[this.urlIndex]!);
  }

  /** Every configured broker URL (redacted), for the fieldgate_upstream_broker{url} gauge. */
  get brokerUrls(): string[] {
    return this.urls.map(redactUrl);
  }

  /** What the broker announced in its last CONNACK (MQTT 5), for status and tests. */
  get brokerLimits(): BrokerLimits | undefined {
    return this.limits;
  }

  get protocolVersion(): ProtocolVersion {
    return this.protocol;
  }

  /** Why this run speaks MQTT 3.1.1 though 5 was configured (undefined when it does not). */
  get protocolFallback(): { reason: string; at: number } | undefined {
    return this.protocol === 4 && this.fallback
      ? { reason: this.fallback.reason, at: this.fallback.at }
      : undefined;
  }

  /** Begin connecting; resolves at once (the broker may be down). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.added = (this.opts.outbox ?? NO_ROWS).added$.subscribe((rows) => this.sender.offer(rows));
    void this.connect();
  }

  /** Publish retained "offline", DISCONNECT, close; settles pending store writes. Bounded in time. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.retryTimer);
    this.added?.unsubscribe();
    this.sender.pause();
    const conn = this.conn;
    if (conn?.open && this.state$.value === 'connected') {
      if (!this.opts.will) await this.status.publish(conn, 'offline', STOP_ACK_MS);
      await conn.end(STOP_ACK_MS);
    } else conn?.destroy('client stopped');
    await Promise.race([
      Promise.all([this.sender.settle(), this.inbound.idle()]),
      new Promise((r) => setTimeout(r, STOP_SETTLE_MS).unref()),
    ]);
    this.state$.next('disconnected');
    this.dropLog.flush();
    this.expiredLog.flush();
    this.log.info('upstream: stopped');
  }

  /**
   * Publish now, past the outbox (answers to requests): false when not connected, on no PUBACK
   * within `ms`, or when the connection drops first. Nothing is stored or retried.
   */
  publishDirect(m: DirectMessage, ms = 10_000): Promise<boolean> {
    const conn = this.conn;
    if (!conn?.open || this.state$.value !== 'connected') return Promise.resolve(false);
    return this.direct.publish(conn, m, ms, this.protocol);
  }

  /**
   * End the connection with DISCONNECT (the broker discards the will) and connect again after the
   * usual backoff: a Sparkplug edge node whose primary host went offline, its NDEATH published.
   */
  reconnect(reason: string): void {
    this.log.info({ reason }, 'upstream: reconnecting');
    void this.conn?.end(STOP_ACK_MS);
  }

  /** Keep the broker subscribed to exactly these filters (plus upstream.subscribe from config). */
  setSubscriptions(filters: ReadonlyMap<string, 0 | 1 | 2>): void {
    this.subs.set(new Map([...this.baseFilters, ...filters]));
  }

  /** Filters among those set whose retained messages the broker must not send (MQTT 5 Retain Handling 2). */
  setNoRetained(filters: Iterable<string>): void {
    this.subs.setNoRetained(filters);
  }

  onMessage(handler: MessageHandler): void {
    this.inbound.setHandler(handler);
  }

  stats(): {
    inflight: number;
    reconnects: number;
    connected: boolean;
    oversizeDropped: number;
    /** The last connection dropped with rows in flight and no ack: sending one at a time. */
    probing: boolean;
    /** QoS 2 messages awaiting PUBREC/PUBCOMP, and how long the oldest has waited (ms). */
    qos2Waiting: { count: number; oldestMs: number };
  } {
    return {
      probing: this.sender.isProbing,
      qos2Waiting: this.sender.qos2Waiting(),
      inflight: this.sender.inflight,
      reconnects: this.reconnects,
      connected: this.state$.value === 'connected',
      oversizeDropped: this.oversizeDropped,
    };
  }

  private connectPacket(): IConnectPacket {
    const c = this.opts.config;
    const p: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.protocol,
      clientId: this.clientId,
      // No id yet (client_id "", the broker assigns one): there is no session to resume, and
      // mqtt-packet refuses an empty id without Clean Start. The session still outlives the connection.
      clean: c.clean_session || this.clientId === '',
      keepalive: c.keepalive,
      will: this.opts.will?.() ?? this.status.will(),
    };
    if (this.protocol === 5) {
      // clean_session: true keeps its 3.1.1 meaning: a fresh session that ends with the connection.
      p.properties = {
        sessionExpiryInterval: c.clean_session ? 0 : Math.round(c.session_expiry / 1000),
        receiveMaximum: RECEIVE_MAXIMUM,
        maximumPacketSize: c.max_packet_size,
        topicAliasMaximum: INCOMING_ALIASES,
      };
    }
    // Set on their own, username/password win over credentials in the URL.
    const fromUrl = urlCredentials(this.urls[this.urlIndex]!);
    const username = c.username ?? fromUrl.username;
    const password = c.password ?? fromUrl.password;
    if (username !== undefined) p.username = username;
    if (password !== undefined) p.password = Buffer.from(password);
    return p;
  }

  private async connect(): Promise<void> {
    this.state$.next('connecting');
    const c = this.opts.config;
    try {
      await this.opts.beforeConnect?.();
    } catch (err) {
      this.connectFailed(err);
      return;
    }
    if (!this.running) return;
    let conn: Connection;
    let sessionPresent: boolean;
    let limits: BrokerLimits;
    const url = this.urls[this.urlIndex]!;
    try {
      const r = await Connection.dial({
        url,
        tls: c.tls,
        connect: this.connectPacket(),
        protocolVersion: this.protocol,
        timeoutMs: c.connect_timeout,
        maxPacketSize: c.max_packet_size,
      });
      conn = r.conn;
      sessionPresent = r.connack.sessionPresent;
      limits = brokerLimits(r.connack);
      // A broker that took QoS 2 as QoS 1 earlier in this run gets QoS 1 (see downgraded()).
      if (this.qos1Only.has(url) && limits.maximumQoS > 1) limits = { ...limits, maximumQoS: 1 };
      if (!limits.retainAvailable) this.status.retain = false;
    } catch (err) {
      this.connectFailed(err);
      return;
    }
    if (!this.running) {
      await conn.end(STOP_ACK_MS);
      return;
    }
    this.conn = conn;
    this.lastFailure = '';
    this.downgradeLogged = false;
    if (this.fallback && this.protocol === 4) this.fallback.settled = true;
    this.backoff.reset();
    this.limits = limits;
    this.inAliases = new Map();
    if (limits.assignedClientId && limits.assignedClientId !== this.assignedId) {
      this.assignedId = limits.assignedClientId;
      this.log.info({ clientId: this.assignedId }, 'upstream: broker assigned our client identifier');
    }
    // Server Keep Alive: the broker's value replaces ours (MQTT 5, 3.1.2.10).
    const keepalive = limits.serverKeepAlive ?? c.keepalive;
    const stopKeepAlive = startKeepAlive(conn, keepalive, (reason) => conn.destroy(reason));
    if (!sessionPresent) this.inbound.newSession(); // before any PUBLISH of this connection
    conn.onOversize((o) => this.oversize(conn, o));
    conn.onPacket((p) => this.dispatch(conn, p));
    conn.onAck((cmd, id, reasonCode) => this.ack(cmd, id, reasonCode));
    conn.onClose((reason) => {
      stopKeepAlive();
      this.lost(conn, reason);
    });
    const resent = await this.sender.attach(conn, sessionPresent, this.protocol, limits);
    if (!conn.open) return;
    if (!this.opts.will) void this.status.publish(conn, 'online', 30_000);
    this.subs.attach(conn);
    this.state$.next('connected');
    const announced =
      this.protocol === 5
        ? {
            receiveMaximum: limits.receiveMaximum,
            maximumPacketSize: limits.maximumPacketSize,
            topicAliasMaximum: limits.topicAliasMaximum,
            keepalive,
          }
        : {};
    this.log.info(
      {
        url: redactUrl(url),
        protocol: this.protocol === 5 ? '5' : '3.1.1',
        ...(this.protocolFallback && { fallbackReason: this.protocolFallback.reason }),
        ...(limits.maximumQoS < 2 && this.qos1Only.has(url) && { qos2SentAs: 1 }),
        clientId: this.clientId,
        sessionPresent,
        resent,
        ...announced,
      },
      'upstream: connected',
    );
    this.events.next({ type: 'connected', sessionPresent, resent, url: redactUrl(url) });
  }

  /**
   * A QoS 2 row delivered at QoS 1. On a PUBACK: logged once per connection, and this broker gets
   * QoS 2 rows as QoS 1 for the rest of the run (it treats them so anyway).
   */
  private downgraded(e: { id: number; reason: 'puback' | 'broker_maximum_qos' }): void {
    this.events.next({ type: 'qos-downgraded', ...e });
    if (e.reason !== 'puback') return;
    const url = this.urls[this.urlIndex]!;
    this.qos1Only.add(url);
    if (this.downgradeLogged) return;
    this.downgradeLogged = true;
    this.log.warn(
      { url: redactUrl(url), id: e.id },
      'upstream: the broker answered a QoS 2 message with PUBACK: it does not do QoS 2, and took it at QoS 1 (at least once, duplicates possible); QoS 2 messages go to it as QoS 1 for the rest of this run',
    );
  }

  private dispatch(conn: Connection, p: Packet): void {
    const id = p.messageId ?? 0;
    switch (p.cmd) {
      case 'publish':
        if (!this.resolveAlias(conn, p)) break;
        this.inbound.publish(conn, p);
        break;
      case 'pubrel':
        this.inbound.pubrel(conn, id);
        break;
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        this.ack(p.cmd, id, p.reasonCode ?? 0);
        break;
      case 'disconnect': {
        // MQTT 5: the broker says why it ends the connection.
        const code = p.reasonCode ?? 0;
        const reasonString = p.properties?.reasonString;
        this.log.warn(
          { code, reason: reason5(code), reasonString, serverReference: p.properties?.serverReference },
          `upstream: broker disconnected us: ${reason5(code)}${reasonString ? ` (${reasonString})` : ''}`,
        );
        conn.destroy(
          `broker sent DISCONNECT: ${reason5(code)}${reasonString ? ` (${reasonString})` : ''}`,
          'broker',
        );
        break;
      }
      case 'suback':
      case 'unsuback':
        this.subs.handleAck(p);
        break;
      case 'pingresp':
        break;
      default:
        this.log.debug({ cmd: p.cmd }, 'upstream: unexpected packet ignored');
    }
  }

  /** An ack of one of our PUBLISHes: the status message's, or an outbox row's. */
  private ack(cmd: AckCmd, id: number, reasonCode: number): void {
    if (cmd === 'puback' && this.direct.handleAck(id)) return;
    this.sender.handleAck(cmd, id, reasonCode);
  }

  /**
   * Incoming topic alias (MQTT 5): a PUBLISH with topic and alias sets it, one with an alias and an
   * empty topic uses it. An unknown alias is a protocol error (4.3.3): the connection is closed.
   */
  private resolveAlias(conn: Connection, p: Extract<Packet, { cmd: 'publish' }>): boolean {
    const alias = p.properties?.topicAlias;
    if (alias === undefined) return true;
    if (alias < 1 || alias > INCOMING_ALIASES) {
      conn.destroy(`broker used topic alias ${alias} beyond our maximum ${INCOMING_ALIASES}`);
      return false;
    }
    if (p.topic) this.inAliases.set(alias, p.topic);
    else {
      const topic = this.inAliases.get(alias);
      if (topic === undefined) {
        conn.destroy(`broker used unknown topic alias ${alias}`);
        return false;
      }
      p.topic = topic;
    }
    return true;
  }

  /**
   * A packet over max_packet_size went by unbuffered. A PUBLISH is dropped and acknowledged all the
   * same: unacknowledged, the broker would send it again on every reconnect (a retained message or a
   * persistent session) and flap the uplink forever. The ack goes out now, possibly ahead of acks
   * for earlier messages still being handled: a broker does not depend on ack order.
   */
  private oversize(conn: Connection, o: Oversize): void {
    const max = this.opts.config.max_packet_size;
    if (!o.publish) {
      conn.destroy(`${o.bytes}-byte packet (type ${o.type}) from broker exceeds max_packet_size ${max}`);
      return;
    }
    const { topic, qos, messageId } = o.publish;
    this.oversizeDropped++;
    this.dropLog.add('max_packet_size', 1);
    this.log.debug({ topic, bytes: o.bytes, max }, 'upstream: incoming message over max_packet_size dropped');
    this.events.next({ type: 'inbound-dropped', reason: 'max_packet_size', topic, bytes: o.bytes });
    if (qos === 1) conn.write({ cmd: 'puback', messageId: messageId! });
    else if (qos === 2) conn.write({ cmd: 'pubrec', messageId: messageId! });
  }

  private lost(conn: Connection, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    // Only a drop by the broker or the network says something about the rows in flight: one we made
    // (keep-alive timeout, a store failure, a packet we will not take) is not their fault.
    this.sender.detach(this.running && !conn.closedLocally, this.running ? conn.suspect : undefined);
    this.subs.detach();
    this.direct.detach();
    this.ids.clear();
    this.state$.next('disconnected');
    if (!this.running) return;
    this.log.warn({ reason }, 'upstream: disconnected');
    this.events.next({ type: 'disconnected', reason });
    this.retry(this.backoff.next());
  }

  private connectFailed(err: unknown): void {
    this.state$.next('disconnected');
    if (!this.running) return;
    const e = err instanceof ConnectError ? err : new ConnectError(String(err), 'network');
    const explicit = e.kind === 'refused' && isUnsupportedProtocol(e.code ?? -1);
    if (this.protocol === 5 && (explicit || e.answeredWithoutConnack)) {
      // RabbitMQ 3.x closes the socket on an MQTT 5 CONNECT without a word; others answer
      // "unsupported protocol version" or garbage. Either way: try 3.1.1 at once.
      const reason = explicit ? `CONNACK: ${connackReason(e.code!)}` : e.message;
      this.protocol = 4;
      this.fallback = { reason, at: waitingNow(), settled: explicit };
      this.log.warn(
        { url: this.brokerUrl, code: e.code, reason },
        `upstream: broker did not accept MQTT 5 (${reason}): falling back to MQTT 3.1.1 for this run`,
      );
      this.events.next({ type: 'protocol-fallback', url: this.brokerUrl, reason });
      if (this.clientId === '')
        this.log.error(
          'upstream: client_id is "" and MQTT 3.1.1 cannot assign one: every connection is a fresh session (QoS 1/2 commands in flight are lost on a reconnect); set upstream.client_id',
        );
      this.retry(0);
      return;
    }
    if (this.protocol === 4 && this.fallback && !this.fallback.settled && e.answeredWithoutConnack) {
      // 3.1.1 got no CONNACK either: the close said nothing about versions. MQTT 5 next time.
      this.protocol = PROTOCOL[this.opts.config.protocol];
      this.fallback = undefined;
      this.log.warn(
        { url: this.brokerUrl, reason: e.message },
        'upstream: MQTT 3.1.1 got no CONNACK either: back to MQTT 5 for the next attempt',
      );
    }
    if (e.kind === 'refused' && e.code === 0x9a && this.status.retain) {
      // Retain not supported: our retained will was refused. The status goes unretained from now on.
      this.status.retain = false;
      this.log.warn('upstream: broker does not support retained messages: status messages go unretained');
      this.retry(0);
      return;
    }
    this.moveOn(e.message);
    let delay: number;
    if (e.kind === 'refused') {
      const code = e.code ?? -1;
      const reason = connackReason(code);
      delay = isConfigRefusal(code) ? this.backoff.long() : this.backoff.next();
      this.log.error({ code, reason, retryInMs: delay }, `upstream: broker refused connection: ${reason}`);
      this.events.next({ type: 'refused', code, reason });
    } else {
      delay = e.kind === 'tls' ? this.backoff.long() : this.backoff.next();
      const level = e.kind === 'tls' ? 'error' : this.lastFailure === e.message ? 'debug' : 'warn';
      this.log[level]({ reason: e.message, retryInMs: delay }, 'upstream: connect failed');
      this.events.next({ type: 'connect-failed', reason: e.message, tls: e.kind === 'tls' });
    }
    this.lastFailure = e.message;
    this.retry(delay);
  }

  /**
   * Failover: a failed connect moves to the next URL of the list (round robin); a connection that
   * came up stays on its URL, and when it is lost the same URL is tried first (a node restart or a
   * blip should not move the session around the cluster).
   */
  private moveOn(why: string): void {
    if (this.urls.length < 2) return;
    const from = this.brokerUrl;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.log.warn({ from, to: this.brokerUrl, reason: why }, 'upstream: trying the next broker');
    this.events.next({ type: 'broker-move', from, to: this.brokerUrl });
  }

  private retry(delayMs: number): void {
    this.reconnects++;
    this.log.info({ delayMs, attempt: this.reconnects }, `upstream: reconnect in ${delayMs} ms`);
    this.events.next({ type: 'reconnecting', delayMs, attempt: this.reconnects });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.running) void this.connect();
    }, delayMs);
  }
}
