import { decode, MsgType } from '../../adapters/mqttsn/codec/index.js';
import { body, encapsulate, frame, mutate } from './datagrams.js';
import { duration, flagsByte, type Pools, payload, u16 } from './fields.js';
import type { Prng } from './prng.js';

const b8 = (n: number) => Buffer.of(n & 0xff);
const b16 = (n: number) => Buffer.of((n >> 8) & 0xff, n & 0xff);

/**
 * A device that mostly makes sense: CONNECT (with the will exchange when it asked for one) →
 * REGISTER → PUBLISH (every QoS incl. -1, every topic id type) → SUBSCRIBE → acks for what the
 * gateway sent it → DISCONNECT(duration) → PINGREQ(clientId) …, then again with another client id.
 * It reads the gateway's replies so that its acks and topic ids are the real ones (this drives the
 * downlink, REGISTER-before-PUBLISH and sleeping-device paths). Steps are now and then mutated.
 */
export class FuzzDevice {
  private step = 0;
  private clientId: Buffer = Buffer.alloc(0);
  private will = false;
  private msgId = 1;
  /** Topic ids the gateway gave this device (REGACK, SUBACK, REGISTER). */
  private readonly topicIds: number[] = [];
  /** Acks owed to the gateway for what it sent (REGACK, PUBACK, PUBREC, PUBCOMP). */
  private readonly owed: Buffer[] = [];
  /** Whether this device talks through a forwarder (encapsulated, with this node id). */
  private readonly nodeId: Buffer | undefined;

  constructor(
    private readonly r: Prng,
    private readonly pools: Pools,
  ) {
    this.nodeId = r.chance(0.15) ? r.bytes(r.range(1, 4)) : undefined;
  }

  /** A reply from the gateway: remember topic ids and what to acknowledge. */
  onReply(buf: Buffer): void {
    const res = decode(buf);
    if (!res.ok) return;
    const p = res.packet.type === 'encapsulated' ? res.packet.packet : res.packet;
    switch (p.type) {
      case 'regack':
      case 'suback':
        if (p.topicId) this.remember(p.topicId);
        break;
      case 'register':
        this.remember(p.topicId);
        this.owe(Buffer.concat([b8(MsgType.REGACK), b16(p.topicId), b16(p.msgId), b8(0)]));
        break;
      case 'publish':
        if (p.flags.qos === 1)
          this.owe(Buffer.concat([b8(MsgType.PUBACK), b16(p.topicId), b16(p.msgId), b8(0)]));
        if (p.flags.qos === 2) this.owe(Buffer.concat([b8(MsgType.PUBREC), b16(p.msgId)]));
        break;
      case 'pubrel':
        this.owe(Buffer.concat([b8(MsgType.PUBCOMP), b16(p.msgId)]));
        break;
      case 'pubrec':
        this.owe(Buffer.concat([b8(MsgType.PUBREL), b16(p.msgId)]));
        break;
      default:
    }
  }

  /** The next datagram this device sends. */
  next(): Buffer {
    const msg = this.nextMessage();
    let buf = frame(msg, this.r.chance(0.05) ? 'long' : 'auto');
    if (this.r.chance(0.05))
      buf = mutate(this.r, buf, () => frame(body(this.r, this.pools, MsgType.PUBLISH)));
    return this.nodeId ? encapsulate(this.r, buf) : buf;
  }

  private nextMessage(): Buffer {
    const r = this.r;
    if (this.owed.length && r.chance(0.7)) return this.owed.shift()!;
    const s = this.step++;
    switch (s) {
      case 0:
        this.clientId = this.pools.clientId(r);
        this.will = r.chance(0.25);
        return Buffer.concat([
          b8(MsgType.CONNECT),
          b8(flagsByte(r, { qos: 0, tid: 0, will: this.will })),
          b8(1),
          b16(r.pick([0, 1, 5, 30, 60, 600, duration(r)])),
          this.clientId,
        ]);
      case 1:
        if (!this.will) return this.nextMessage();
        return Buffer.concat([b8(MsgType.WILLTOPIC), b8(flagsByte(r, { tid: 0 })), this.pools.topic(r)]);
      case 2:
        if (!this.will) return this.nextMessage();
        return Buffer.concat([b8(MsgType.WILLMSG), payload(r)]);
      case 3:
      case 4:
        return Buffer.concat([b8(MsgType.REGISTER), b16(0), b16(this.nextId()), this.pools.topic(r)]);
      case 5:
      case 6:
      case 7:
        return this.publish();
      case 8:
        return Buffer.concat([b8(MsgType.PUBREL), b16(this.msgId - 1)]);
      case 9: {
        const f = flagsByte(r, { qos: r.int(3) });
        const topic = (f & 3) === 0 ? this.pools.filter(r) : b16(u16(r));
        return Buffer.concat([b8(MsgType.SUBSCRIBE), b8(f), b16(this.nextId()), topic]);
      }
      case 10:
        return this.publish();
      case 11:
        return r.weighted<() => Buffer>([
          [
            3,
            () => Buffer.concat([b8(MsgType.UNSUBSCRIBE), b8(0), b16(this.nextId()), this.pools.filter(r)]),
          ],
          [
            2,
            () =>
              Buffer.concat([b8(MsgType.WILLTOPICUPD), b8(flagsByte(r, { tid: 0 })), this.pools.topic(r)]),
          ],
          [2, () => Buffer.concat([b8(MsgType.WILLMSGUPD), payload(r)])],
          [1, () => Buffer.concat([b8(MsgType.SEARCHGW), b8(r.int(4))])],
          [2, () => Buffer.of(MsgType.PINGREQ)],
        ])();
      case 12:
        // Go to sleep (or disconnect for good) …
        return r.chance(0.7)
          ? Buffer.concat([b8(MsgType.DISCONNECT), b16(r.pick([1, 2, 10, 60, 3600, duration(r)]))])
          : Buffer.of(MsgType.DISCONNECT);
      case 13:
        // … and wake up: the gateway delivers what it buffered, then PINGRESP.
        return Buffer.concat([b8(MsgType.PINGREQ), this.clientId]);
      default:
        this.step = r.chance(0.5) ? 0 : 3;
        return Buffer.concat([b8(MsgType.PINGREQ), ...(r.chance(0.5) ? [this.clientId] : [])]);
    }
  }

  private publish(): Buffer {
    const r = this.r;
    const kind = r.weighted([
      [5, 'registered'],
      [2, 'predefined'],
      [2, 'short'],
      [1, 'minus-one'],
    ] as const);
    let f: number;
    let topicId: number;
    if (kind === 'registered') {
      f = flagsByte(r, { qos: r.int(3), tid: 0 });
      topicId = this.topicIds.length && r.chance(0.8) ? r.pick(this.topicIds) : u16(r);
    } else if (kind === 'predefined') {
      f = flagsByte(r, { qos: r.pick([-1, 0, 1, 2]), tid: 1 });
      topicId = u16(r);
    } else if (kind === 'short') {
      f = flagsByte(r, { qos: r.pick([-1, 0, 1, 2]), tid: 2 });
      topicId = r.chance(0.5) ? 0x667a /* "fz" */ : r.int(0x10000);
    } else {
      f = flagsByte(r, { qos: -1, tid: r.pick([0, 1, 2, 3]) });
      topicId = u16(r);
    }
    const qos = (f >> 5) & 3;
    const msgId = qos === 1 || qos === 2 ? this.nextId() : r.chance(0.9) ? 0 : u16(r);
    return Buffer.concat([b8(MsgType.PUBLISH), b8(f), b16(topicId), b16(msgId), payload(r)]);
  }

  private nextId(): number {
    const id = this.msgId;
    this.msgId = (this.msgId % 0xffff) + 1;
    return id;
  }

  private remember(id: number): void {
    if (this.topicIds.length >= 16) this.topicIds.shift();
    this.topicIds.push(id);
  }

  private owe(msg: Buffer): void {
    if (this.owed.length < 32) this.owed.push(msg);
  }
}
