import { pointTopic } from '../../adapters/modbus/readings.js';
import { compileTopicTemplate, type TopicTemplate, topicLevel } from '../../contracts/topic-template.js';
import type { Reading } from '../../adapters/types.js';
import type { HaEntity } from '../../contracts/ha.js';
import type { Config } from '../config/schema.js';

/** What discovery needs to know of one adapter instance whose measurements carry `ha:` metadata. */
export interface HaSource {
  /** The metadata of `field` on `device`, if it has any. */
  entity(device: string, field: string): HaEntity | undefined;
  /** The fields of `device` that have metadata. */
  fields(device: string): readonly string[];
  /** Whether some device still has `field` with metadata (others' entities are cleared at start). */
  has(field: string): boolean;
  /** Whether `device`'s readings carry one field each, its value as the whole payload (else one JSON). */
  perField(device: string): boolean;
  /** For a per-field device: the topic its reading of `field` has (a reading on another topic is not that field's). */
  fieldTopic(r: Reading, field: string): string | undefined;
  /** What a binary_sensor's state payload of `device` is when true / false. */
  binary(device: string): { on: string; off: string };
}

/** Serial ports with `ha:` (one set of fields for every device of the port). */
function serialSource(port: Config['serial'][number], ha: Record<string, HaEntity>): HaSource {
  const template: TopicTemplate = compileTopicTemplate(port.topic);
  const fields = Object.keys(ha);
  return {
    entity: (_device, field) => ha[field],
    fields: () => fields,
    has: (field) => field in ha,
    perField: () => template.names.has('field'),
    fieldTopic: (r, field) =>
      template.render(
        (name) =>
          name === 'port'
            ? port.name
            : name === 'device'
              ? r.device
              : name === 'field'
                ? field
                : r.fields?.[name],
        topicLevel,
      ),
    binary: () => ({ on: '1', off: '0' }),
  };
}

/** Modbus buses whose points have `ha:`; each device has its own points (and maybe its own topic). */
function modbusSource(bus: Config['modbus'][number]): HaSource | undefined {
  const devices = new Map<string, { topic: TopicTemplate; ha: Map<string, HaEntity> }>();
  for (const d of bus.devices) {
    const ha = new Map<string, HaEntity>();
    for (const p of d.points)
      if (p.ha)
        ha.set(p.name, p.unit !== undefined && p.ha.unit === undefined ? { ...p.ha, unit: p.unit } : p.ha);
    if (ha.size > 0) devices.set(d.name, { topic: compileTopicTemplate(d.topic ?? bus.topic), ha });
  }
  if (devices.size === 0) return undefined;
  const perPoint = (device: string) => devices.get(device)?.topic.names.has('point') === true;
  const fieldsOf = new Map([...devices].map(([name, d]) => [name, [...d.ha.keys()]]));
  return {
    entity: (device, field) => devices.get(device)?.ha.get(field),
    fields: (device) => fieldsOf.get(device) ?? [],
    has: (field) => [...devices.values()].some((d) => d.ha.has(field)),
    perField: perPoint,
    fieldTopic: (r, field) => {
      const d = devices.get(r.device);
      return d && pointTopic({ bus: bus.name, device: r.device, topic: d.topic }, field);
    },
    // A point's bool goes out as true/false; inside a JSON payload HA's template renders it True/False.
    binary: (device) => (perPoint(device) ? { on: 'true', off: 'false' } : { on: 'True', off: 'False' }),
  };
}

/** Every adapter instance with `ha:` metadata, by source name (Reading.source). */
export function haSources(config: Config): Map<string, HaSource> {
  const out = new Map<string, HaSource>();
  for (const p of config.serial) if (p.ha) out.set(`serial:${p.name}`, serialSource(p, p.ha));
  for (const b of config.modbus ?? []) {
    const s = modbusSource(b);
    if (s) out.set(`modbus:${b.name}`, s);
  }
  return out;
}
