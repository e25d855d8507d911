import type { DeviceEvent, DeviceState, Reading } from '../../adapters/types.js';

/** What the status page shows per device (GET /api/devices). Times are ms since epoch. */
export interface DeviceRow {
  id: string;
  /** Adapter instance, e.g. "mqttsn", "serial:weather". */
  source: string;
  /** serial | mqttsn | modbus | …: the adapter kind (source up to the first ':'). */
  transport: string;
  /** As the adapter reports it; "online" for a device that sent a reading but reported nothing else. */
  state: DeviceState;
  state_since: number;
  last_seen: number | null;
  messages: number;
  last_topic: string | null;
  /** The last payload as text, truncated to PREVIEW_CHARS (control bytes shown as U+FFFD). */
  last_payload: string | null;
  /** Readings of this device the gateway refused (loop guard, invalid topic, …). */
  drops: number;
}

export const PREVIEW_CHARS = 120;
/** Bound on devices shown (client ids that change per boot must not grow memory forever). */
export const MAX_DEVICES = 2000;

/** Every device the gateway has heard of since start, fed by readings and adapters' devices$. */
export class DeviceRegistry {
  /** `${source}\0${device}` -> row; Map order = first seen; the least recently active goes first beyond max. */
  private readonly rows = new Map<string, DeviceRow>();

  constructor(private readonly max = MAX_DEVICES) {}

  reading(r: Reading): void {
    const row = this.row(r.source, r.device, r.receivedAt);
    row.last_seen = r.receivedAt;
    row.messages++;
    row.last_topic = r.topic;
    row.last_payload = preview(r.payload);
    // A device that reports no availability of its own is online while it talks.
    if (row.state !== 'online' && row.state !== 'asleep') this.setState(row, 'online', r.receivedAt);
  }

  event(e: DeviceEvent): void {
    const row = this.row(e.source, e.device, e.at);
    if (e.state === 'online' || e.state === 'asleep') row.last_seen = Math.max(row.last_seen ?? 0, e.at);
    this.setState(row, e.state, e.at);
  }

  dropped(source: string, device: string, now: number): void {
    this.row(source, device, now).drops++;
  }

  list(): DeviceRow[] {
    return [...this.rows.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => a.source.localeCompare(b.source) || a.id.localeCompare(b.id));
  }

  counts(): Record<DeviceState, number> {
    const c: Record<DeviceState, number> = { online: 0, asleep: 0, offline: 0, lost: 0 };
    for (const r of this.rows.values()) c[r.state]++;
    return c;
  }

  private setState(row: DeviceRow, state: DeviceState, at: number): void {
    if (row.state === state) return;
    row.state = state;
    row.state_since = at;
  }

  private row(source: string, id: string, now: number): DeviceRow {
    const key = `${source}\0${id}`;
    let row = this.rows.get(key);
    if (row) {
      this.rows.delete(key); // re-insert: most recently active last
    } else {
      const colon = source.indexOf(':');
      row = {
        id,
        source,
        transport: colon === -1 ? source : source.slice(0, colon),
        state: 'online',
        state_since: now,
        last_seen: null,
        messages: 0,
        last_topic: null,
        last_payload: null,
        drops: 0,
      };
    }
    this.rows.set(key, row);
    if (this.rows.size > this.max) this.rows.delete(this.rows.keys().next().value!);
    return row;
  }
}

/** UTF-8 text, control characters replaced, cut to PREVIEW_CHARS. The page escapes it when it shows it. */
export function preview(payload: Buffer): string {
  const head = payload.subarray(0, PREVIEW_CHARS * 4).toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const text = head.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '\ufffd');
  return text.length > PREVIEW_CHARS || payload.length > PREVIEW_CHARS * 4
    ? `${text.slice(0, PREVIEW_CHARS)}…`
    : text;
}
