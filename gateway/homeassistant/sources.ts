import { adapterKinds } from '../../adapters/registry.js';
import type { Reading } from '../../adapters/types.js';
import type { HaEntity } from '../../contracts/ha.js';
import type { PointCatalogue } from '../../contracts/points.js';
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

/** The points of one instance that carry `ha:` metadata, as discovery asks for them. */
function haSource(c: PointCatalogue): HaSource | undefined {
  const withHa = (points: readonly { name: string; ha?: HaEntity }[]) => points.filter((p) => p.ha);
  if (withHa(c.all()).length === 0) return undefined;
  return {
    entity: (device, field) => c.points(device).find((p) => p.name === field)?.ha,
    fields: (device) => withHa(c.points(device)).map((p) => p.name),
    has: (field) => c.all().some((p) => p.name === field && p.ha),
    perField: (device) => c.perPoint(device),
    fieldTopic: (r, field) => c.pointTopic(r, field),
    binary: (device) => c.booleanText(device),
  };
}

/** Every adapter instance with `ha:` metadata, by source name (Reading.source). */
export function haSources(config: Config): Map<string, HaSource> {
  const out = new Map<string, HaSource>();
  for (const kind of adapterKinds) {
    const section = config[kind.key as keyof Config];
    if (section === undefined || !kind.points) continue;
    for (const [source, catalogue] of kind.points(section)) {
      const s = haSource(catalogue);
      if (s) out.set(source, s);
    }
  }
  return out;
}
