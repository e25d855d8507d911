import type { Logger } from 'pino';
import type { Outbox, OutboxRow } from '../../contracts/store.js';

/**
 * Rows the broker acknowledged (or QoS 0 rows written), gathered over one event-loop turn and
 * completed in the store with ONE complete() call. They are reported delivered at once: the broker
 * has them. The delete waits for the store's next commit (up to a couple of seconds: it costs no
 * commit of its own), and losing it only resends rows the broker already has.
 * The caller flushes from its own turn when it has one scheduled, else this schedules one.
 */
export class Completions {
  private rows: OutboxRow[] = [];
  private timer: NodeJS.Immediate | undefined;
  private readonly turn = (): void => this.flush();

  constructor(
    private readonly o: {
      outbox: Pick<Outbox, 'complete'>;
      onDelivered(rows: readonly OutboxRow[]): void;
      logger: Logger;
      /** Store writes in flight, awaited by the sender's settle(). */
      pending: Set<Promise<unknown>>;
    },
  ) {}

  /** `turnScheduled`: the caller flushes in a turn it already scheduled (no immediate of our own). */
  add(row: OutboxRow, turnScheduled: boolean): void {
    this.rows.push(row);
    if (!turnScheduled) this.timer ??= setImmediate(this.turn);
  }

  flush(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    const rows = this.rows;
    if (rows.length === 0) return;
    this.rows = [];
    const ids = new Array<number>(rows.length);
    for (let i = 0; i < rows.length; i++) ids[i] = rows[i]!.id;
    const p = this.o.outbox.complete(ids);
    this.o.pending.add(p);
    this.o.onDelivered(rows); // a row is a Delivered: no object per message
    p.then(
      () => {
        this.o.pending.delete(p);
      },
      (err) => {
        this.o.pending.delete(p);
        this.o.logger.error({ err, count: rows.length }, 'upstream: could not complete acknowledged rows');
      },
    );
  }
}
