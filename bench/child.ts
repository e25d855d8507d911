/**
 * Bench helper process (forked with tsx): keeps load generation and the counting subscriber out of
 * the measured process, so its CPU and RSS figures are the gateway's (or the direct client's) alone.
 *   sub <url> <filter> [persistent]   count messages; answers {count} to 'count', resets on 'reset';
 *                               persistent: a session kept across a broker restart (clean: false, reconnects)
 *   snfill <port> <k> <n>       K MQTT-SN devices send n QoS 1 messages in all, then report
 *   sn <port> <k> <qos> <ms> <warm> [rate]    K MQTT-SN devices, one QoS 1/2 PUBLISH outstanding each
 *   mqtt <url> <k> <qos> <ms> <warm> [rate]   K MQTT.js clients, one publish outstanding each
 *   snwear <port> <k> <ms> <warm>  K MQTT-SN devices, each one QoS 1 reading of a few bytes a second,
 *                               at a random phase of its own (the wear case)
 * With a rate (msg/s, all devices together) each device sends on a fixed schedule instead of as soon
 * as its last message was acked: ack latency under a load that does not saturate the machine.
 * Both run the same load for <warm> ms first, unmeasured: JIT and caches warm on both sides (the
 * first seconds of a fresh process ran up to 40% slower), so the ratio compares steady states.
 */
import { createSocket, type Socket } from 'node:dgram';
import mqtt from 'mqtt';
import { decode, encode, flags, type Packet } from '../adapters/mqttsn/codec/index.js';

export interface LoadResult {
  acked: number;
  ms: number;
  /** Per-message latency (ms): device send -> PUBACK/PUBREC (SN) or publish -> completion (MQTT.js). */
  lat: number[];
  cpuS: number;
  errors: number;
  /** Datagrams resent after RETRY_MS without an answer. */
  retries: number;
  /** Messages acknowledged during the warm-up (they reach the broker too). */
  warmAcked: number;
}

const RETRY_MS = 1000;

/** Resolves once the message is handed to the IPC channel (exiting earlier would lose it). */
const send = (m: unknown) => new Promise<void>((r) => process.send?.(m, () => r()));
const payload = (i: number, k: number) => Buffer.from(`d${k}:${i}:`.padEnd(64, 'x'));
/** A sensor reading's size: a few bytes, as a temperature or a counter. */
const reading = (i: number) => Buffer.from(`t=${20 + (i % 10)}.5`);

async function sub(url: string, filter: string, persistent: boolean): Promise<void> {
  let count = 0;
  // Persistent: the broker (with persistence) keeps the subscription and queues what arrives while
  // this client reconnects after a restart, so no message depends on who reconnects first.
  const c = await mqtt.connectAsync(
    url,
    persistent
      ? { clientId: 'bench-sub-persistent', clean: false, reconnectPeriod: 100 }
      : { clientId: `bench-sub-${process.pid}`, reconnectPeriod: 0 },
  );
  c.on('error', () => {}); // refused reconnects while the broker is down
  c.on('message', () => void count++);
  await c.subscribeAsync(filter, { qos: 1 });
  process.on('message', (m) => {
    if (m === 'count') void send({ count });
    else if (m === 'reset') {
      count = 0;
      void send({ count });
    } else if (m === 'stop') void c.endAsync(true).then(() => process.exit(0));
  });
  await send({ ready: true });
}

/** One simulated device: CONNECT, REGISTER, then PUBLISH -> ack -> next PUBLISH until `until`. */
class Device {
  private readonly sock: Socket = createSocket('udp4');
  private handler: (p: Packet) => void = () => {};
  private topicId = 0;
  private msgId = 0;
  private sentAt = 0;
  /** Readings of a few bytes instead of the 64-byte load payload. */
  small = false;
  /** Resends the last packet (DUP) when no answer came: UDP may drop, real devices retry too. */
  private retry: NodeJS.Timeout | undefined;
  acked = 0;
  errors = 0;
  retries = 0;

  constructor(
    private readonly k: number,
    private readonly gwPort: number,
  ) {
    this.sock.on('message', (b) => {
      const r = decode(b);
      if (r.ok) this.handler(r.packet);
    });
  }

  private tx(p: Packet): void {
    const buf = encode(p);
    this.sock.send(buf, this.gwPort, '127.0.0.1');
    clearTimeout(this.retry);
    if (p.type === 'disconnect') return;
    const again = p.type === 'publish' ? encode({ ...p, flags: { ...p.flags, dup: true } }) : buf;
    const resend = () => {
      this.retries++;
      this.sock.send(again, this.gwPort, '127.0.0.1');
      this.retry = setTimeout(resend, RETRY_MS);
    };
    this.retry = setTimeout(resend, RETRY_MS);
  }

  private await_(type: Packet['type'], p: Packet): Promise<Packet> {
    return new Promise((res) => {
      this.handler = (q) => {
        if (q.type === type) res(q);
      };
      this.tx(p);
    });
  }

  async setup(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    const f = flags({ cleanSession: true });
    await this.await_('connack', {
      type: 'connect',
      flags: f,
      protocolId: 1,
      duration: 300,
      clientId: `bench-${this.k}`,
    });
    const ack = await this.await_('regack', {
      type: 'register',
      topicId: 0,
      msgId: 1,
      topicName: `bench/sn/d${this.k}`,
    });
    if (ack.type === 'regack') this.topicId = ack.topicId;
  }

  /**
   * `paceMs`: send every paceMs (from `due`) rather than at once after each ack. `budget`: messages
   * left to send across all devices sharing it (stop at 0).
   */
  run(
    qos: 1 | 2,
    until: number,
    lat: number[],
    paceMs = 0,
    due = performance.now(),
    budget = { left: Number.POSITIVE_INFINITY },
  ): Promise<void> {
    return new Promise((done) => {
      const next = () => {
        if (performance.now() >= until || budget.left-- <= 0) {
          clearTimeout(this.retry);
          return done();
        }
        const wait = due - performance.now();
        due += paceMs;
        if (paceMs > 0 && wait > 0) setTimeout(publish, wait);
        else publish();
      };
      const publish = () => {
        this.msgId = (this.msgId % 65535) + 1;
        this.sentAt = performance.now();
        const data = this.small ? reading(this.msgId) : payload(this.msgId, this.k);
        this.tx({ type: 'publish', flags: flags({ qos }), topicId: this.topicId, msgId: this.msgId, data });
      };
      this.handler = (p) => {
        if (p.type === 'puback' && p.msgId === this.msgId) {
          clearTimeout(this.retry); // answered: a paced device must not resend it while it waits
          if (p.returnCode !== 0) this.errors++;
          else {
            lat.push(performance.now() - this.sentAt);
            this.acked++;
          }
          next();
        } else if (p.type === 'pubrec' && p.msgId === this.msgId) {
          lat.push(performance.now() - this.sentAt);
          this.tx({ type: 'pubrel', msgId: this.msgId });
        } else if (p.type === 'pubcomp' && p.msgId === this.msgId) {
          clearTimeout(this.retry);
          this.acked++;
          next();
        }
      };
      next();
    });
  }

  resetCounts(): void {
    this.acked = 0;
    this.errors = 0;
    this.retries = 0;
  }

  /** DISCONNECT, sent before the socket closes (a client left online would skew the next case). */
  close(): Promise<void> {
    clearTimeout(this.retry);
    return new Promise((done) =>
      this.sock.send(encode({ type: 'disconnect' }), this.gwPort, '127.0.0.1', () => {
        this.sock.close();
        done();
      }),
    );
  }
}

/** Per-device send period for an aggregate rate, and device i's first send time (staggered). */
function pacing(k: number, rate: number): { pace: number; start: (i: number) => number } {
  if (rate <= 0) return { pace: 0, start: () => performance.now() };
  const pace = (k * 1000) / rate;
  const t0 = performance.now();
  return { pace, start: (i) => t0 + (i * pace) / k };
}

/** One load run, the same for the gateway's devices and the direct MQTT.js clients. */
interface Load {
  k: number;
  qos: 1 | 2;
  ms: number;
  warm: number;
  /** msg/s for all devices together; 0 = each sends as soon as its last message was acked. */
  rate: number;
}

async function sn(port: number, { k, qos, ms, warm, rate }: Load): Promise<void> {
  const devices = Array.from({ length: k }, (_, i) => new Device(i, port));
  for (const d of devices) await d.setup();
  let warmAcked = 0;
  if (warm > 0) {
    const until = performance.now() + warm;
    await Promise.all(devices.map((d) => d.run(qos, until, [])));
    warmAcked = devices.reduce((s, d) => s + d.acked, 0);
    for (const d of devices) d.resetCounts();
  }
  await send({ measuring: true });
  const lat: number[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { pace, start } = pacing(k, rate);
  await Promise.all(devices.map((d, i) => d.run(qos, t0 + ms, lat, pace, start(i))));
  const r = await finish(devices, lat, t0, c0, warmAcked);
  await send(r);
}

/** Closes the devices and sums up their run since t0 / c0 (CPU). */
async function finish(
  devices: Device[],
  lat: number[],
  t0: number,
  c0: NodeJS.CpuUsage,
  warmAcked: number,
): Promise<LoadResult> {
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await Promise.all(devices.map((d) => d.close()));
  return {
    acked: devices.reduce((s, d) => s + d.acked, 0),
    ms: elapsed,
    lat,
    cpuS: (c.user + c.system) / 1e6,
    errors: devices.reduce((s, d) => s + d.errors, 0),
    retries: devices.reduce((s, d) => s + d.retries, 0),
    warmAcked,
  };
}

/**
 * The wear case: K devices, each sending one QoS 1 reading of a few bytes every second from a random
 * phase of its own (devices report independently, not in lock-step), for warm + ms.
 */
async function snWear(port: number, k: number, ms: number, warm: number): Promise<void> {
  const devices = Array.from({ length: k }, (_, i) => new Device(i, port));
  for (const d of devices) {
    d.small = true;
    await d.setup();
  }
  const t0 = performance.now();
  const lat: number[] = [];
  let c0 = process.cpuUsage();
  let tm = t0;
  const runs = devices.map((d) => d.run(1, t0 + warm + ms, lat, 1000, t0 + Math.random() * 1000));
  // The warm-up's latencies and counts are left out: cleared when it ends.
  const marker = setTimeout(() => {
    tm = performance.now();
    c0 = process.cpuUsage();
    lat.length = 0;
    for (const d of devices) d.resetCounts();
    void send({ measuring: true });
  }, warm);
  await Promise.all(runs);
  clearTimeout(marker);
  await send(await finish(devices, lat, tm, c0, 0));
}

/** K devices send n QoS 1 messages in all, as fast as acked (filling the outbox while the broker is down). */
async function snFill(port: number, k: number, n: number): Promise<void> {
  const devices = Array.from({ length: k }, (_, i) => new Device(i, port));
  for (const d of devices) await d.setup();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const budget = { left: n };
  const lat: number[] = [];
  await Promise.all(devices.map((d) => d.run(1, Number.POSITIVE_INFINITY, lat, 0, t0, budget)));
  const r = await finish(devices, lat, t0, c0, 0);
  await send(r);
}

async function direct(url: string, { k, qos, ms, warm, rate }: Load): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: k }, (_, i) =>
      mqtt.connectAsync(url, { clientId: `bench-direct-${i}`, reconnectPeriod: 0 }),
    ),
  );
  let lat: number[] = [];
  let acked = 0;
  const load = (until: number, paced = false) => {
    const { pace, start } = pacing(k, paced ? rate : 0);
    return Promise.all(
      clients.map(async (c, k) => {
        let due = start(k);
        for (let i = 0; performance.now() < until; i++) {
          const wait = due - performance.now();
          due += pace;
          if (pace > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
          const s = performance.now();
          await c.publishAsync(`bench/direct/d${k}`, payload(i, k), { qos });
          lat.push(performance.now() - s);
          acked++;
        }
      }),
    );
  };
  if (warm > 0) await load(performance.now() + warm);
  const warmAcked = acked;
  await send({ measuring: true });
  lat = [];
  acked = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await load(t0 + ms, true);
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await Promise.all(clients.map((c) => c.endAsync()));
  const r: LoadResult = {
    acked,
    ms: elapsed,
    lat,
    cpuS: (c.user + c.system) / 1e6,
    errors: 0,
    retries: 0,
    warmAcked,
  };
  await send(r);
}

const [mode, a, b, c, d, e, f] = process.argv.slice(2);
const load: Load = {
  k: Number(b),
  qos: Number(c) as 1 | 2,
  ms: Number(d),
  warm: Number(e ?? 0),
  rate: Number(f ?? 0),
};
if (mode === 'sub') await sub(a!, b!, c === 'persistent');
else if (mode === 'snfill') await snFill(Number(a), Number(b), Number(c));
else if (mode === 'sn') await sn(Number(a), load);
else if (mode === 'snwear') await snWear(Number(a), Number(b), Number(c), Number(d));
else if (mode === 'mqtt') await direct(a!, load);
else throw new Error(`unknown mode ${mode}`);
if (mode !== 'sub') process.exit(0);
