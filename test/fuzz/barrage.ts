import { createSocket, type Socket } from 'node:dgram';
import { type Kind, randomDatagram } from './datagrams.js';
import { FuzzDevice } from './device.js';
import { namesRefusedTopic, Pools } from './fields.js';
import { Prng } from './prng.js';

export interface BarrageOptions {
  /** The gateway's MQTT-SN port on 127.0.0.1. */
  port: number;
  seed: number;
  count: number;
  /** Datagrams per second (paced in small batches). */
  rate: number;
  /** UDP sockets, each bound to its own ephemeral port on 127.0.0.1. */
  sockets: number;
  /** Leave out topics the broker refuses (exploration past the known uplink stall). */
  tame?: boolean;
  /** Called about every 100 ms; return false to stop early (the gateway died). */
  onTick?: (sent: number) => boolean;
}

export interface SentRecord {
  seq: number;
  srcPort: number;
  hex: string;
}

export interface BarrageResult {
  sent: number;
  bytes: number;
  sendErrors: number;
  replies: number;
  kinds: Record<Kind | 'sequence', number>;
  ms: number;
  stoppedEarly: boolean;
  /** The last datagrams sent, for a repro when the gateway died. */
  last: SentRecord[];
}

const RING = 64;

/**
 * Sends `count` datagrams at `rate` from `sockets` source ports: about a third from devices that
 * follow a sensible session (see device.ts), the rest random or mutated datagrams of every type.
 * The random stream is fixed by the seed; each device has its own PRNG seeded from it, so what a
 * device sends depends only on the seed and on the gateway's replies to it.
 */
export async function barrage(o: BarrageOptions): Promise<BarrageResult> {
  const rng = new Prng(o.seed);
  const pools = new Pools(new Prng(o.seed ^ 0x5eed), o.tame);
  const socks: Socket[] = [];
  const ports: number[] = [];
  const devices: FuzzDevice[] = [];
  const res: BarrageResult = {
    sent: 0,
    bytes: 0,
    sendErrors: 0,
    replies: 0,
    kinds: {
      sequence: 0,
      valid: 0,
      'long-form': 0,
      'length-lie': 0,
      mutated: 0,
      encapsulated: 0,
      'unused-type': 0,
      noise: 0,
    },
    ms: 0,
    stoppedEarly: false,
    last: [],
  };
  // Buffers, not hex: turning every datagram into hex would cost more than sending it.
  const ring: { seq: number; srcPort: number; buf: Buffer }[] = [];
  for (let i = 0; i < o.sockets; i++) {
    const dev = new FuzzDevice(new Prng((o.seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0), pools);
    const s = createSocket('udp4');
    s.on('message', (m) => {
      res.replies++;
      dev.onReply(m);
    });
    s.on('error', () => res.sendErrors++);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    socks.push(s);
    ports.push(s.address().port);
    devices.push(dev);
  }
  const onSent = (e: Error | null) => {
    if (e) res.sendErrors++;
  };
  const start = Date.now();
  let lastTick = start;
  try {
    while (res.sent < o.count) {
      const due = Math.min(o.count, Math.floor(((Date.now() - start) / 1000) * o.rate) + 1);
      while (res.sent < due) {
        const i = rng.int(socks.length);
        const { kind, buf } = rng.chance(0.35)
          ? { kind: 'sequence' as const, buf: devices[i]!.next() }
          : randomDatagram(rng, pools);
        if (o.tame && namesRefusedTopic(buf)) continue;
        res.kinds[kind]++;
        const sock = socks[i]!;
        sock.send(buf, o.port, '127.0.0.1', onSent);
        if (ring.length >= RING) ring.shift();
        ring.push({ seq: res.sent, srcPort: ports[i]!, buf });
        res.sent++;
        res.bytes += buf.length;
      }
      if (Date.now() - lastTick >= 100) {
        lastTick = Date.now();
        if (o.onTick && !o.onTick(res.sent)) {
          res.stoppedEarly = true;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // Let the last replies arrive (acks owed are simply not sent: the run is over).
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    res.ms = Date.now() - start;
    res.last = ring.map((d) => ({ seq: d.seq, srcPort: d.srcPort, hex: d.buf.toString('hex') }));
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  return res;
}
