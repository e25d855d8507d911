import type { Logger } from 'pino';
import type { Subject } from 'rxjs';
import type { ModbusCounters, ModbusStat } from './stats.js';
import { ModbusRequestError, type Transport } from './transport.js';
import { waitingNow } from '../../contracts/clock.js';

export interface BusOptions {
  /** "rs485a": the metrics label. */
  bus: string;
  transport: Transport;
  gap: number;
  retries: number;
  counters: ModbusCounters;
  stats: Subject<ModbusStat>;
  logger: Logger;
}

/** A failure worth retrying: the next attempt may get through. An exception answer will not change. */
function retriable(reason: string): boolean {
  return reason === 'timeout' || reason === 'crc' || reason === 'short_frame' || reason === 'bad_frame';
}

/**
 * The wire discipline of one bus: one request at a time (RS-485 is half duplex; the scheduler
 * only calls exchange() after the previous one settled), `gap` of silence after every frame
 * exchange, failed attempts retried `retries` times, every request and failure counted.
 */
export class Bus {
  private lastFrameAt = 0;
  private readonly logged = new Map<string, number>();

  constructor(private readonly o: BusOptions) {}

  async exchange<T>(device: string, run: (t: Transport) => Promise<T>): Promise<T> {
    let last: ModbusRequestError | undefined;
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      // Checked again after each wait: a timer can fire up to a millisecond or more early (libuv
      // counts from the loop's cached clock), and the gap is a minimum the devices rely on.
      for (let wait = this.gapLeft(); wait > 0; wait = this.gapLeft())
        await new Promise((r) => setTimeout(r, Math.ceil(wait)));
      const t0 = performance.now();
      try {
        const out = await run(this.o.transport);
        this.done(device, t0, true);
        return out;
      } catch (err) {
        this.done(device, t0, false);
        last =
          err instanceof ModbusRequestError
            ? err
            : new ModbusRequestError('error', (err as Error).message ?? String(err));
        this.fail(device, last);
        if (!retriable(last.reason)) break;
      }
    }
    throw last;
  }

  /** ms of the gap after the last frame still to wait. */
  private gapLeft(): number {
    return this.lastFrameAt + this.o.gap - performance.now();
  }

  private done(device: string, t0: number, ok: boolean): void {
    this.lastFrameAt = performance.now();
    this.o.counters.requests++;
    this.o.stats.next({ type: 'request', bus: this.o.bus, device, ok, ms: this.lastFrameAt - t0 });
  }

  private fail(device: string, err: ModbusRequestError): void {
    const { counters } = this.o;
    counters.errors[err.reason] = (counters.errors[err.reason] ?? 0) + 1;
    this.o.stats.next({ type: 'error', bus: this.o.bus, device, reason: err.reason });
    // A noisy bus fails many times a second: log each (device, reason) at most once a minute.
    const key = `${device}\0${err.reason}`;
    const now = waitingNow();
    if ((this.logged.get(key) ?? 0) + 60_000 > now) return;
    if (this.logged.size > 1000) this.logged.clear();
    this.logged.set(key, now);
    this.o.logger.warn(
      { device, reason: err.reason, err: err.message },
      'modbus request failed (logged once a minute per device and reason)',
    );
  }
}
