import { constants, openSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import tty from 'node:tty';

/** CRC-16/MODBUS: reflected poly 0xA001, init 0xFFFF; sent low byte first. */
export function crc16modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function withCrc(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  frame.copy(out);
  out.writeUInt16LE(crc16modbus(frame), frame.length);
  return out;
}

interface UnitTables {
  coils: Map<number, boolean>;
  discrete: Map<number, boolean>;
  holding: Map<number, number>;
  input: Map<number, number>;
}

/**
 * The register map of the simulated devices and their faults, at the byte level: function codes
 * 1-6, 15 and 16, exception answers, a silent unit, corrupted CRCs, cut-off frames.
 */
export class SlaveModel {
  readonly units = new Map<number, UnitTables>();
  /** Units that do not answer at all. */
  readonly silent = new Set<number>();
  /** `${unit}:${fc}:${address}` of a request's start -> exception code. */
  readonly exceptions = new Map<string, number>();
  /** The next n answers go out with a broken CRC / cut short. */
  corruptNext = 0;
  shortNext = 0;
  /** Requests as received: unit, fc, address. */
  readonly requests: { unit: number; fc: number; address: number; at: number }[] = [];

  unit(id: number): UnitTables {
    let u = this.units.get(id);
    if (!u) {
      u = { coils: new Map(), discrete: new Map(), holding: new Map(), input: new Map() };
      this.units.set(id, u);
    }
    return u;
  }

  /** Words into a register table from `address` on. */
  setRegisters(unit: number, fc: 3 | 4, address: number, words: number[]): void {
    const t = fc === 3 ? this.unit(unit).holding : this.unit(unit).input;
    for (const [i, w] of words.entries()) t.set(address + i, w & 0xffff);
  }

  /** Request PDU (unit id separate) -> response PDU, or undefined for no answer. */
  handle(unit: number, pdu: Buffer): Buffer | undefined {
    const fc = pdu[0]!;
    const address = pdu.readUInt16BE(1);
    this.requests.push({ unit, fc, address, at: performance.now() });
    if (this.silent.has(unit) || !this.units.has(unit)) return undefined;
    const exception = this.exceptions.get(`${unit}:${fc}:${address}`);
    if (exception !== undefined) return Buffer.from([fc | 0x80, exception]);
    const u = this.unit(unit);
    switch (fc) {
      case 1:
      case 2: {
        const count = pdu.readUInt16BE(3);
        const t = fc === 1 ? u.coils : u.discrete;
        const bytes = Buffer.alloc(Math.ceil(count / 8));
        for (let i = 0; i < count; i++) if (t.get(address + i)) bytes[i >> 3]! |= 1 << (i & 7);
        return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
      }
      case 3:
      case 4: {
        const count = pdu.readUInt16BE(3);
        const t = fc === 3 ? u.holding : u.input;
        const out = Buffer.alloc(2 + count * 2);
        out[0] = fc;
        out[1] = count * 2;
        for (let i = 0; i < count; i++) out.writeUInt16BE(t.get(address + i) ?? 0, 2 + i * 2);
        return out;
      }
      case 5:
        u.coils.set(address, pdu.readUInt16BE(3) === 0xff00);
        return Buffer.from(pdu.subarray(0, 5));
      case 6:
        u.holding.set(address, pdu.readUInt16BE(3));
        return Buffer.from(pdu.subarray(0, 5));
      case 15: {
        const count = pdu.readUInt16BE(3);
        for (let i = 0; i < count; i++) u.coils.set(address + i, ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) === 1);
        return Buffer.from(pdu.subarray(0, 5));
      }
      case 16: {
        const count = pdu.readUInt16BE(3);
        for (let i = 0; i < count; i++) u.holding.set(address + i, pdu.readUInt16BE(6 + i * 2));
        return Buffer.from(pdu.subarray(0, 5));
      }
      default:
        return Buffer.from([fc | 0x80, 1]);
    }
  }
}

/** Bytes of a whole RTU request frame, once enough has arrived to know (undefined: need more). */
function requestLength(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1]!;
  if (fc === 15 || fc === 16) return buf.length < 7 ? undefined : 7 + buf[6]! + 2;
  return 8;
}

/**
 * The RTU slave at the far end of a socat pty: reads request frames, checks their CRC, answers
 * from the model after `delayMs`. It notes when each request began to arrive and when each answer
 * was written, so a test can measure the silence the master keeps between frames, and whether a
 * request ever arrived while an answer was still pending (two requests on a half-duplex bus).
 */
export class RtuSlave {
  delayMs = 0;
  badCrcRequests = 0;
  overlaps = 0;
  /** Silence from an answer's write to the next request's first byte, performance.now() ms. */
  readonly silences: number[] = [];
  private buf = Buffer.alloc(0);
  private answeredAt: number | undefined;
  private busy = false;
  private readonly stream: tty.ReadStream;

  constructor(
    path: string,
    readonly model: SlaveModel,
  ) {
    // fs + tty rather than serialport: its open flushes the tty and could eat a request in flight.
    this.stream = new tty.ReadStream(openSync(path, constants.O_RDWR | constants.O_NOCTTY));
    this.stream.setRawMode(true);
    this.stream.on('error', () => {});
    this.stream.on('data', (b: Buffer) => this.onData(b));
  }

  private onData(chunk: Buffer): void {
    const now = performance.now();
    if (this.buf.length === 0) {
      if (this.answeredAt !== undefined) this.silences.push(now - this.answeredAt);
      this.answeredAt = undefined;
      if (this.busy) this.overlaps++;
    }
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const n = requestLength(this.buf);
      if (n === undefined || this.buf.length < n) return;
      const frame = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      this.onFrame(Buffer.from(frame));
    }
  }

  private onFrame(frame: Buffer): void {
    if (crc16modbus(frame.subarray(0, -2)) !== frame.readUInt16LE(frame.length - 2)) {
      this.badCrcRequests++;
      return;
    }
    const unit = frame[0]!;
    const pdu = this.model.handle(unit, frame.subarray(1, -2));
    if (!pdu) return;
    let reply = withCrc(Buffer.concat([Buffer.from([unit]), pdu]));
    if (this.model.corruptNext > 0) {
      this.model.corruptNext--;
      reply[reply.length - 1]! ^= 0xff;
    } else if (this.model.shortNext > 0) {
      this.model.shortNext--;
      reply = reply.subarray(0, reply.length - 3);
    }
    this.busy = true;
    setTimeout(() => {
      // Stamped as the write starts: the master cannot have the answer earlier, so a request that
      // arrives less than its gap after this stamp did not keep the gap. (The write callback can
      // run late on a loaded machine, which would make the silence look shorter than it was.)
      this.busy = false;
      this.answeredAt = performance.now();
      this.stream.write(reply);
    }, this.delayMs);
  }

  close(): void {
    this.stream.destroy();
  }
}

/** The same model behind Modbus TCP (MBAP header, no CRC) on 127.0.0.1. */
export class TcpSlave {
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(model: SlaveModel): Promise<TcpSlave> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
          const len = buf.readUInt16BE(4);
          const tid = buf.readUInt16BE(0);
          const unit = buf[6]!;
          const pdu = buf.subarray(7, 6 + len);
          buf = buf.subarray(6 + len);
          const reply = model.handle(unit, Buffer.from(pdu));
          if (!reply) continue;
          const head = Buffer.alloc(7);
          head.writeUInt16BE(tid, 0);
          head.writeUInt16BE(reply.length + 1, 4);
          head[6] = unit;
          socket.write(Buffer.concat([head, reply]));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const slave = new TcpSlave(server, port);
    for (const s of sockets) slave.sockets.add(s);
    server.on('connection', (s) => {
      slave.sockets.add(s);
      s.on('close', () => slave.sockets.delete(s));
    });
    return slave;
  }

  /** Drop every connection (as a TCP gateway reboot would). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
