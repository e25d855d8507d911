import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, Packet } from 'mqtt-packet';
import { type AckHandler, type Oversize, PacketFramer } from './framer.js';
import { describeError } from './reasons.js';
import { tlsOptions } from './tls.js';
import type { UpstreamConfig } from './config.js';
import { waitingNow } from '../../contracts/clock.js';

// mqtt-packet would otherwise build 65,536 two-byte Buffers (about 6 MiB of heap, held for good) on its
// first write; the hot PUBLISH path is encoded by hand (publish-packet.ts), the rest is rare.
mqttPacket.writeToStream.cacheNumbers = false;

export type ProtocolVersion = 4 | 5;

export interface DialOptions {
  url: string;
  tls: UpstreamConfig['tls'];
  connect: IConnectPacket;
  protocolVersion: ProtocolVersion;
  timeoutMs: number;
  /** Larger incoming packets are skipped unbuffered and reported (onOversize). */
  maxPacketSize: number;
}

/** Why a connect attempt failed: refused by CONNACK, or the socket/TLS/timeout failed first. */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    message: string,
    readonly kind: 'refused' | 'tls' | 'network' | 'timeout',
    readonly code?: number,
  ) {
    super(message);
  }

  /**
   * The socket was up and our CONNECT sent when this went wrong (closed, reset, or an answer that
   * is not a CONNACK): a broker that does not speak the protocol version we asked for does that.
   */
  answeredWithoutConnack = false;
}

/**
 * One MQTT connection: a TCP or TLS socket with mqtt-packet's parser and writer.
 * It knows nothing about outboxes or sessions; it moves packets and reports close once.
 */
export class Connection {
  lastReceived = waitingNow();
  lastSent = waitingNow();
  /** Packets that arrive right behind CONNACK, before onPacket is set (a session's queued messages). */
  private early: Packet[] | undefined = [];
  private packetHandler: (p: Packet) => void = (p) => this.early?.push(p);
  /** Until onAck: an ack the framer decoded goes the parser's way, as a packet. */
  private ackHandler: AckHandler = (cmd, messageId, reasonCode) =>
    this.packetHandler({ cmd, messageId, reasonCode } as Packet);
  /** The packet id of a malformed ack that ended this connection: the row it answered is suspect. */
  private suspectId: number | undefined;
  private earlyOversize: Oversize[] | undefined = [];
  private oversizeHandler: (o: Oversize) => void = (o) => this.earlyOversize?.push(o);
  private closeHandlers: ((reason: string) => void)[] = [];
  private drainHandlers: (() => void)[] = [];
  private closedReason: string | undefined;
  /** The gateway closed it (destroy/end), not the broker or the network. */
  private closedByUs = false;
  private readonly writeOpts: { protocolVersion: ProtocolVersion };

  private constructor(
    private readonly socket: Socket,
    protocolVersion: ProtocolVersion,
  ) {
    this.writeOpts = { protocolVersion };
    socket.on('drain', () => {
      for (const h of this.drainHandlers.splice(0)) h();
    });
  }

  /** Dial, send CONNECT, resolve on an accepting CONNACK; reject with a ConnectError otherwise. */
  static dial(opts: DialOptions): Promise<{ conn: Connection; connack: IConnackPacket }> {
    const u = new URL(opts.url);
    const secure = u.protocol === 'mqtts:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port) || (secure ? 8883 : 1883);
    return new Promise((resolve, reject) => {
      let socket: Socket;
      try {
        socket = secure
          ? tlsConnect({ host, port, ...tlsOptions(host, opts.tls) })
          : netConnect({ host, port });
      } catch (err) {
        // e.g. a CA file that cannot be read
        reject(new ConnectError(describeError(err).reason, 'tls'));
        return;
      }
      socket.setNoDelay(true);
      const conn = new Connection(socket, opts.protocolVersion);
      const parser = mqttPacket.parser({ protocolVersion: opts.protocolVersion });
      let settled = false;
      let connectSent = false;
      const fail = (e: ConnectError) => {
        if (settled) return;
        settled = true;
        e.answeredWithoutConnack = connectSent && e.kind === 'network';
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new ConnectError(`no CONNACK within ${opts.timeoutMs} ms`, 'timeout')),
        opts.timeoutMs,
      );
      parser.on('packet', (p: Packet) => {
        if (settled) {
          conn.packetHandler(p);
          return;
        }
        if (p.cmd !== 'connack') return fail(new ConnectError(`expected CONNACK, got ${p.cmd}`, 'network'));
        const code = p.returnCode ?? p.reasonCode ?? 0;
        if (code !== 0) return fail(new ConnectError(`refused: ${code}`, 'refused', code));
        settled = true;
        clearTimeout(timer);
        resolve({ conn, connack: p });
      });
      parser.on('error', (err: Error) => {
        if (!settled) fail(new ConnectError(`bad packet from broker: ${err.message}`, 'network'));
        else conn.destroy(`bad packet from broker: ${err.message}`);
      });
      const framer = new PacketFramer(
        opts.maxPacketSize,
        (bytes) => parser.parse(bytes),
        (o) => {
          if (!settled) fail(new ConnectError(`packet of ${o.bytes} bytes before CONNACK`, 'network'));
          else conn.oversizeHandler(o);
        },
        (why, packetId) => {
          if (!settled) fail(new ConnectError(`bad packet from broker: ${why}`, 'network'));
          else {
            conn.suspectId = packetId;
            conn.destroy(`bad packet from broker: ${why}`);
          }
        },
        (cmd, messageId, reasonCode) => {
          if (!settled) fail(new ConnectError(`expected CONNACK, got ${cmd}`, 'network'));
          else conn.ackHandler(cmd, messageId, reasonCode);
        },
        opts.protocolVersion === 5,
      );
      socket.on('data', (chunk: Buffer) => {
        // Once per read, not per packet: a read holds many acks under load.
        conn.lastReceived = waitingNow();
        framer.push(chunk);
      });
      socket.on('error', (err) => {
        const d = describeError(err);
        if (!settled) fail(new ConnectError(d.reason, d.tls ? 'tls' : 'network'));
        else conn.noteClose(d.reason);
      });
      socket.on('close', () => {
        if (!settled) fail(new ConnectError('connection closed before CONNACK', 'network'));
        else conn.noteClose('connection closed by broker');
      });
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        connectSent = true;
        conn.write(opts.connect);
      });
    });
  }

  get open(): boolean {
    return this.closedReason === undefined;
  }

  /** False when the socket buffer is full: wait for onDrain before writing more. */
  get writable(): boolean {
    return this.open && !this.socket.writableNeedDrain;
  }

  onPacket(handler: (p: Packet) => void): void {
    this.packetHandler = handler;
    const early = this.early ?? [];
    this.early = undefined;
    for (const p of early) handler(p);
  }

  /**
   * PUBACK / PUBREC / PUBCOMP, decoded by the framer without mqtt-packet, with whatever reason code
   * the broker sent (every other packet still comes to onPacket).
   */
  onAck(handler: AckHandler): void {
    this.ackHandler = handler;
  }

  /** The packet id of the malformed ack this connection was closed on, if that was why. */
  get suspect(): number | undefined {
    return this.suspectId;
  }

  /** A packet over maxPacketSize went by (skipped, never buffered). */
  onOversize(handler: (o: Oversize) => void): void {
    this.oversizeHandler = handler;
    const early = this.earlyOversize ?? [];
    this.earlyOversize = undefined;
    for (const o of early) handler(o);
  }

  /** Called once, with the first reason the connection ended. */
  onClose(handler: (reason: string) => void): void {
    if (this.closedReason !== undefined) handler(this.closedReason);
    else this.closeHandlers.push(handler);
  }

  onDrain(handler: () => void): void {
    this.drainHandlers.push(handler);
  }

  /** Queue a packet; mqtt-packet writes its parts corked, flushed on the next tick. */
  write(p: Packet): boolean {
    if (!this.open) return false;
    this.lastSent = waitingNow();
    return mqttPacket.writeToStream(p, this.socket, this.writeOpts);
  }

  /** Bytes already encoded (the sender's PUBLISH batches): one write, in order with write(). */
  writeBytes(bytes: Buffer): boolean {
    if (!this.open) return false;
    this.lastSent = waitingNow();
    return this.socket.write(bytes);
  }

  /** Group many writes into one syscall. */
  batch(fn: () => void): void {
    this.socket.cork();
    try {
      fn();
    } finally {
      this.socket.uncork();
    }
  }

  /** Whether the gateway itself ended this connection (keep-alive timeout, a store failure, a bad packet). */
  get closedLocally(): boolean {
    return this.closedByUs;
  }

  /** `by: 'broker'` when the broker asked for it (MQTT 5 DISCONNECT): then it is not our close. */
  destroy(reason: string, by: 'us' | 'broker' = 'us'): void {
    if (this.open && by === 'us') this.closedByUs = true;
    this.noteClose(reason);
    this.socket.destroy();
  }

  /** DISCONNECT and close, waiting at most `ms` for the socket to flush. */
  async end(ms: number): Promise<void> {
    if (!this.open) return;
    this.write({ cmd: 'disconnect' });
    this.closedByUs = true;
    this.noteClose('client disconnected');
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.socket.end();
    });
    this.socket.destroy();
  }

  private noteClose(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const h of this.closeHandlers.splice(0)) h(reason);
    for (const h of this.drainHandlers.splice(0)) h();
  }
}
