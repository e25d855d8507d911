import type { Logger } from 'pino';
import { BehaviorSubject } from 'rxjs';
import type { ModbusCounters } from './stats.js';
import type { Transport } from './transport.js';

export type LinkState = 'open' | 'closed' | 'retrying';

/**
 * Keeps a transport open like the serial adapter keeps its port: absent at start, unplugged or
 * reset, it is reopened with exponential backoff (min doubling to max, reset after an open).
 * State changes are logged once each; retries are only counted.
 */
export class Link {
  readonly state$ = new BehaviorSubject<LinkState>('closed');
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private running = false;

  constructor(
    private readonly transport: Transport,
    private readonly reopen: { min: number; max: number },
    private readonly counters: ModbusCounters['link'],
    private readonly logger: Logger,
    private readonly where: string,
  ) {
    transport.onLost((reason) => {
      if (!this.running) return;
      this.counters.lost++;
      this.retry(reason);
    });
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tryOpen();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.transport.close();
    this.set('closed');
    this.state$.complete();
  }

  private async tryOpen(): Promise<void> {
    if (!this.running) return;
    try {
      await this.transport.open();
    } catch (err) {
      this.counters.openFailures++;
      this.retry((err as Error).message);
      return;
    }
    if (!this.running) {
      await this.transport.close();
      return;
    }
    this.attempt = 0;
    this.counters.opens++;
    this.set('open');
  }

  private retry(reason: string): void {
    const delay = Math.min(this.reopen.min * 2 ** this.attempt, this.reopen.max);
    this.attempt++;
    this.set('retrying', reason);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tryOpen(), delay);
  }

  private set(next: LinkState, reason?: string): void {
    const prev = this.state$.value;
    if (prev === next) return;
    const log = { link: this.where, state: next, was: prev, ...(reason && { reason }) };
    if (next === 'open') this.logger.info(log, 'modbus link open');
    else if (next === 'retrying')
      this.logger.warn(
        log,
        prev === 'open'
          ? 'modbus link lost; reopening with backoff'
          : 'modbus link unavailable; retrying with backoff',
      );
    else this.logger.info(log, 'modbus link closed');
    this.state$.next(next);
  }
}
