import type { Reading } from '../../adapters/types.js';
import { waitingNow } from '../../contracts/clock.js';
import type { HaEntity } from '../../contracts/ha.js';
import type { KvState, OutboxMessage } from '../../contracts/store.js';
import { throttledLog } from '../../contracts/throttled-log.js';
import { availabilityTopic } from '../availability.js';
import { hasAvailability } from '../availability-listed.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { type GatewayIds, gatewayEntity, type Measurement, measurementEntity } from './payload.js';
import { type HaSource, haSources } from './sources.js';

const NS = 'homeassistant';
const INDEX = 'entities';
/** Bound on remembered entities (devices named by a device_field could otherwise grow it forever). */
const MAX_ENTITIES = 5000;

/** A published discovery config, remembered so it can be republished (HA birth) or removed (config changed). */
interface Entry {
  source: string;
  field: string;
  config: string;
}

/** What the rules make of a reading (a dry run): each message, with the label of the rule that published it. */
export type RouteReading = (r: Reading) => Promise<{ topic: string; payload: Buffer; rule?: string }[]>;

export interface DiscoveryDeps {
  config: Config;
  version: string;
  kv: KvState;
  enqueue: (messages: OutboxMessage[]) => Promise<unknown>;
  route: RouteReading;
  logger: Logger;
  /** A discovery config the outbox would not take: counted (fieldgate_messages_dropped_total). */
  onDropped?: (reason: string) => void;
}

/**
 * Home Assistant MQTT discovery for serial fields with `ha:` metadata. An entity is announced when
 * its device first reports the field (device_field ids are only known then), with the state topic
 * the rules really publish to; every config is retained, goes through the outbox, and is kept in
 * KvState so that HA's birth ("online" on homeassistant/status) republishes all of them and a start
 * with a config that no longer has the port or field clears them (empty retained config).
 */
export class HomeAssistantDiscovery {
  private readonly ids: GatewayIds;
  /** Adapter instances (serial ports, Modbus buses) with `ha:` metadata, by Reading.source. */
  private readonly sources: Map<string, HaSource>;
  private readonly entries: Map<string, Entry>;
  /** Rule label -> metadata for rules with `ha:`: each output topic is an entity. */
  private readonly ruleMeta = new Map<string, HaEntity>();
  /** `${source}\0${device}\0${field}` already handled this run (announced, or the rules drop it). */
  private readonly seen = new Set<string>();
  private readonly warn: ReturnType<typeof throttledLog>;

  constructor(private readonly deps: DiscoveryDeps) {
    const { config } = deps;
    this.ids = {
      gatewayId: config.gateway.id,
      version: deps.version,
      statusTopic: config.upstream.status_topic.replaceAll('{gateway}', config.gateway.id),
    };
    this.sources = haSources(config);
    config.rules.forEach((rule, i) => {
      if (rule.ha) this.ruleMeta.set(rule.name ?? `rules.${i}`, rule.ha);
    });
    this.entries = new Map(Object.entries(deps.kv.get<Record<string, Entry>>(NS, INDEX) ?? {}));
    this.warn = throttledLog(deps.logger);
  }

  /** The upstream filter to subscribe to (HA's birth). */
  get birthTopic(): string {
    return this.deps.config.homeassistant.status_topic;
  }

  /** Clear entities whose port or field left the config; announce the gateway; refresh the rest. */
  async start(): Promise<void> {
    const gone = [...this.entries].filter(([, e]) =>
      e.source.startsWith('rule:')
        ? !this.ruleMeta.has(e.source.slice('rule:'.length))
        : !this.sources.get(e.source)?.has(e.field),
    );
    for (const [topic] of gone) this.entries.delete(topic);
    if (gone.length) {
      this.deps.logger.info(
        { entities: gone.length },
        'homeassistant: removing entities no longer in the config',
      );
      await this.save();
    }
    await this.publish([...gone.map(([topic]) => ({ topic, payload: '' })), ...this.all()]);
  }

  /** Every upstream message: HA's birth republishes everything. */
  upstream(m: { topic: string; payload: Buffer }): void {
    if (m.topic !== this.birthTopic || m.payload.toString() !== 'online') return;
    this.deps.logger.info(
      { entities: this.entries.size + 1 },
      'homeassistant online: republishing discovery',
    );
    this.publish(this.all()).catch((err) => this.failed(err));
  }

  /** Every reading: announces the fields it carries that have `ha:` metadata and are not yet announced. */
  reading(r: Reading): void {
    if (this.ruleMeta.size) this.ruleOutputs(r);
    const source = this.sources.get(r.source);
    if (!source || !r.fields) return;
    for (const field of source.fields(r.device)) {
      if (!(field in r.fields)) continue;
      const key = `${r.source}\0${r.device}\0${field}`;
      if (this.seen.has(key)) continue;
      // A device whose readings carry one field each: this reading is that field's, or skip it.
      if (source.perField(r.device) && source.fieldTopic(r, field) !== r.topic) continue;
      if (this.seen.size >= MAX_ENTITIES * 2) this.seen.clear(); // bounded; re-announcing is harmless
      this.seen.add(key);
      this.announce(r, field, source.entity(r.device, field)!).catch((err) => {
        this.seen.delete(key);
        this.failed(err);
      });
    }
  }

  /** Outputs of rules with `ha:`: dry-run once per device and input topic; one entity per output topic. */
  private ruleOutputs(r: Reading): void {
    const key = `rule\0${r.source}\0${r.device}\0${r.topic}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_ENTITIES * 2) this.seen.clear();
    this.seen.add(key);
    const announce = async () => {
      for (const m of await this.deps.route(r)) {
        const meta = m.rule === undefined ? undefined : this.ruleMeta.get(m.rule);
        if (!meta) continue;
        await this.publishEntity(`rule:${m.rule}`, r.device, meta, {
          stateTopic: m.topic,
          valueTemplate: '{{ value }}',
          object: m.topic,
          name: m.topic.split('/').at(-1)!,
          // An unconfigured MQTT-SN id gets no availability topic: HA would show it unavailable.
          availability: hasAvailability(this.deps.config, r.source, r.device),
        });
      }
    };
    announce().catch((err) => {
      this.seen.delete(key);
      this.failed(err);
    });
  }

  private async announce(r: Reading, field: string, meta: HaEntity): Promise<void> {
    const routed = (await this.deps.route(r))[0];
    if (!routed) {
      this.deps.logger.info(
        { source: r.source, device: r.device, field },
        'homeassistant: the rules publish nothing for this field',
      );
      return;
    }
    const source = this.sources.get(r.source)!;
    const valueTemplate = source.perField(r.device) ? '{{ value }}' : jsonTemplate(routed.payload, field);
    if (!valueTemplate) {
      this.deps.logger.info(
        { source: r.source, field, topic: routed.topic },
        'homeassistant: the published payload has no such field',
      );
      return;
    }
    await this.publishEntity(r.source, r.device, meta, {
      stateTopic: routed.topic,
      valueTemplate,
      object: field,
      name: field,
      binary: source.binary(r.device),
    });
  }

  /** Build one entity's config, remember it (KvState) and publish it. `object` names it within the device. */
  private async publishEntity(
    source: string,
    device: string,
    meta: HaEntity,
    how: {
      stateTopic: string;
      valueTemplate: string;
      object: string;
      name: string;
      binary?: { on: string; off: string };
      /** The device has an availability topic (default true). */
      availability?: boolean;
    },
  ): Promise<void> {
    const { availability } = this.deps.config;
    const m: Measurement = {
      source: source.startsWith('rule:') ? 'rules' : source,
      device,
      field: how.object,
      meta: { ...meta, name: meta.name ?? how.name },
      stateTopic: how.stateTopic,
      valueTemplate: how.valueTemplate,
      ...(how.binary && { binary: how.binary }),
      ...(availability.enabled &&
        how.availability !== false && {
          availabilityTopic: availabilityTopic(availability.topic, this.ids.gatewayId, device),
        }),
    };
    const e = measurementEntity(this.deps.config.homeassistant.prefix, this.ids, m);
    const config = JSON.stringify(e.config);
    if (this.entries.get(e.topic)?.config !== config) {
      this.entries.delete(e.topic);
      this.entries.set(e.topic, { source, field: how.object, config });
      if (this.entries.size > MAX_ENTITIES) this.entries.delete(this.entries.keys().next().value!);
      await this.save();
    }
    await this.publish([{ topic: e.topic, payload: config }]);
  }

  private failed(err: unknown): void {
    this.deps.onDropped?.('discovery_not_stored');
    this.warn('publish', { err }, 'homeassistant discovery not stored');
  }

  private all(): { topic: string; payload: string }[] {
    const gw = gatewayEntity(this.deps.config.homeassistant.prefix, this.ids);
    return [
      { topic: gw.topic, payload: JSON.stringify(gw.config) },
      ...[...this.entries].map(([topic, e]) => ({ topic, payload: e.config })),
    ];
  }

  private save(): Promise<void> {
    return this.deps.kv.put(NS, INDEX, Object.fromEntries(this.entries));
  }

  private async publish(list: { topic: string; payload: string }[]): Promise<void> {
    if (!list.length) return;
    const now = waitingNow();
    await this.deps.enqueue(
      list.map((m) => ({
        source: 'gateway',
        device: this.ids.gatewayId,
        topic: m.topic,
        payload: Buffer.from(m.payload),
        qos: 1 as const,
        retain: true,
        receivedAt: now,
      })),
    );
  }
}

/** `{{ value_json['t'] }}` when the published payload is a JSON object with the field. */
function jsonTemplate(payload: Buffer, field: string): string | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && field in v) return `{{ value_json['${field}'] }}`;
  } catch {
    // not JSON: HA cannot pick one field out of it
  }
  return undefined;
}
