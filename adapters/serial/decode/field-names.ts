import type { SerialPortConfig } from '../config.js';

/**
 * Serial line noise is the common case, not an attack: a garbage key (`te\x13mp`) would become a new
 * topic per frame. Field names must look like field names: ASCII letters, digits, `_`, `-`, `.`,
 * at most 64 characters. The same rule applies to a device id read from a frame (device_field).
 */
export const FIELD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const FIELD_NAME_HINT = 'expected letters, digits, _ . or - (at most 64 characters)';

export type FieldDropReason = 'bad_field_name' | 'unlisted_field';
export interface FieldDrop {
  name: string;
  reason: FieldDropReason;
}

export function isPlausibleName(name: string): boolean {
  return FIELD_NAME.test(name);
}

/**
 * The frame's fields a port accepts: plausible names, and when the port lists `fields`, only those
 * (plus the fields its config reads: device_field, ack.seq_field, {placeholders} of the topic).
 */
export function fieldScreen(
  config: Pick<SerialPortConfig, 'fields' | 'device_field' | 'ack' | 'topic'>,
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
