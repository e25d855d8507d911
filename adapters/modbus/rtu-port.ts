import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';

export interface RtuPortOptions {
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
}

const MAX_FRAME = 256;

/**
 * The port modbus-serial's client talks through on RTU: a serialport that cuts the reply to the
 * request just written out of the byte stream. Unlike the library's buffered port it starts each
 * request with an empty buffer, so a late reply to a timed-out request (or line noise at bus
 * turnaround) cannot be taken for the next answer, and it tells whether any byte came back at all:
 * a timeout with bytes is a short or garbled frame, not a silent device.
 */
export class RtuPort extends EventEmitter {
  /** Set by modbus-serial on open; RTU has no transaction ids. */
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  private readonly port: SerialPort;
  private buffer = Buffer.alloc(0);
  private unit = -1;
  private fc = -1;
  private expected = 0;
  /** Bytes received since the last request. */
  received = 0;

  constructor(opts: RtuPortOptions) {
    super();
    this.port = new SerialPort({ ...opts, autoOpen: false });
    this.port.on('error', (err) => this.emit('error', err));
    this.port.on('close', () => this.emit('close'));
    this.port.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  get isOpen(): boolean {
    return this.port.isOpen;
  }

  open(cb: (err?: Error | null) => void): void {
    this.port.open(cb);
  }

  close(cb?: (err?: Error | null) => void): void {
    if (!this.port.isOpen) {
      cb?.(null);
      return;
    }
    this.port.close(cb);
  }

  write(frame: Buffer): void {
    this.buffer = Buffer.alloc(0);
    this.received = 0;
    this.unit = frame[0]!;
    this.fc = frame[1]!;
    this.expected = replyLength(frame);
    this.port.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    this.buffer = Buffer.concat([this.buffer, chunk]).subarray(-MAX_FRAME);
    // The reply starts where the unit id and function code (or its exception form) are; noise before it is skipped.
    for (let i = 0; i + 2 <= this.buffer.length; i++) {
      if (this.buffer[i] !== this.unit) continue;
      const fc = this.buffer[i + 1];
      const length = fc === this.fc ? this.expected : fc === (this.fc | 0x80) ? 5 : 0;
      if (length === 0) continue;
      if (this.buffer.length - i < length) return; // the rest is on its way
      const frame = this.buffer.subarray(i, i + length);
      this.buffer = Buffer.alloc(0);
      this.unit = -1; // one answer per request
      this.emit('data', frame);
      return;
    }
  }
}

/** Bytes of a normal reply to this request (unit + fc + data + CRC). */
function replyLength(req: Buffer): number {
  const fc = req[1];
  if (fc === 1 || fc === 2) return 3 + Math.ceil(req.readUInt16BE(4) / 8) + 2;
  if (fc === 3 || fc === 4) return 3 + 2 * req.readUInt16BE(4) + 2;
  return 8; // 5, 6, 15, 16 echo address and value/count
}
