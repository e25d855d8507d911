import type { RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { BehaviorSubject, filter, map, merge, type Observable, Subject } from 'rxjs';
import { waitingNow } from '../../contracts/clock.js';
import type { DeviceSessionStore, Inbox, KvState } from '../../contracts/store.js';
import { throttledLog } from '../../contracts/throttled-log.js';
import type {
  Command,
  DeviceEvent,
  DeviceReportingAdapter,
  DeviceState,
  DownlinkMessage,
  QoS,
  Reading,
  SendOutcome,
  SubscribingAdapter,
} from '../types.js';
import { CommandExpiredError } from '../types.js';
import { Acl } from './acl.js';
import { decode, encode, type Packet } from './codec/index.js';
import type { MqttsnConfig } from './config.js';
import type { Ctx, Reserved } from './context.js';
import { DEVICE_TROUBLE, DeviceWarnings } from './device-warnings.js';
import { dispatch } from './dispatch.js';
import { endSession, isProtected, sweep } from './liveness.js';
import { MulticastDiscovery } from './multicast.js';
import { type Peer, peerKey, unusableSource } from './peer.js';
import { persistSession, restoreSessions } from './persist.js';
import { AddressPins } from './pinning.js';
import { Qos2Ids } from './qos2-ids.js';
import { ReplyLimit } from './reply-limit.js';
import { routeTo } from './route.js';
import type { SessionState } from './session.js';
import { SessionTable } from './session-table.js';
import { StateBudget } from './state-budget.js';
import { subscriptionRefusal } from './sub-policy.js';
import { UdpSocket } from './socket.js';
import { type DropReason, deviceState, type MqttSnCounters, type MqttSnEvent, Stats } from './stats.js';
import { PredefinedTopics } from './topic-registry.js';

export interface MqttSnAdapterOptions {
  config: MqttsnConfig;
  /** Durable inbox: messages and commands for sleeping/offline devices. */
  inbox: Inbox;
  /** Durable state: QoS 2 ids of clean-session=false devices. */
  state: KvState;
  /** Durable clean-session=false sessions: registrations, subscriptions, wills (Store.devices). */
  devices: DeviceSessionStore;
  logger?: Logger;
  /** Adapter instance name (Reading.source, Command.target, inbox target). */
  name?: string;
  /**
   * Client ids and subscription filters that belong to the gateway or other adapters (its id, serial
   * and Modbus device names; its command, status and availability topics). Asked per CONNECT and
   * SUBSCRIBE, so it may change (SIGHUP); it should hand back the same object until it does.
   */
  reserved?: () => Reserved;
}

const NOTHING_RESERVED: Reserved = { clientIds: new Set(), filters: [] };

/** A command the adapter could neither deliver nor queue (over budget, refused by the device). */
export class CommandNotDeliveredError extends Error {
  override readonly name = 'CommandNotDeliveredError';
}

/** Liveness check period: keep-alive loss is noticed within this of 1.5 x the keep-alive. */
const SWEEP_MS = 250;
/** DISCONNECTs to senders with no session, per second over all peers (one per peer per 1-2 s). */
const NO_SESSION_REPLIES_PER_S = 200;
/** How often expired QoS 2 msgId rows are deleted. */
const QOS2_PURGE_MS = 15 * 60e3;
/** Drops worth a (rate-limited) warning: someone is probing, misconfigured or being refused. */
const WARN_REASONS: ReadonlySet<DropReason> = new Set<DropReason>([
  'bad_source',
  'acl_denied',
  'address_pinned',
  'unsafe_client_id',
  'not_allowed',
  'send_error',
]);

/** MQTT-SN v1.2 aggregating gateway on one UDP socket. One start()/stop() per instance: stop() completes the streams. */
/** A client heard from within this long counts as one that could send now (see senders()). */
const SENDER_RECENT_MS = 10_000;

export class MqttSnAdapter implements SubscribingAdapter, DeviceReportingAdapter {
  readonly name: string;
  readonly readings$: Observable<Reading>;
  readonly subscriptions$: Observable<ReadonlyMap<string, QoS>>;
  /** Drops and client state changes, for metrics. */
  readonly events$: Observable<MqttSnEvent>;
  /** Client availability from the lifecycle events: connect/wake online, sleep asleep, DISCONNECT offline, lost. */
  readonly devices$: Observable<DeviceEvent>;
  private readonly readings = new Subject<Reading>();
  private readonly subs = new BehaviorSubject<ReadonlyMap<string, QoS>>(new Map());
  private readonly statsBox = new Stats();
  private readonly sessions: SessionTable;
  private readonly ctx: Ctx;
  private readonly socket: UdpSocket;
  private readonly tasks = new Set<Promise<unknown>>();
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  /** Fixed for the adapter's life: not an object per datagram. */
  private readonly decodeOptions: { maxSize: number };
  /** Device events of the sessions restored at start (the rest come from Stats). */
  private readonly restored = new Subject<DeviceEvent>();
  private readonly discovery: MulticastDiscovery | undefined;

  private onlineCount = 0;
  private onlineCountedAt = Number.NEGATIVE_INFINITY;

  /**
   * Clients that could send a QoS 1/2 PUBLISH now: online (connected or awake) and heard from in
   * the last SENDER_RECENT_MS. A device gone without a DISCONNECT stays online until its keep-alive
   * runs out (minutes); counted, it would hold every commit for the whole window. A device quiet for
   * longer than that is not waited for: when it does send, its reading commits with what is there.
   * Counted at most every 50 ms (asked per reading).
   */
  senders(): number {
    const at = performance.now();
    if (at - this.onlineCountedAt >= 50) {
      const since = this.ctx.now() - SENDER_RECENT_MS;
      let n = 0;
      for (const s of this.sessions.values()) if (s.online && s.lastSeen >= since) n++;
      this.onlineCount = n;
      this.onlineCountedAt = at;
    }
    return this.onlineCount;
  }

  constructor(opts: MqttSnAdapterOptions) {
    this.name = opts.name ?? 'mqttsn';
    this.readings$ = this.readings.asObservable();
    this.subscriptions$ = this.subs.asObservable();
    this.events$ = this.statsBox.events$.asObservable();
    this.devices$ = merge(
      this.restored,
      this.statsBox.events$.pipe(
        filter((e) => e.kind === 'state'),
        map((e) => this.deviceEvent(e.clientId, deviceState(e.state))),
      ),
    );
    const cfg = opts.config;
    this.decodeOptions = { maxSize: cfg.max_packet_size };
    const log = opts.logger ?? pino({ level: 'silent' });
    this.socket = new UdpSocket(
      (msg, rinfo) => this.onDatagram(msg, rinfo),
      (err) => this.ctx.drop('send_error', undefined, String(err)),
    );
    const refusals = throttledLog(log);
    const warnings = new DeviceWarnings(log);
    this.sessions = new SessionTable(new StateBudget(cfg));
    const reserved = opts.reserved ?? (() => NOTHING_RESERVED);
    this.ctx = {
      name: this.name,
      cfg,
      log,
      stats: this.statsBox,
      sessions: this.sessions,
      predefined: new PredefinedTopics(cfg.predefined_topics, cfg.client_topics),
      inbox: opts.inbox,
      kv: opts.state,
      devices: opts.devices,
      acl: new Acl(cfg.acl),
      pins: new AddressPins(cfg.clients),
      downlinkMemory: {
        used: 0,
        max: cfg.max_downlink_memory,
        bySource: new Map(),
        maxPerSource: cfg.max_queued_bytes_per_source,
      },
      qos2: new Qos2Ids(
        opts.state,
        (task, what) => void this.track(task, what),
        () => waitingNow(),
        // a device has at most max_inflight unreleased QoS 2 messages; twice that leaves room for a resend
        2 * cfg.max_inflight_per_client,
      ),
      refusals,
      replies: new ReplyLimit(NO_SESSION_REPLIES_PER_S),
      lifecycle: throttledLog(log, undefined, undefined, 'info'),
      reserved,
      now: () => waitingNow(),
      send: (peer, p) => this.sendPacket(peer, p),
      emit: (r) => {
        try {
          this.readings.next(r);
        } catch (e) {
          log.error({ err: e }, 'mqttsn readings subscriber threw');
        }
      },
      drop: (reason, peer, detail, device) => {
        const key = peer ? peerKey(peer) : undefined;
        if (DEVICE_TROUBLE.has(reason)) {
          const id = this.troubleDevice(reason, peer, device);
          this.statsBox.drop(reason, key, detail, id);
          // A downlink that failed because its session ended or slept is not the device's doing.
          if (id !== undefined || reason !== 'delivery_failed') warnings.report(reason, id, key, detail);
          else log.debug({ reason, peer: key, detail }, 'mqttsn drop');
          return;
        }
        this.statsBox.drop(reason, key, detail);
        if (WARN_REASONS.has(reason))
          refusals(reason, { reason, peer: key, detail }, `mqttsn refused: ${reason}`);
        else log.debug({ reason, peer: key, detail }, 'mqttsn drop');
      },
      persist: (s) => this.track(persistSession(this.ctx, s), 'session save'),
      subscriptionsChanged: () => this.publishSubscriptions(),
      track: (task, what) => void this.track(task, what),
    };
    this.discovery =
      cfg.multicast &&
      new MulticastDiscovery(cfg.multicast, cfg.gateway_id, cfg.max_packet_size, this.ctx.send, {
        received: () => this.statsBox.counters.rx++,
        error: (err) => log.warn({ err }, 'mqttsn multicast socket error'),
      });
  }

  async start(): Promise<void> {
    if (this.running) return;
    for (const s of restoreSessions(this.ctx)) {
      const peer = s.peer;
      this.sessions.add(s);
      for (const [f, sub] of s.subs) this.sessions.subscribe(s, f, sub.qos);
      if (peer && !this.sessions.byPeer(peer)) this.sessions.bind(s, peer);
      else s.peer = null;
      // Connected or asleep when the gateway stopped: it is one of ours from the start (status page,
      // availability), not only once it next speaks; its keep-alive decides from here.
      if (s.state === 'active' || s.state === 'asleep')
        this.restored.next(this.deviceEvent(s.clientId, s.state === 'active' ? 'online' : 'asleep'));
    }
    this.pruneRestoredSubscriptions();
    this.ctx.qos2.load();
    this.publishSubscriptions();
    const { host, port } = this.ctx.cfg.listen;
    const bound = await this.socket.bind(host, port);
    try {
      await this.discovery?.start(this.socket);
    } catch (e) {
      await this.socket.close().catch(() => undefined);
      throw e;
    }
    this.running = true;
    this.timers.push(setInterval(() => this.guard(() => sweep(this.ctx), 'liveness sweep'), SWEEP_MS));
    this.timers.push(
      setInterval(() => this.guard(() => this.ctx.qos2.purgeExpired(), 'QoS 2 id purge'), QOS2_PURGE_MS),
    );
    if (this.ctx.cfg.advertise > 0) this.startAdvertising();
    this.ctx.log.info(
      {
        address: bound.address,
        port: bound.port,
        restored: this.sessions.size,
        multicast: this.ctx.cfg.multicast ?? null,
      },
      'mqttsn listening',
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.discovery?.stop();
    // Fail every exchange in flight: undelivered QoS 1/2 downlinks go back to the inbox (tracked below).
    for (const s of this.sessions.values()) {
      s.state = 'offline';
      s.abort();
    }
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    await this.socket.close();
    this.readings.complete();
    this.subs.complete();
    this.statsBox.events$.complete();
    this.ctx.log.info('mqttsn stopped');
  }

  /** The bound UDP address (use after start(); port 0 in config picks a free one). */
  address(): AddressInfo {
    const a = this.socket.address();
    if (!a) throw new Error('mqttsn adapter not started');
    return a;
  }

  stats(): MqttSnCounters & { clients: Record<SessionState, number> } {
    const clients: Record<SessionState, number> = {
      'will-topic': 0,
      'will-msg': 0,
      active: 0,
      asleep: 0,
      awake: 0,
      offline: 0,
    };
    for (const s of this.sessions.values()) clients[s.state]++;
    return { ...this.statsBox.snapshot(), clients };
  }

  async deliver(message: DownlinkMessage): Promise<void> {
    if (!this.running) return;
    const prefix = this.ctx.cfg.topic_prefix;
    if (!message.topic.startsWith(prefix)) return;
    const topic = message.topic.slice(prefix.length);
    const durable: Promise<unknown>[] = [];
    // Subscription traffic that has to wait for its device expires after subscription_ttl.
    const expiresAt = this.ctx.now() + this.ctx.cfg.subscription_ttl;
    for (const [s, granted] of this.sessions.match(topic)) {
      // Only through a subscription the device may hold now (the ACL and reserved topics, checked
      // again: what the gateway subscribes to for its own commands must not reach a device).
      if (subscriptionRefusal(this.ctx, s.clientId, topic)) continue;
      const qos = Math.min(granted, message.qos) as QoS;
      const task = routeTo(
        this.ctx,
        s,
        { topic, payload: message.payload, qos, retain: message.retain },
        expiresAt,
      );
      // Connected devices ack later (and fall back to the inbox); inbox writes are awaited.
      if (s.state === 'active') this.track(task, 'deliver');
      else durable.push(this.track(task, 'deliver'));
    }
    await Promise.all(durable);
  }

  async send(command: Command): Promise<SendOutcome> {
    const s = command.target === this.name ? this.sessions.get(command.device) : undefined;
    if (!s) return 'unknown-device';
    if (command.expiresAt !== undefined && command.expiresAt <= waitingNow()) {
      this.ctx.drop('expired', s.peer, `command ${command.id}`);
      throw new CommandExpiredError(`command ${command.id} for ${command.device} expired`);
    }
    const msg = {
      topic: command.topic,
      payload: command.payload,
      qos: command.qos,
      retain: false,
      commandId: command.id,
      meta: command.meta,
    };
    const r = await this.track(routeTo(this.ctx, s, msg, command.expiresAt ?? null, true), 'send');
    if (r === 'dropped')
      throw new CommandNotDeliveredError(`command ${command.id} for ${command.device} dropped`);
    return r;
  }

  private deviceEvent(clientId: string, state: DeviceState): DeviceEvent {
    const e: DeviceEvent = { source: this.name, device: clientId, state, at: waitingNow() };
    if (!isProtected(this.ctx, clientId)) e.unlisted = true;
    return e;
  }

  /** The dispatch boundary: nothing a datagram causes may throw out of the socket's callback. */
  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    if (!this.running) return;
    this.statsBox.counters.rx++;
    const from: Peer = { address: rinfo.address, port: rinfo.port };
    // A reply to port 0 throws in dgram.send, possibly later from a retry timer: never let one in.
    const bad = unusableSource(rinfo.address, rinfo.port);
    if (bad) {
      this.ctx.drop('bad_source', from, bad);
      return;
    }
    // try/catch in place of guard(): no closure per datagram (the same for dispatch below).
    try {
      this.handleDatagram(buf, from);
    } catch (e) {
      this.handlerFailed(e, 'datagram', from);
    }
  }

  /** The client id a device-trouble drop is about: given, or the session bound to the peer (not for downlinks). */
  private troubleDevice(
    reason: DropReason,
    peer: Peer | null | undefined,
    device?: string,
  ): string | undefined {
    if (device !== undefined || reason === 'delivery_failed' || !peer) return device;
    return this.sessions.byPeer(peer)?.clientId;
  }

  private handleDatagram(buf: Buffer, from: Peer): void {
    const r = decode(buf, this.decodeOptions);
    if (!r.ok) {
      this.ctx.drop(r.reason, from, r.detail);
      return;
    }
    let packet = r.packet;
    let peer = from;
    if (packet.type === 'encapsulated') {
      peer = { ...from, forward: { radius: packet.radius, nodeId: packet.nodeId } };
      packet = packet.packet;
    }
    try {
      const res = dispatch(this.ctx, peer, packet);
      if (res) this.track(res, packet.type);
    } catch (e) {
      this.handlerFailed(e, packet.type, peer);
    }
  }

  /** Runs fn; an error is counted, logged (rate-limited, with its stack) and stops there. For callbacks and timers. */
  private guard(fn: () => void, what: string, peer?: Peer): void {
    try {
      fn();
    } catch (e) {
      this.handlerFailed(e, what, peer);
    }
  }

  /** A handler threw: counted, logged (rate-limited, with its stack), and it stops there. */
  private handlerFailed(e: unknown, what: string, peer?: Peer): void {
    try {
      this.statsBox.drop('handler_error', peer && peerKey(peer), what);
      this.ctx.refusals(
        'handler_error',
        { reason: 'handler_error', err: e, what },
        'mqttsn handler failed',
        'error',
      );
    } catch {
      // a throwing metrics subscriber must not turn this into an uncaught exception either
    }
  }

  private sendPacket(peer: Peer, p: Packet): void {
    let buf: Buffer;
    try {
      buf = encode(peer.forward ? { type: 'encapsulated', ...peer.forward, packet: p } : p);
    } catch (e) {
      this.ctx.drop('send_error', peer, String(e));
      return;
    }
    this.statsBox.counters.tx++;
    if (!this.socket.send(buf, peer.port, peer.address)) this.dropUnreachable(peer);
  }

  /**
   * A send to this peer threw (its address is unusable): end the session bound to it, outside the
   * caller (which may be a handler or a retry timer in the middle of an exchange).
   */
  private dropUnreachable(peer: Peer): void {
    const s = this.running ? this.sessions.byPeer(peer) : undefined;
    if (!s) return;
    setImmediate(() =>
      this.guard(() => {
        if (this.running && s.peer && peerKey(s.peer) === peerKey(peer) && s.state !== 'offline')
          endSession(this.ctx, s, 'lost');
      }, 'end unreachable session'),
    );
  }

  /**
   * Subscriptions saved before the ACL changed (or existed), or that a newer gateway refuses (reserved
   * topics, no acl), must not keep receiving what is now refused: they are dropped at start, counted and logged, and the session is saved again.
   */
  private pruneRestoredSubscriptions(): void {
    for (const s of this.sessions.values()) {
      let pruned = false;
      for (const f of [...s.subs.keys()]) {
        const why = subscriptionRefusal(this.ctx, s.clientId, f);
        if (!why) continue;
        this.sessions.unsubscribe(s, f); // the topic tree too, not only the session's map
        pruned = true;
        this.ctx.drop(why, undefined, `${s.clientId}: restored subscription ${f}`);
      }
      if (pruned) this.ctx.persist(s);
    }
  }

  private publishSubscriptions(): void {
    const prefix = this.ctx.cfg.topic_prefix;
    const next = new Map<string, QoS>();
    for (const [f, qos] of this.sessions.filters()) next.set(prefix + f, qos);
    const cur = this.subs.value;
    if (cur.size === next.size && [...next].every(([f, q]) => cur.get(f) === q)) return;
    this.subs.next(next);
  }

  private startAdvertising(): void {
    const { host, port } = this.ctx.cfg.advertise_to;
    try {
      this.socket.setBroadcast(true);
    } catch (e) {
      this.ctx.log.warn({ err: e }, 'mqttsn: cannot enable broadcast for ADVERTISE');
    }
    // Rounded up, at least 1 s: a duration of 0 tells devices the gateway is gone at once.
    const duration = Math.min(0xffff, Math.max(1, Math.ceil(this.ctx.cfg.advertise / 1000)));
    const packet = { type: 'advertise', gwId: this.ctx.cfg.gateway_id, duration } as const;
    const advertise = () => {
      this.sendPacket({ address: host, port }, packet);
      this.discovery?.advertise(packet);
    };
    advertise();
    this.timers.push(setInterval(() => this.guard(advertise, 'advertise'), this.ctx.cfg.advertise));
  }

  private track<T>(task: Promise<T>, what: string): Promise<T> {
    this.tasks.add(task);
    task.then(
      () => this.tasks.delete(task),
      (err) => {
        this.tasks.delete(task);
        this.ctx.log.error({ err, what }, 'mqttsn task failed');
      },
    );
    return task;
  }
}
