import { wallOf } from '../../contracts/clock.js';
import type { OutboxRow } from '../../contracts/store.js';

/** A rule's time_field, as stored in the row's properties. */
export interface Stamp {
  field: string;
  /** ISO 8601 string, else ms since epoch. */
  iso: boolean;
}

/**
 * The payload to send for a row with a time_field: its JSON object with the field set to the
 * reading's wall time as the clock reads now, so a reading stored before a clock step goes out with
 * the corrected time. A payload that is not a JSON object goes as it is.
 */
export function stampedPayload(row: OutboxRow, stamp: Stamp): Buffer {
  let value: unknown;
  try {
    value = JSON.parse(row.payload.toString('utf8'));
  } catch {
    return row.payload;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return row.payload;
  const at = wallOf(row.receivedAt);
  (value as Record<string, unknown>)[stamp.field] = stamp.iso ? new Date(at).toISOString() : at;
  return Buffer.from(JSON.stringify(value));
}
