import { isPlausibleName } from '../../../contracts/field-name.js';

export type FieldDropReason = 'bad_field_name' | 'unlisted_field';
export interface FieldDrop {
  name: string;
  reason: FieldDropReason;
}

/** What of a port's config decides which fields pass (structural: config.ts is not imported back). */
export interface ScreenedPort {
  fields?: readonly string[] | undefined;
  device_field?: string | undefined;
  ack?: { seq_field: string } | undefined;
  topic: string;
}

/**
 * The frame's fields a port accepts: plausible names (contracts/field-name.ts), and when the port lists `fields`, only those
 * (plus the fields its config reads: device_field, ack.seq_field, {placeholders} of the topic).
 */
export function fieldScreen(
  config: ScreenedPort,
): (fields: Record<string, unknown>) => { fields: Record<string, unknown>; dropped: FieldDrop[] } {
  const listed = config.fields && new Set(config.fields);
  if (listed) {
    if (config.device_field) listed.add(config.device_field);
    if (config.ack) listed.add(config.ack.seq_field);
    for (const m of config.topic.matchAll(/\{([^}]+)\}/g)) listed.add(m[1]!);
  }
  return (fields) => {
    const kept: Record<string, unknown> = {};
    const dropped: FieldDrop[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (!isPlausibleName(name)) dropped.push({ name, reason: 'bad_field_name' });
      else if (listed && !listed.has(name)) dropped.push({ name, reason: 'unlisted_field' });
      else kept[name] = value;
    }
    return { fields: kept, dropped };
  };
}
