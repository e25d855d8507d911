import type { IConnectPacket, Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { BehaviorSubject, type Observable, Subject, type Subscription } from 'rxjs';
import type { KvState, Outbox } from '../../contracts/store.js';
import { Backoff } from '../lifecycle/backoff.js';
import { DropLog } from '../store/drop-log.js';
import type { UpstreamConfig } from './config.js';
import { ConnectError, Connection, type ProtocolVersion } from './connection.js';
import type { ConnectionState, UpstreamEvent } from './events.js';
import type { Oversize } from './framer.js';
import { Inbound, type MessageHandler } from './inbound.js';
import { startKeepAlive } from './keepalive.js';
import { PacketIds } from './packet-ids.js';
import { connackReason, isConfigRefusal } from './reasons.js';
import { Sender } from './sender.js';
import { Status } from './status.js';
import { type QoS, Subscriptions } from './subscriptions.js';
import { redactUrl, urlCredentials } from './url.js';

export interface UpstreamOptions {
  /** Password already resolved into config.password. */
  config: UpstreamConfig;
  /** {gateway} in status_topic; client id default `fieldgate-${gatewayId}`. */
  gatewayId: string;
  outbox: Outbox;
  state: KvState;
  logger: Logger;
}

const PROTOCOL: Record<UpstreamConfig['protocol'], ProtocolVersion> = { '3.1.1': 4 };
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

  /** Does nothing (no I/O): start() does. */
  constructor(private readonly opts: UpstreamOptions) {
    const c = opts.config;
    this.log = opts.logger.child({ part: 'upstream' });
    this.dropLog = new DropLog(this.log, 'upstream: incoming messages dropped');
    this.backoff = new Backoff(c.reconnect.min, Math.max(c.reconnect.min, c.reconnect.max));
    this.sender = new Sender({
      outbox: opts.outbox,
      ids: this.ids,
      window: c.inflight,
      maxInflightQos2: Math.min(c.max_inflight_qos2, c.inflight),
      maxRate: c.max_rate,
      logger: this.log,
      onDelivered: (d) => this.events.next({ type: 'delivered', ...d }),
      onSetAside: (e) => this.events.next({ type: 'set-aside', ...e }),
    });
    this.inbound = new Inbound(opts.state, this.log, (topic, bytes) => {
      this.dropLog.add('inbound_overload', 1);
      this.events.next({ type: 'inbound-dropped', reason: 'inbound_overload', topic, bytes });
    });
    this.subs = new Subscriptions(this.ids, this.log);
    this.status = new Status(c.status_topic.replaceAll('{gateway}', opts.gatewayId), this.ids);
    this.baseFilters = new Map(c.subscribe.map((s) => [s.topic, s.qos]));
    this.subs.set(this.baseFilters);
  }

  get clientId(): string {
    return this.opts.config.client_id ?? `fieldgate-${this.opts.gatewayId}`;
  }

  /** Begin connecting; resolves at once (the broker may be down). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.added = this.opts.outbox.added$.subscribe((rows) => this.sender.offer(rows));
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
      await this.status.publish(conn, 'offline', STOP_ACK_MS);
      await conn.end(STOP_ACK_MS);
    } else conn?.destroy('client stopped');
    await Promise.race([
      Promise.all([this.sender.settle(), this.inbound.idle()]),
      new Promise((r) => setTimeout(r, STOP_SETTLE_MS).unref()),
    ]);
    this.state$.next('disconnected');
    this.dropLog.flush();
    this.log.info('upstream: stopped');
  }

  /** Keep the broker subscribed to exactly these filters (plus upstream.subscribe from config). */
  setSubscriptions(filters: ReadonlyMap<string, 0 | 1 | 2>): void {
    this.subs.set(new Map([...this.baseFilters, ...filters]));
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
  } {
    return {
      probing: this.sender.isProbing,
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
      protocolVersion: PROTOCOL[c.protocol],
      clientId: this.clientId,
      clean: c.clean_session,
      keepalive: c.keepalive,
      will: this.status.will(),
    };
    // Set on their own, username/password win over credentials in the URL.
    const fromUrl = urlCredentials(c.url);
    const username = c.username ?? fromUrl.username;
    const password = c.password ?? fromUrl.password;
    if (username !== undefined) p.username = username;
    if (password !== undefined) p.password = Buffer.from(password);
    return p;
  }

  private async connect(): Promise<void> {
    this.state$.next('connecting');
    const c = this.opts.config;
    let conn: Connection;
    let sessionPresent: boolean;
    try {
      const r = await Connection.dial({
        url: c.url,
        tls: c.tls,
        connect: this.connectPacket(),
        protocolVersion: PROTOCOL[c.protocol],
        timeoutMs: c.connect_timeout,
        maxPacketSize: c.max_packet_size,
      });
      conn = r.conn;
      sessionPresent = r.connack.sessionPresent;
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
    this.backoff.reset();
    const stopKeepAlive = startKeepAlive(conn, c.keepalive, (reason) => {
      this.sender.closingOwnConnection(); // a silent broker or a stalled loop is not the rows' fault
      conn.destroy(reason);
    });
    if (!sessionPresent) this.inbound.newSession(); // before any PUBLISH of this connection
    conn.onOversize((o) => this.oversize(conn, o));
    conn.onPacket((p) => this.dispatch(conn, p));
    conn.onClose((reason) => {
      stopKeepAlive();
      this.lost(conn, reason);
    });
    const resent = await this.sender.attach(conn, sessionPresent);
    if (!conn.open) return;
    void this.status.publish(conn, 'online', 30_000);
    this.subs.attach(conn);
    this.state$.next('connected');
    this.log.info(
      { url: redactUrl(c.url), clientId: this.clientId, sessionPresent, resent },
      'upstream: connected',
    );
    this.events.next({ type: 'connected', sessionPresent, resent });
  }

  private dispatch(conn: Connection, p: Packet): void {
    const id = p.messageId ?? 0;
    switch (p.cmd) {
      case 'publish':
        this.inbound.publish(conn, p);
        break;
      case 'pubrel':
        this.inbound.pubrel(conn, id);
        break;
      case 'puback':
        if (!this.status.handleAck(id)) this.sender.handleAck('puback', id);
        break;
      case 'pubrec':
      case 'pubcomp':
        this.sender.handleAck(p.cmd, id);
        break;
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

  /**
   * A packet over max_packet_size went by unbuffered. A PUBLISH is dropped and acknowledged all the
   * same: unacknowledged, the broker would send it again on every reconnect (a retained message or a
   * persistent session) and flap the uplink forever. The ack goes out now, possibly ahead of acks
   * for earlier messages still being handled: a broker does not depend on ack order.
   */
  private oversize(conn: Connection, o: Oversize): void {
    const max = this.opts.config.max_packet_size;
    if (!o.publish) {
      this.sender.closingOwnConnection();
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
    this.sender.detach(this.running);
    this.subs.detach();
    this.status.detach();
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
