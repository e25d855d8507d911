import type { Logger } from 'pino';
import type { Observable, Subscription } from 'rxjs';
import type { Command, DeviceEvent } from '../../adapters/types.js';
import { waitingNow, wallOf } from '../../contracts/clock.js';
import type { KvState, Outbox, OutboxRow } from '../../contracts/store.js';
import { throttledLog } from '../../contracts/throttled-log.js';
import { UpstreamClient } from '../upstream/client.js';
import type { UpstreamConfig } from '../upstream/config.js';
import { dcmdWrites, parseState } from './commands.js';
import type { SparkplugConfig } from './config.js';
import type { SessionView } from './metrics.js';
import { type DeviceModel, metricValue } from './model.js';
import { decodeCommand, encodePayload, type Metric } from './payload.js';
import { deviceTopic, type EdgeIds, nodeTopic, stateTopic } from './topics.js';
import { SPARKPLUG_LANE, type StoredMetrics } from './uplink.js';

const KV = 'sparkplug';
const REBIRTH = 'Node Control/Rebirth';
/** What "spBv1.0/" becomes at a broker that maps "." to "/" in topic names. */
const REWRITTEN_NAMESPACE = 'spBv1/0/';

/** Rows read from the lane per query. */
const READ = 128;
/** data_qos 1: PUBLISHes awaiting PUBACK at most. */
const WINDOW = 32;
const ACK_MS = 10_000;

export interface EdgeNodeOptions {
  config: SparkplugConfig;
  upstream: UpstreamConfig;
  gatewayId: string;
  outbox: Outbox;
  state: KvState;
  model: DeviceModel;
  logger: Logger;
  /** DCMD writes into the durable command spool (the downlink's path); resolves once spooled. */
  spool: (commands: Command[]) => Promise<void>;
  /** Counted: NCMD/DCMD refused (`dcmd_read_only`, `dcmd_unknown_metric`, `ncmd_bad_payload`, …). */
  onRefused?: (reason: string) => void;
}

/**
 * The Sparkplug B edge node: a connection of its own (its will is the NDEATH of its bdSeq), the
 * births, and the outbox lane of Sparkplug rows turned into DDATA as they are sent, so `seq` runs
 * in the order messages leave and a row stored before this session's NBIRTH goes out historical
 * with the time it was read.
 */
export class EdgeNode {
  readonly ids: EdgeIds;
  private readonly client: UpstreamClient;
  private readonly log: Logger;
  private readonly warn: ReturnType<typeof throttledLog>;
  private bdSeq = 0;
  private seq = 0;
  private connected = false;
  private since = waitingNow();
  /** The broker was seen to turn "spBv1.0" into "spBv1/0" (see rewritten()). */
  private topicsRewritten = false;
  /** The primary host's last STATE (always online without a primary host). */
  private hostOnline = false;
  private stateTimestamp = -1;
  /** NBIRTH published on this connection. */
  private born = false;
  /** Waiting-clock ms of this session's NBIRTH: rows read before it are historical. */
  private birthAt = 0;
  private readonly bornDevices = new Map<string, Set<string>>();
  private readonly offline = new Set<string>();
  private cursor = 0;
  /** Ids handed to complete() and not yet committed: a re-read must not send them again. */
  private readonly completing = new Set<number>();
  /** data_qos 1: ids written and awaiting PUBACK (a rebirth's re-read must not send them again). */
  private readonly unacked = new Set<number>();
  private pumping = false;
  private subs: Subscription[] = [];
  private births = 0;
  /** sparkplug.aliases: one per (device, metric) for the run, unique across the node. */
  private readonly aliases = new Map<string, number>();
  private readonly byAlias = new Map<number, { device: string; name: string }>();

  constructor(private readonly o: EdgeNodeOptions) {
    this.ids = { group: o.config.group_id, node: o.config.edge_node_id ?? o.gatewayId };
    this.log = o.logger.child({ part: 'sparkplug' });
    this.warn = throttledLog(this.log);
    const base = o.upstream.client_id ?? `fieldgate-${o.gatewayId}`;
    this.client = new UpstreamClient({
      // Sparkplug asks for a clean session (3.1.1) / Clean Start with no expiry (5).
      config: {
        ...o.upstream,
        client_id: o.config.client_id ?? `${base}-spb`,
        clean_session: true,
        subscribe: [],
      },
      gatewayId: o.gatewayId,
      state: o.state,
      logger: o.logger,
      part: 'sparkplug',
      will: () => ({
        topic: nodeTopic(this.ids, 'NDEATH'),
        payload: this.ndeath(),
        qos: 1,
        retain: false,
      }),
      beforeConnect: () => this.nextBdSeq(),
    });
  }

  /** For /metrics. */
  view(): SessionView {
    return {
      born: this.born,
      connected: this.connected,
      hostOnline: this.connected && this.hostOnline,
      bdSeq: this.bdSeq,
      births: this.births,
      since: this.since,
      topicsRewritten: this.topicsRewritten,
    };
  }

  async start(devices: Observable<DeviceEvent>): Promise<void> {
    const stored = this.o.state.get<number>(KV, 'bdSeq');
    this.bdSeq = stored === undefined ? 255 : stored; // the first connect makes it 0
    this.hostOnline = this.o.config.primary_host_id === undefined;
    const filters = new Map<string, 0 | 1 | 2>([
      // Our own NBIRTH comes back: it shows whether the broker keeps topic names as sent.
      [nodeTopic(this.ids, 'NBIRTH'), 0],
      [nodeTopic(this.ids, 'NCMD'), 0],
      [`${deviceTopic(this.ids, 'DCMD', '+')}`, 0],
    ]);
    if (this.o.config.primary_host_id) filters.set(stateTopic(this.o.config.primary_host_id), 1);
    this.client.setSubscriptions(filters);
    this.client.onMessage(async (m) => {
      this.message(m.topic, m.payload);
    });
    this.subs.push(
      this.client.state$.subscribe((s) => (s === 'connected' ? this.up() : this.down())),
      devices.subscribe((e) => this.device(e)),
    );
    const lane = this.o.outbox.laneAdded$;
    if (lane) this.subs.push(lane.subscribe((n) => n === SPARKPLUG_LANE && this.pump()));
    await this.client.start();
  }

  /** A clean stop: NDEATH published (the broker drops the will on our DISCONNECT). */
  async stop(): Promise<void> {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    if (this.connected)
      await this.client.publishDirect(
        { topic: nodeTopic(this.ids, 'NDEATH'), payload: this.ndeath(), qos: 1, retain: false },
        1000,
      );
    this.born = false;
    await this.client.stop();
  }

  private async nextBdSeq(): Promise<void> {
    const next = (this.bdSeq + 1) % 256;
    // Durable before the CONNECT carries it: a crash must not reuse it for the next session.
    await this.o.state.put(KV, 'bdSeq', next);
    this.bdSeq = next;
  }

  private ndeath(): Buffer {
    return encodePayload({
      timestamp: wallOf(waitingNow()),
      metrics: [{ name: 'bdSeq', type: 'Int64', value: this.bdSeq }],
    });
  }

  private up(): void {
    if (this.connected) return;
    this.connected = true;
    this.since = waitingNow();
    if (this.o.config.primary_host_id) this.hostOnline = false; // until this connection sees STATE
    if (this.hostOnline) this.birth();
  }

  private down(): void {
    if (!this.connected) return;
    this.connected = false;
    this.since = waitingNow();
    this.born = false;
    this.bornDevices.clear();
  }

  /** NBIRTH, then a DBIRTH for each device that reported and is not offline; then the stored rows. */
  private birth(): void {
    this.seq = 0;
    const now = waitingNow();
    this.send(nodeTopic(this.ids, 'NBIRTH'), {
      timestamp: wallOf(now),
      seq: this.nextSeq(),
      metrics: [
        { name: 'bdSeq', type: 'Int64', value: this.bdSeq },
        { name: REBIRTH, type: 'Boolean', value: false },
      ],
    });
    this.born = true;
    this.births++;
    this.birthAt = now;
    this.bornDevices.clear();
    for (const { device, source } of this.o.model.reported())
      if (!this.offline.has(device)) this.dbirth(source, device);
    this.cursor = 0;
    this.log.info({ bdSeq: this.bdSeq, devices: this.bornDevices.size }, 'sparkplug: births published');
    this.pump();
  }

  private dbirth(source: string, device: string): void {
    const now = waitingNow();
    const defs = this.o.model.metrics(source, device);
    const metrics: Metric[] = defs.map((d) => {
      const cur = this.o.model.valueOf(device, d.name);
      return {
        name: d.name,
        ...(this.o.config.aliases && { alias: this.aliasOf(device, d.name) }),
        type: d.type,
        value: cur === undefined ? null : metricValue(d.type, cur.value),
        timestamp: wallOf(cur?.at ?? now),
        ...(d.properties && { properties: d.properties }),
      };
    });
    this.send(deviceTopic(this.ids, 'DBIRTH', device), {
      timestamp: wallOf(now),
      seq: this.nextSeq(),
      metrics,
    });
    this.bornDevices.set(device, new Set(defs.map((d) => d.name)));
  }

  private aliasOf(device: string, name: string): number {
    const key = `${device}\u0000${name}`;
    let alias = this.aliases.get(key);
    if (alias === undefined) {
      alias = this.aliases.size + 1;
      this.aliases.set(key, alias);
      this.byAlias.set(alias, { device, name });
    }
    return alias;
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  /** QoS 0 (the specification's): written now, in call order. */
  private send(topic: string, p: Parameters<typeof encodePayload>[0]): void {
    void this.client.publishDirect({ topic, payload: encodePayload(p), qos: 0, retain: false });
  }

  private device(e: DeviceEvent): void {
    if (this.o.model.ownerOf(e.device) !== e.source) return;
    if (e.state === 'online') {
      if (!this.offline.delete(e.device)) return;
      if (this.born) this.dbirth(e.source, e.device);
      return;
    }
    if (e.state !== 'lost' && e.state !== 'offline') return;
    this.offline.add(e.device);
    this.ddeath(e.device);
  }

  private ddeath(device: string): void {
    if (!this.born || !this.bornDevices.delete(device)) return;
    this.send(deviceTopic(this.ids, 'DDEATH', device), {
      timestamp: wallOf(waitingNow()),
      seq: this.nextSeq(),
      metrics: [],
    });
  }

  /**
   * The lane's rows in id order, each a DDATA (after its device's DBIRTH when this session has not
   * born it yet). QoS 0 rows are done once written; with data_qos 1 once the broker acked them.
   */
  private pump(): void {
    if (!this.born || this.pumping) return;
    const read = this.o.outbox.nextInLane;
    if (!read) return;
    this.pumping = true;
    try {
      while (this.born && this.unacked.size < WINDOW) {
        const rows = read.call(this.o.outbox, SPARKPLUG_LANE, this.cursor, READ);
        if (rows.length === 0) break;
        for (const row of rows) {
          if (!this.born || this.unacked.size >= WINDOW) break;
          this.cursor = row.id;
          if (!this.completing.has(row.id) && !this.unacked.has(row.id)) this.ddata(row);
        }
      }
    } finally {
      this.pumping = false;
    }
    // A device that is offline was born again only for its stored rows: it is dead again after them.
    for (const device of this.offline) this.ddeath(device);
  }

  private ddata(row: OutboxRow): void {
    let stored: StoredMetrics;
    try {
      stored = JSON.parse(row.payload.toString('utf8')) as StoredMetrics;
    } catch {
      this.complete(row.id); // not ours to read: never sendable
      return;
    }
    const names = Object.keys(stored.m ?? {});
    const born = this.bornDevices.get(row.device);
    if (!born || names.some((n) => !born.has(n))) this.dbirth(row.source, row.device);
    const defs = new Map(this.o.model.metrics(row.source, row.device).map((d) => [d.name, d]));
    const historical = row.receivedAt < this.birthAt;
    const at = wallOf(row.receivedAt);
    const metrics: Metric[] = names.map((name) => {
      const type = defs.get(name)?.type ?? 'String';
      return {
        ...(this.o.config.aliases ? { alias: this.aliasOf(row.device, name) } : { name }),
        type,
        value: metricValue(type, stored.m[name]!),
        timestamp: at,
        ...(historical && { historical }),
      };
    });
    const payload = encodePayload({ timestamp: wallOf(waitingNow()), seq: this.nextSeq(), metrics });
    const topic = deviceTopic(this.ids, 'DDATA', row.device);
    const qos = row.qos === 0 ? 0 : 1;
    // Done once written (QoS 0) or acked (data_qos 1); not sent (the connection went): read again
    // by the next session, as historical.
    this.unacked.add(row.id);
    this.client.publishDirect({ topic, payload, qos, retain: false }, ACK_MS).then((ok) => {
      this.unacked.delete(row.id);
      if (ok) this.complete(row.id);
      if (qos === 1) this.pump();
    });
  }

  private complete(id: number): void {
    this.completing.add(id);
    this.o.outbox.complete([id]).then(
      () => this.completing.delete(id),
      (err) => {
        this.completing.delete(id);
        this.log.error({ err, id }, 'sparkplug: could not delete a sent row');
      },
    );
  }

  private message(topic: string, payload: Buffer): void {
    if (topic.startsWith(REWRITTEN_NAMESPACE)) {
      this.rewritten(topic);
      return;
    }
    const host = this.o.config.primary_host_id;
    const prefix = deviceTopic(this.ids, 'DCMD', '');
    if (host && topic === stateTopic(host)) this.state(payload);
    else if (topic === nodeTopic(this.ids, 'NCMD')) this.ncmd(payload);
    else if (topic.startsWith(prefix)) this.dcmd(topic.slice(prefix.length), payload);
  }

  /**
   * The broker handed back a Sparkplug topic with its "." turned into "/" (RabbitMQ's MQTT plugin
   * maps "." to "/" in topic names): hosts subscribed to spBv1.0/# cannot read this node, and its
   * commands and the host's STATE never match. Nothing here can repair that; say it loudly, once.
   */
  private rewritten(topic: string): void {
    if (this.topicsRewritten) return;
    this.topicsRewritten = true;
    this.log.error(
      { received: topic, sent: 'spBv1.0/…' },
      'sparkplug: the broker rewrites "." in topic names (RabbitMQ does): Sparkplug hosts cannot read this node and its commands cannot reach it; use a broker that keeps topic names as sent (mosquitto, EMQX, HiveMQ)',
    );
  }

  /** The primary host's STATE; one with an older timestamp than the last is stale. */
  private state(payload: Buffer): void {
    const s = parseState(payload);
    if (typeof s === 'string') {
      this.warn('state', {}, s);
      return;
    }
    if (s.timestamp < this.stateTimestamp) return;
    this.stateTimestamp = s.timestamp;
    if (s.online) {
      const was = this.hostOnline;
      this.hostOnline = true;
      if (!was) this.log.info('sparkplug: primary host online');
      if (this.connected && !this.born) this.birth();
      return;
    }
    const wasOnline = this.hostOnline;
    this.hostOnline = false;
    if (!this.born) return;
    // The host went away: end this session (NDEATH, disconnect) and wait for it on a new one.
    this.log.warn(
      { wasOnline },
      'sparkplug: primary host offline: ending the session; readings wait in the outbox',
    );
    void this.client.publishDirect({
      topic: nodeTopic(this.ids, 'NDEATH'),
      payload: this.ndeath(),
      qos: 1,
      retain: false,
    });
    this.born = false;
    this.client.reconnect('sparkplug primary host offline');
  }

  private ncmd(payload: Buffer): void {
    let metrics: ReturnType<typeof decodeCommand>;
    try {
      metrics = decodeCommand(payload);
    } catch {
      this.refuse('ncmd_bad_payload', {}, 'sparkplug: NCMD is not a Sparkplug payload');
      return;
    }
    for (const m of metrics) {
      if (m.name === REBIRTH && m.value === true) {
        this.log.info('sparkplug: rebirth requested');
        if (this.born) this.birth();
      } else
        this.refuse(
          'ncmd_unknown_metric',
          { metric: m.name },
          'sparkplug: NCMD for an unknown node metric refused',
        );
    }
  }

  /** A DCMD: each writable metric becomes a write command to its device, into the spool. */
  private dcmd(device: string, payload: Buffer): void {
    const { commands, refused } = dcmdWrites(this.o.model, this.ids, device, payload, (a) =>
      this.byAlias.get(a),
    );
    for (const r of refused) this.refuse(r.reason, r.context, r.message);
    if (commands.length === 0) return;
    // Not awaited: a slow store must not hold up STATE and NCMD behind it (DCMD is QoS 0 anyway).
    this.o.spool(commands).then(
      () =>
        this.log.info(
          // The commands as sent: a Modbus write is {"point","value"}, a mapped or serial one the text.
          { device, commands: commands.map((c) => c.payload.toString('utf8').slice(0, 80)) },
          'sparkplug: DCMD writes spooled',
        ),
      (err) => this.log.warn({ err, device }, 'sparkplug: DCMD writes not spooled'),
    );
  }

  private refuse(reason: string, ctx: Record<string, unknown>, msg: string): void {
    this.o.onRefused?.(reason);
    this.warn(`refused:${reason}`, { ...ctx, reason }, msg);
  }
}
