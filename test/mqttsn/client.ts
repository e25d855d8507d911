import { createSocket, type Socket } from 'node:dgram';
import {
  decode,
  encode,
  type Packet,
  type PacketOf,
  type PacketType,
} from '../../adapters/mqttsn/codec/index.js';

type Pred<T> = (p: T) => boolean;

/**
 * A simulated MQTT-SN device on a real UDP socket. Replies are buffered so a test can await one
 * specific packet (bounded by a timeout) without racing the gateway.
 */
export class SnClient {
  readonly inbox: Packet[] = [];
  /** Datagrams that did not decode, or were (not) encapsulated against expectation. */
  readonly unexpected: Buffer[] = [];
  private wake: (() => void) | undefined;

  private constructor(
    private readonly sock: Socket,
    private readonly gwPort: number,
    /** When set, every packet travels inside a forwarder encapsulation with this node id. */
    private readonly nodeId?: Buffer,
  ) {
    sock.on('message', (msg) => {
      const r = decode(msg);
      let p = r.ok ? r.packet : undefined;
      if (p && this.nodeId)
        p = p.type === 'encapsulated' && p.nodeId.equals(this.nodeId) ? p.packet : undefined;
      else if (p?.type === 'encapsulated') p = undefined;
      // Never throw from a socket handler: a test asserts `unexpected` is empty where it matters.
      if (!p) return void this.unexpected.push(msg);
      this.inbox.push(p);
      this.wake?.();
    });
  }

  /** `host`: the loopback address to send from (127.0.0.2 etc. act as another machine). */
  static async open(gwPort: number, nodeId?: Buffer, host = '127.0.0.1'): Promise<SnClient> {
    const sock = createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, host, res));
    return new SnClient(sock, gwPort, nodeId);
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(p: Packet): Promise<void> {
    const wrapped: Packet = this.nodeId
      ? { type: 'encapsulated', radius: 1, nodeId: this.nodeId, packet: p }
      : p;
    return this.sendRaw(encode(wrapped));
  }

  sendRaw(buf: Buffer): Promise<void> {
    return new Promise((res, rej) =>
      this.sock.send(buf, this.gwPort, '127.0.0.1', (e) => (e ? rej(e) : res())),
    );
  }

  /** The first buffered or arriving packet of this type (and matching `pred`), removed from the buffer. */
  async expect<T extends PacketType>(
    type: T,
    timeoutMs = 2000,
    pred: Pred<PacketOf<T>> = () => true,
  ): Promise<PacketOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((p) => p.type === type && pred(p as PacketOf<T>));
      if (i >= 0) return this.inbox.splice(i, 1)[0] as PacketOf<T>;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${type}; have ${this.inbox.map((p) => p.type)}`,
        );
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.wake = () => {
          clearTimeout(t);
          res();
        };
      });
    }
  }

  /** Resolves if no packet of this type arrives within `ms`; throws if one does. */
  async expectNone(type: PacketType, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const got = this.inbox.find((p) => p.type === type);
    if (got) throw new Error(`unexpected ${type}: ${JSON.stringify(got)}`);
  }

  async connect(
    clientId: string,
    opts: { duration?: number; cleanSession?: boolean } = {},
  ): Promise<PacketOf<'connack'>> {
    await this.send({
      type: 'connect',
      flags: {
        dup: false,
        qos: 0,
        retain: false,
        will: false,
        cleanSession: opts.cleanSession ?? true,
        topicIdType: 0,
      },
      protocolId: 1,
      duration: opts.duration ?? 60,
      clientId,
    });
    return this.expect('connack');
  }

  close(): Promise<void> {
    return new Promise((res) => this.sock.close(() => res()));
  }
}
