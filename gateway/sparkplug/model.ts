import type { PointCatalogue, PointInfo } from '../../contracts/points.js';
import type { DataTypeName, Metric, MetricValue } from './payload.js';
import type { SparkplugSourceConfig } from './config.js';

/** One metric of a device as its births declare it. */
export interface MetricDef {
  name: string;
  type: DataTypeName;
  writable: boolean;
  /** A writable mapped metric: the topic its writes go to the device on (else a `{"point", "value"}` write). */
  commandTopic?: string;
  /** A writable serial metric: the command a write sends (`{value}`, `{device}`), from `writes`. */
  commandPayload?: string;
  properties?: Metric['properties'];
}

/** A value as stored in an outbox row (JSON: a 64-bit integer beyond 2^53 is a decimal string). */
export type StoredValue = number | boolean | string;

interface Current {
  value: StoredValue;
  /** Waiting-clock ms of the reading. */
  at: number;
}

/** A datatype from what an adapter knows of a point, else from the value itself. */
export function datatypeOf(p: Pick<PointInfo, 'type' | 'datatype'> | undefined, v?: unknown): DataTypeName {
  if (p?.datatype) return p.datatype;
  const t = p?.type === 'unknown' || p === undefined ? typeof v : p.type;
  return t === 'number' ? 'Double' : t === 'boolean' ? 'Boolean' : 'String';
}

function propertiesOf(p: PointInfo): Metric['properties'] {
  const props: NonNullable<Metric['properties']> = {};
  if (p.unit !== undefined) props.engUnit = { type: 'String', value: p.unit };
  if (p.low !== undefined) props.engLow = { type: 'Double', value: p.low };
  if (p.high !== undefined) props.engHigh = { type: 'Double', value: p.high };
  return Object.keys(props).length > 0 ? props : undefined;
}

/**
 * The devices the edge node publishes: which source each belongs to, its metrics (from the
 * source's points, or learnt from its readings when the source declares none) and their current
 * values (the last reading of this run: a birth carries them).
 */
export class DeviceModel {
  private readonly current = new Map<string, Map<string, Current>>();
  /** Metrics learnt from readings, for devices whose source declares no points. */
  private readonly learnt = new Map<string, Map<string, MetricDef>>();
  /** Sparkplug device id -> the device id of its source's readings, when they differ (MQTT-SN `+device`). */
  private readonly clients = new Map<string, string>();
  /** Sparkplug device id -> the source that has it (the first one seen). */
  private readonly owner = new Map<string, string>();

  constructor(
    readonly sources: ReadonlyMap<string, { config: SparkplugSourceConfig; catalogue?: PointCatalogue }>,
  ) {}

  source(name: string) {
    return this.sources.get(name);
  }

  /**
   * The source a device id belongs to: the first that reported it this run, else the first whose
   * points name it (a configured Modbus device takes commands before its first poll after a start).
   */
  ownerOf(device: string): string | undefined {
    const owner = this.owner.get(device);
    if (owner !== undefined) return owner;
    for (const [name, s] of this.sources) if ((s.catalogue?.points(device).length ?? 0) > 0) return name;
    return undefined;
  }

  /**
   * The metrics of a device: the points its source declares, in their order, then the ones learnt
   * from its readings (fields no point declares, mapped MQTT-SN topics).
   */
  metrics(source: string, device: string): MetricDef[] {
    const declared = this.sources.get(source)?.catalogue?.points(device) ?? [];
    const defs: MetricDef[] = declared.map((p) => {
      const props = propertiesOf(p);
      return {
        name: p.name,
        type: datatypeOf(p),
        writable: p.writable,
        ...(props && { properties: props }),
      };
    });
    for (const d of this.learnt.get(device)?.values() ?? []) defs.push(d);
    // Serial sources: the configured writes make their metrics writable, or add a write-only one.
    for (const w of this.sources.get(source)?.config.writes ?? []) {
      const i = defs.findIndex((d) => d.name === w.metric);
      if (i >= 0) defs[i] = { ...defs[i]!, writable: true, commandPayload: w.payload };
      else defs.push({ name: w.metric, type: w.datatype, writable: true, commandPayload: w.payload });
    }
    return defs;
  }

  /**
   * A reading's values: the current values, and the metrics no point of the source declares, learnt
   * (typed by `mapped` when the config maps its topics, else from the values).
   */
  update(
    source: string,
    device: string,
    values: Record<string, StoredValue>,
    at: number,
    mapped?: MetricDef,
    client = device,
  ): boolean {
    if (!this.owner.has(device)) this.owner.set(device, this.ownerOf(device) ?? source);
    if (this.owner.get(device) !== source) return false;
    if (client !== device) this.clients.set(device, client);
    let cur = this.current.get(device);
    if (!cur) {
      cur = new Map();
      this.current.set(device, cur);
    }
    const declared = this.sources.get(source)?.catalogue?.points(device) ?? [];
    for (const [name, value] of Object.entries(values)) {
      cur.set(name, { value, at });
      if (declared.some((p) => p.name === name)) continue;
      let learnt = this.learnt.get(device);
      if (!learnt) {
        learnt = new Map();
        this.learnt.set(device, learnt);
      }
      if (!learnt.has(name))
        learnt.set(name, mapped ?? { name, type: datatypeOf(undefined, value), writable: false });
    }
    return true;
  }

  /** The device id a command for Sparkplug device `device` goes to (the last that reported as it). */
  clientOf(device: string): string {
    return this.clients.get(device) ?? device;
  }

  /** Devices that reported during this run, with their source. */
  reported(): { device: string; source: string }[] {
    return [...this.current.keys()].map((device) => ({ device, source: this.owner.get(device)! }));
  }

  /** The current value of each metric (undefined when none came yet this run). */
  valueOf(device: string, name: string): Current | undefined {
    return this.current.get(device)?.get(name);
  }
}

/** A stored value as the metric's type wants it (64-bit integers exact). */
export function metricValue(type: DataTypeName, v: StoredValue): MetricValue {
  if (type === 'Int64' || type === 'UInt64' || type === 'DateTime') {
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  }
  return v;
}
