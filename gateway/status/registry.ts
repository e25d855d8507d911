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
  /**
   * What the device did wrong, counted by reason since start: downlinks it did not take
   * (delivery_failed), packets its session state does not allow (out_of_state), datagrams over
   * max_packet_size (oversize). Empty for a device that behaves.
   */
  problems: Record<string, number>;
  /** The latest of those, or null. */
  last_problem: { reason: string; at: number } | null;
}

export const PREVIEW_CHARS = 120;
/** Bound on devices shown (client ids that change per boot must not grow memory forever). */
export const MAX_DEVICES = 2000;

/** Bytes of a payload kept for its preview: PREVIEW_CHARS characters of up to 4 UTF-8 bytes. */
const PREVIEW_BYTES = PREVIEW_CHARS * 4;

/**
 * A row as kept: the last payload's first bytes in a buffer of the row's own, rendered to text only
 * when the list is read. A reading costs a copy of at most PREVIEW_BYTES and no allocation (the
 * preview string used to be built for every reading, and read once in a while).
 */
interface Row extends Omit<DeviceRow, 'last_payload'> {
  head: Buffer | null;
  headLength: number;
  /** The whole last payload's length, to tell a cut preview from a whole one. */
  payloadLength: number;
}

/** Every device the gateway has heard of since start, fed by readings and adapters' devices$. */
export class DeviceRegistry {
  /** source -> device -> row: looked up without building a key string per reading. */
  private readonly bySource = new Map<string, Map<string, Row>>();
  /** Every row, least recently active first (re-inserted on activity): the first goes beyond max. */
  private readonly recency = new Set<Row>();

  constructor(private readonly max = MAX_DEVICES) {}

  reading(r: Reading): void {
    const row = this.row(r.source, r.device, r.receivedAt);
    row.last_seen = r.receivedAt;
    row.messages++;
    row.last_topic = r.topic;
    const n = Math.min(r.payload.length, PREVIEW_BYTES);
    if (n > 0) {
      row.head ??= Buffer.allocUnsafeSlow(PREVIEW_BYTES);
      r.payload.copy(row.head, 0, 0, n);
    }
    row.headLength = n;
    row.payloadLength = r.payload.length;
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

  /** The device misbehaved (the adapter names it): counted by reason, the latest kept. */
  problem(source: string, device: string, reason: string, at: number): void {
    const row = this.row(source, device, at);
    row.problems[reason] = (row.problems[reason] ?? 0) + 1;
    row.last_problem = { reason, at };
  }

  list(): DeviceRow[] {
    return [...this.recency]
      .map(
        ({ head, headLength, payloadLength, ...r }): DeviceRow => ({
          ...r,
          problems: { ...r.problems },
          // last_topic is set by the first reading: before it, no payload either.
          last_payload:
            r.last_topic === null
              ? null
              : previewOf(head ? head.subarray(0, headLength) : EMPTY, payloadLength),
        }),
      )
      .sort((a, b) => a.source.localeCompare(b.source) || a.id.localeCompare(b.id));
  }

  counts(): Record<DeviceState, number> {
    const c: Record<DeviceState, number> = { online: 0, asleep: 0, offline: 0, lost: 0 };
    for (const r of this.recency) c[r.state]++;
    return c;
  }

  private setState(row: Row, state: DeviceState, at: number): void {
    if (row.state === state) return;
    row.state = state;
    row.state_since = at;
  }

  private row(source: string, id: string, now: number): Row {
    let devices = this.bySource.get(source);
    if (!devices) {
      devices = new Map();
      this.bySource.set(source, devices);
    }
    let row = devices.get(id);
    if (row) {
      this.recency.delete(row); // re-insert: most recently active last
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
        head: null,
        headLength: 0,
        payloadLength: 0,
        drops: 0,
        problems: {},
        last_problem: null,
      };
      devices.set(id, row);
    }
    this.recency.add(row);
    if (this.recency.size > this.max) this.forget(this.recency.values().next().value!);
    return row;
  }

  private forget(row: Row): void {
    this.recency.delete(row);
    const devices = this.bySource.get(row.source);
    devices?.delete(row.id);
    if (devices?.size === 0) this.bySource.delete(row.source);
  }
}

const EMPTY = Buffer.alloc(0);

/** UTF-8 text, control characters replaced, cut to PREVIEW_CHARS. The page escapes it when it shows it. */
export function preview(payload: Buffer): string {
  return previewOf(payload.subarray(0, PREVIEW_BYTES), payload.length);
}

/** The preview of a payload of `length` bytes whose first bytes (up to PREVIEW_BYTES) are `head`. */
function previewOf(head: Buffer, length: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const text = head.toString('utf8').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '\ufffd');
  return text.length > PREVIEW_CHARS || length > PREVIEW_BYTES ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}
