import type { Inbox } from '../../contracts/store.js';
import type { RoutedCommand } from '../../rules/index.js';
import type { Logger } from '../log.js';
import { fromInboxRow, SPOOL_PREFIX, spoolTarget } from './spool.js';

export interface DeviceQueuesDeps {
  /** The store's inbox (unwrapped): spool rows are read and removed here. */
  inbox: Inbox;
  /** Hands one command to its adapter and reports its outcome; resolves once the adapter answered. */
  send: (command: RoutedCommand) => Promise<unknown>;
  logger: Logger;
}

/** Backoff for a spool row that could not be removed (store failing): retried, never skipped. */
const REMOVE_RETRY_MIN_MS = 100;
const REMOVE_RETRY_MAX_MS = 5000;

/**
 * Delivers spooled commands: one worker per (target, device) while that device has spool rows,
 * one command at a time in spool order, workers running concurrently. A device that does not
 * answer holds only its own worker. Memory holds one row per busy device; the store is the buffer.
 * A command is sent before its row is removed: a crash in between sends it again (at least once).
 */
export class DeviceQueues {
  private readonly workers = new Map<string, { done: Promise<void> }>();
  private halted = false;
  /** Off until resume(): the adapters must be started (sessions restored) before anything is sent. */
  private started = false;

  constructor(private readonly d: DeviceQueuesDeps) {}

  /** New rows were committed for this device: make sure a worker is draining them. */
  kick(target: string, device: string): void {
    const key = `${target}\u0000${device}`;
    if (!this.started || this.halted || this.workers.has(key)) return; // resume() will find the rows
    const w = { done: Promise.resolve() };
    this.workers.set(key, w); // before run(): it deletes the key itself, synchronously, when it finds nothing
    w.done = this.run(key, spoolTarget(target), device);
  }

  /**
   * Once the adapters started: a worker for every device with spooled rows, left from the previous
   * run or accepted from the broker while the adapters were starting.
   */
  resume(): number {
    this.started = true;
    const pairs = this.d.inbox.devices(SPOOL_PREFIX);
    for (const p of pairs) this.kick(p.target.slice(SPOOL_PREFIX.length), p.device);
    if (pairs.length)
      this.d.logger.info({ devices: pairs.length }, 'delivering commands spooled before the restart');
    return pairs.length;
  }

  /** Devices with a worker running (for tests and stats). */
  get busy(): number {
    return this.workers.size;
  }

  /** Take no further rows (the gateway is stopping); sends in progress finish. */
  halt(): void {
    this.halted = true;
  }

  /** Resolves when every worker finished its current command. */
  async idle(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.done));
  }

  private async run(key: string, target: string, device: string): Promise<void> {
    try {
      for (;;) {
        // pending() skips (and deletes, reporting them) rows that expired meanwhile.
        const row = this.halted ? undefined : this.d.inbox.pending(target, device, 1)[0];
        if (!row) return;
        try {
          await this.d.send(fromInboxRow(row));
        } catch (err) {
          // Not expected (send reports its own failures); never retried, or one command could loop.
          this.d.logger.error({ err, target, device, commandId: row.commandId }, 'spooled command failed');
        }
        if (!(await this.remove(row.id))) return;
      }
    } catch (err) {
      this.d.logger.error({ err, target, device }, 'command spool: worker stopped');
    } finally {
      this.workers.delete(key);
    }
  }

  /** False only when halted before the row could be removed (it is sent again after the restart). */
  private async remove(id: number): Promise<boolean> {
    for (let delay = REMOVE_RETRY_MIN_MS; ; delay = Math.min(delay * 2, REMOVE_RETRY_MAX_MS)) {
      try {
        await this.d.inbox.remove([id]);
        return true;
      } catch (err) {
        if (this.halted) return false;
        this.d.logger.warn(
          { err, spoolId: id, retryInMs: delay },
          'command spool: row not removed; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
