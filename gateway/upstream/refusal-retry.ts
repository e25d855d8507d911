import type { OutboxRow } from '../../contracts/store.js';
import { waitingNow } from '../../contracts/clock.js';

/** Backoff after a broker refusal that may pass later (MQTT 5 quota exceeded, server busy, ...). */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * Rows the broker refused for now, sent again once a backoff (0.5 s doubling to 30 s, reset by the
 * next delivery) has passed, in id order before newer rows. While it runs nothing new goes out: the
 * broker said it is over quota. A refused QoS 2 row keeps its packet id (the store still has it on
 * the row, so it must not be handed to another row) and is sent with it again.
 */
export class RefusalRetry {
  private rows: OutboxRow[] = [];
  private at = 0;
  private delay = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  /** Row id -> the packet id it keeps (QoS 2). */
  private readonly ids = new Map<number, number>();

  constructor(private readonly wake: () => void) {}

  /** The delay the next refusal would wait, for the log line. */
  get nextDelayMs(): number {
    return this.delay;
  }

  get empty(): boolean {
    return this.rows.length === 0;
  }

  /** A refused row; `packetId` for a QoS 2 row, which keeps its id. Starts the backoff if none runs. */
  add(row: OutboxRow, packetId?: number): void {
    if (packetId !== undefined) this.ids.set(row.id, packetId);
    this.rows.push(row);
    if (this.at > waitingNow()) return;
    this.at = waitingNow() + this.delay;
    this.delay = Math.min(RETRY_MAX_MS, this.delay * 2);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.arm();
  }

  /** A message was delivered: the next refusal starts from the shortest backoff again. */
  delivered(): void {
    this.delay = RETRY_MIN_MS;
  }

  /**
   * 'wait' while the backoff runs (the caller must send nothing new; `wake` is called when it ends),
   * else the refused rows now due (maybe none), handed over once.
   */
  take(): OutboxRow[] | 'wait' {
    if (this.at > waitingNow()) {
      this.arm();
      return 'wait';
    }
    const due = this.rows;
    if (due.length > 0) this.rows = []; // else the empty array is handed out as is (once per pump)
    return due;
  }

  /** The packet id a refused QoS 2 row kept (given up here: it is the caller's again), if any. */
  keptId(rowId: number): number | undefined {
    const id = this.ids.get(rowId);
    this.ids.delete(rowId);
    return id;
  }

  /** The connection is gone: its packet ids with it; the rows are read back from the store. */
  reset(): void {
    this.rows = [];
    this.ids.clear();
    this.at = 0; // a new connection (maybe another broker) starts without the backoff
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, this.at - waitingNow());
    this.timer.unref();
  }
}
