import type { OutboxRow } from '../../contracts/store.js';

/**
 * The rows to send while the QoS 2 window is full at `rows[n]` (rows in id order): those before it,
 * then every later row of another device, up to `free` in all. A QoS 2 row waits, and so does every
 * later row of its device, so each device's rows still reach the broker in order; a QoS 2 row the
 * broker never answers holds back its own device only. `kept` is what waits, in id order.
 */
export function pastFullQos2Window(
  rows: readonly OutboxRow[],
  n: number,
  free: number,
): { out: OutboxRow[]; kept: OutboxRow[] } {
  const out = rows.slice(0, n);
  const kept: OutboxRow[] = [];
  const waiting = new Set<string>();
  for (let k = n; k < rows.length; k++) {
    const row = rows[k]!;
    const device = `${row.source}\0${row.device}`;
    if (row.qos === 2) waiting.add(device);
    if (out.length >= free || waiting.has(device)) kept.push(row);
    else out.push(row);
  }
  return { out, kept };
}
