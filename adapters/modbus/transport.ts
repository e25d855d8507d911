import { createRequire } from 'node:module';
import type modbusSerial from 'modbus-serial';
import { type ModbusBusConfig, parseHostPort } from './config.js';
import { RtuPort } from './rtu-port.js';

/** Why a request failed, as counted in metrics. Exceptions are `exception_<name>`. */
export type FailureReason = string;

export class ModbusRequestError extends Error {
  override readonly name = 'ModbusRequestError';
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** The device's exception code (1 illegal function, 2 illegal data address, 6 busy, ...). */
    readonly exceptionCode?: number,
  ) {
    super(message);
  }
}

const EXCEPTIONS: Record<number, string> = {
  1: 'illegal_function',
  2: 'illegal_address',
  3: 'illegal_value',
  4: 'device_failure',
  5: 'acknowledge',
  6: 'busy',
  8: 'memory_parity',
  10: 'gateway_path',
  11: 'gateway_target',
};

/** One Modbus link (a serial port or a TCP connection): open/close and one request at a time. */
export interface Transport {
  readonly isOpen: boolean;
  /** Rejects when the port cannot be opened / the host not reached. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Called once when an open link is lost (unplugged adapter, connection reset). */
  onLost(cb: (reason: string) => void): void;
  read(unit: number, fc: 1 | 2 | 3 | 4, address: number, count: number): Promise<number[] | boolean[]>;
  write(unit: number, fc: 5 | 6 | 15 | 16, address: number, values: number[] | boolean[]): Promise<void>;
}

// A CommonJS module whose types declare `export default`; it also sets module.exports.default to itself.
type ModbusRTUClass = typeof modbusSerial.default;
type Client = InstanceType<ModbusRTUClass>;
const require = createRequire(import.meta.url);
let modbusRTU: ModbusRTUClass | undefined;
/** Loaded on the first open: a config without a `modbus:` section never pays its ~6 MiB of RSS. */
const ModbusRTU = (): ModbusRTUClass =>
  (modbusRTU ??= (require('modbus-serial') as typeof modbusSerial).default);

/** modbus-serial does the wire protocol (PDUs, CRC, MBAP); this class opens links and names failures. */
export class ModbusSerialTransport implements Transport {
  private client: Client | null = null;
  private rtu: RtuPort | null = null;
  private lost: ((reason: string) => void) | undefined;
  /** Settles the request in flight as port_closed. */
  private abort: (() => void) | null = null;

  constructor(private readonly bus: ModbusBusConfig) {}

  get isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  onLost(cb: (reason: string) => void): void {
    this.lost = cb;
  }

  async open(): Promise<void> {
    const b = this.bus;
    let client: Client;
    if (b.path !== undefined) {
      const port = new RtuPort({
        path: b.path,
        baudRate: b.baud,
        dataBits: b.data_bits,
        parity: b.parity,
        stopBits: b.stop_bits,
      });
      client = new (ModbusRTU())(port);
      client.setTimeout(b.timeout);
      await new Promise<void>((resolve, reject) =>
        client.open((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      this.rtu = port;
    } else {
      const { host, port } = parseHostPort(b.tcp!)!;
      client = new (ModbusRTU())();
      client.setTimeout(b.timeout); // also the connect timeout
      try {
        await client.connectTCP(host, { port });
      } catch (err) {
        client.destroy(() => {});
        throw err;
      }
    }
    // Without an 'error' listener an emitted error would crash the process; the loss is seen on 'close'.
    client.on('error', () => {});
    client.on('close', () => this.markLost('closed'));
    this.client = client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.rtu = null;
    this.abort?.();
    if (!client) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      try {
        client.close(() => {
          clearTimeout(t);
          resolve();
        });
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
    client.destroy(() => {});
  }

  read(unit: number, fc: 1 | 2 | 3 | 4, address: number, count: number): Promise<number[] | boolean[]> {
    return this.call<{ data: number[] | boolean[] }>((c, cb) => {
      if (fc === 1) c.writeFC1(unit, address, count, cb);
      else if (fc === 2) c.writeFC2(unit, address, count, cb);
      else if (fc === 3) c.writeFC3(unit, address, count, cb);
      else c.writeFC4(unit, address, count, cb);
    }).then((r) => (fc <= 2 ? r.data.slice(0, count) : r.data));
  }

  async write(
    unit: number,
    fc: 5 | 6 | 15 | 16,
    address: number,
    values: number[] | boolean[],
  ): Promise<void> {
    await this.call((c, cb) => {
      if (fc === 5) c.writeFC5(unit, address, values[0] === true, cb);
      else if (fc === 6) c.writeFC6(unit, address, values[0] as number, cb);
      else if (fc === 15) c.writeFC15(unit, address, values as boolean[], cb);
      else c.writeFC16(unit, address, values as number[], cb);
    });
  }

  private call<T>(run: (c: Client, cb: (err: unknown, res: T) => void) => void): Promise<T> {
    const client = this.client;
    if (!client?.isOpen) {
      // TCP: a reset connection closes without the library's 'close' event; notice it here.
      if (client) this.markLost('not open');
      return Promise.reject(new ModbusRequestError('port_closed', 'the port is not open'));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (err: ModbusRequestError | undefined, res?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        this.abort = null;
        if (err) reject(err);
        else resolve(res as T);
      };
      // Closing the client cancels its timers without calling back: a lost link settles the request
      // here, and a guard settles it should the library never answer, so the bus never hangs.
      this.abort = () => settle(new ModbusRequestError('port_closed', 'the port closed'));
      const guard = setTimeout(
        () => settle(new ModbusRequestError('timeout', 'no answer from the library')),
        this.bus.timeout + 1000,
      );
      try {
        run(client, (err, res) => settle(err ? this.classify(err) : undefined, res));
      } catch (err) {
        settle(this.classify(err));
      }
    });
  }

  private classify(err: unknown): ModbusRequestError {
    const e = err as { message?: string; errno?: string; modbusCode?: number; name?: string };
    const message = e.message ?? String(err);
    if (typeof e.modbusCode === 'number') {
      const name = EXCEPTIONS[e.modbusCode] ?? `code_${e.modbusCode}`;
      return new ModbusRequestError(`exception_${name}`, message, e.modbusCode);
    }
    if (e.errno === 'ETIMEDOUT' || /timed out/i.test(message)) {
      // Bytes came back but never a whole frame: the device is there, the frame was cut or garbled.
      if (this.rtu && this.rtu.received > 0)
        return new ModbusRequestError('short_frame', `${message} (incomplete reply)`);
      return new ModbusRequestError('timeout', message);
    }
    if (/CRC/i.test(message)) return new ModbusRequestError('crc', message);
    if (/length/i.test(message)) return new ModbusRequestError('short_frame', message);
    if (/Unexpected data/i.test(message)) return new ModbusRequestError('bad_frame', message);
    if (/not open/i.test(message)) return new ModbusRequestError('port_closed', message);
    return new ModbusRequestError('error', message);
  }

  private markLost(reason: string): void {
    if (!this.client) return;
    const client = this.client;
    this.client = null;
    this.rtu = null;
    this.abort?.();
    client.destroy(() => {});
    this.lost?.(reason);
  }
}
