import type { Logger } from 'pino';
import { waitingNow } from '../../contracts/clock.js';
import type { DropReason } from './stats.js';

/** Drops that say a device is misbehaving: warned about by device, and shown next to it on the status page. */
export const DEVICE_TROUBLE: ReadonlySet<DropReason> = new Set<DropReason>([
  'delivery_failed',
  'out_of_state',
  'oversize',
]);

const MESSAGES: Partial<Record<DropReason, string>> = {
  delivery_failed: 'mqttsn device is not taking its messages (no ack after retries, or refused)',
  out_of_state: 'mqttsn device sends packets its session state does not allow',
  oversize: 'mqttsn device sends datagrams over max_packet_size (dropped)',
};

/** One line per device and reason per interval; senders with no session share one key per reason. */
const PER_DEVICE_MS = 60_000;
/** Lines per second over all devices: thousands of misbehaving devices must not flood the journal. */
const MAX_LINES_PER_S = 10;
/** Keys remembered (devices x reasons); the oldest is forgotten first beyond it. */
const MAX_KEYS = 4096;

/**
 * Rate-limited warnings naming the device (or, with no session, the source address). Each line says
 * how many such drops of that device came since its previous line (`count`), and how many lines of
 * other devices were held back by the overall bound (`suppressed`).
 */
export class DeviceWarnings {
  private readonly last = new Map<string, { at: number; count: number }>();
  private second = 0;
  private linesThisSecond = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = waitingNow,
  ) {}

  report(reason: DropReason, device: string | undefined, peer: string | undefined, detail?: string): void {
    const key = `${reason}\0${device ?? ''}`;
    const t = this.now();
    let entry = this.last.get(key);
    if (!entry) {
      entry = { at: Number.NEGATIVE_INFINITY, count: 0 };
      this.last.set(key, entry);
      if (this.last.size > MAX_KEYS) this.last.delete(this.last.keys().next().value!);
    }
    entry.count++;
    if (t - entry.at < PER_DEVICE_MS) return;
    const second = Math.floor(t / 1000);
    if (second !== this.second) {
      this.second = second;
      this.linesThisSecond = 0;
    }
    if (this.linesThisSecond >= MAX_LINES_PER_S) {
      this.suppressed++;
      return;
    }
    this.linesThisSecond++;
    const fields: Record<string, unknown> = {
      reason,
      device: device ?? null,
      peer,
      detail,
      count: entry.count,
    };
    if (this.suppressed) fields.suppressed = this.suppressed;
    this.suppressed = 0;
    entry.at = t;
    entry.count = 0;
    this.log.warn(fields, MESSAGES[reason] ?? `mqttsn device trouble: ${reason}`);
  }
}
