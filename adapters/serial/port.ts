import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { BehaviorSubject, Subject } from 'rxjs';
import { SerialPort } from 'serialport';
import type { SerialPortConfig } from './config.js';
import type { SerialCounters } from './counters.js';

export type PortState = 'open' | 'closed' | 'retrying';

export class PortNotOpenError extends Error {
  override readonly name = 'PortNotOpenError';
}

/** A write that does not complete in this time (device holding CTS, wedged adapter) fails. */
const WRITE_TIMEOUT_MS = 5000;
/**
 * How often an open port's device path is checked. The read side usually reports an unplug (EIO), but
 * not always: a pty whose other end went away was seen to stay "open" with no error for seconds.
 */
const PRESENCE_CHECK_MS = 1000;

/**
 * One serial port that keeps itself open: absent at start, unplugged or replugged, it is retried
 * with exponential backoff (reopen.min doubling to reopen.max, reset after a successful open).
 * State changes are logged once each, never per retry; retries are only counted.
 */
export class ReopeningPort {
  readonly state$ = new BehaviorSubject<PortState>('closed');
  /** Bytes as read, per open session. */
  readonly data$ = new Subject<Buffer>();
  private port: SerialPort | null = null;
  private timer: NodeJS.Timeout | undefined;
  private presence: NodeJS.Timeout | undefined;
  private attempt = 0;
  private running = false;

  constructor(
    private readonly config: SerialPortConfig,
    private readonly counters: SerialCounters['port'],
    private readonly logger: Logger,
  ) {}

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tryOpen();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.presence);
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.setState('closed');
    this.state$.complete();
    this.data$.complete();
  }

  /** Resolves once the bytes are handed to the OS; rejects if the port is not open or the write fails. */
  write(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new PortNotOpenError(`${this.config.path} is not open`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`write timed out after ${WRITE_TIMEOUT_MS} ms`)),
        WRITE_TIMEOUT_MS,
      );
      port.write(bytes, (err) => {
        clearTimeout(timer);
        if (err) return reject(err);
        this.counters.bytesOut += bytes.length;
        resolve();
      });
    });
  }

  private tryOpen(): void {
    if (!this.running) return;
    const c = this.config;
    const port = new SerialPort({
      path: c.path,
      baudRate: c.baud,
      dataBits: c.data_bits,
      parity: c.parity,
      stopBits: c.stop_bits,
      rtscts: c.flow_control === 'rtscts',
      xon: c.flow_control === 'xonxoff',
      xoff: c.flow_control === 'xonxoff',
      autoOpen: false,
    });
    // Without a listener an 'error' event would crash the process; a lost port also emits 'close'.
    port.on('error', (err) => this.logger.debug({ err: err.message }, 'serial port error'));
    port.open((err) => {
      if (!this.running) {
        if (!err) port.close();
        return;
      }
      if (err) {
        this.counters.openFailures++;
        this.retry(port, err.message);
        return;
      }
      this.port = port;
      this.attempt = 0;
      this.counters.opens++;
      port.on('data', (chunk: Buffer) => {
        this.counters.bytesIn += chunk.length;
        this.data$.next(chunk);
      });
      const lost = (reason: string) => {
        if (this.port !== port) return; // closed by stop(), or already lost
        this.port = null;
        this.counters.disconnects++;
        this.retry(port, reason);
      };
      port.once('close', (closeErr?: Error) => lost(closeErr?.message ?? 'closed'));
      this.presence = setInterval(() => {
        if (existsSync(this.config.path)) return;
        lost('device path vanished');
        if (port.isOpen) port.close(() => {}); // its error, if any, goes to the 'error' listener
      }, PRESENCE_CHECK_MS);
      this.setState('open');
    });
  }

  private retry(port: SerialPort, reason: string): void {
    clearInterval(this.presence);
    port.removeAllListeners('data');
    const delay = Math.min(this.config.reopen.min * 2 ** this.attempt, this.config.reopen.max);
    this.attempt++;
    this.setState('retrying', reason);
    this.timer = setTimeout(() => this.tryOpen(), delay);
  }

  private setState(next: PortState, reason?: string): void {
    const prev = this.state$.value;
    if (prev === next) return;
    const log = { path: this.config.path, state: next, was: prev, ...(reason && { reason }) };
    if (next === 'open') this.logger.info(log, 'serial port open');
    else if (next === 'retrying')
      this.logger.warn(
        log,
        prev === 'open'
          ? 'serial port lost; reopening with backoff'
          : 'serial port unavailable; retrying with backoff',
      );
    else this.logger.info(log, 'serial port closed');
    this.state$.next(next);
  }
}
