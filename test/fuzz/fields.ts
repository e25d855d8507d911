import { decode, shortIdToName } from '../../adapters/mqttsn/codec/index.js';
import type { Prng } from './prng.js';

/** The gateway id the fuzz config uses: topics aimed at its command and status topics go in the pools. */
export const FUZZ_GATEWAY_ID = 'fzgw';
/** Predefined topic ids in the fuzz config (QoS -1 needs them). */
export const PREDEFINED: Record<number, string> = { 1: 'fz/p1', 2: 'fz/p2', 3: 'fz/p/three', 7: 'fz/p7' };
/** Client ids of the clean devices; the fuzzer never uses this prefix. */
export const LEGIT_PREFIX = 'legit-';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** Byte sequences that are not valid UTF-8 (stray continuation, overlong, surrogate, 0xFF, cut). */
const INVALID_UTF8 = ['80', 'c328', 'c0af', 'eda080', 'ff', 'e282', 'f4908080', 'fe'].map((h) =>
  Buffer.from(h, 'hex'),
);

/**
 * The values a run draws from, made once from the seed: a bounded pool of client ids (so the
 * fuzzer tests robustness, not max_clients — a table flood is another test's business), and
 * topic names from plain to hostile.
 */
export class Pools {
  readonly clientIds: Buffer[] = [];
  readonly topics: Buffer[] = [];
  readonly filters: Buffer[] = [];

  /**
   * Each draw takes the caller's PRNG, so every device's stream depends on its own seed only.
   * `tame` leaves out topic names and filters the broker refuses (see brokerRefuses): an
   * exploration mode that gets past the known uplink stall to whatever lies behind it.
   */
  constructor(
    r: Prng,
    private readonly tame = false,
  ) {
    for (let i = 0; i < 300; i++) this.clientIds.push(freshClientId(r, i));
    for (let i = 0; i < 200; i++) this.topics.push(this.tamed(r, freshTopic));
    for (let i = 0; i < 100; i++) this.filters.push(this.tamed(r, freshFilter));
  }

  private tamed(r: Prng, make: (r: Prng) => Buffer): Buffer {
    let b = make(r);
    while (this.tame && brokerRefuses(b)) b = make(r);
    return b;
  }

  /** A client id; now and then one never seen before (bounded in count by its rarity). */
  clientId(r: Prng): Buffer {
    return r.chance(0.002) ? freshClientId(r, r.u32()) : r.pick(this.clientIds);
  }

  topic(r: Prng): Buffer {
    return r.chance(0.05) ? this.tamed(r, freshTopic) : r.pick(this.topics);
  }

  filter(r: Prng): Buffer {
    return r.chance(0.05) ? this.tamed(r, freshFilter) : r.pick(this.filters);
  }
}

function freshClientId(r: Prng, i: number): Buffer {
  return r.weighted<() => Buffer>([
    [70, () => utf8(`fz-${i}`)],
    [3, () => Buffer.alloc(0)],
    [3, () => utf8('x'.repeat(r.range(24, 250)))],
    [3, () => Buffer.concat([utf8(`fz${i}`), Buffer.of(r.int(32))])],
    [3, () => Buffer.concat([utf8(`fz${i}`), r.pick(INVALID_UTF8)])],
    [3, () => utf8(r.pick(['#', '+', '/', 'a/b', '$SYS', ' ', '\u0000', 'dev\u2028', '\u{1f525}']))],
    [3, () => utf8(`fz-${i}/${'../'.repeat(r.range(1, 5))}`)],
    [5, () => r.bytes(r.range(1, 30))],
  ])();
}

function freshTopic(r: Prng): Buffer {
  const seg = () => r.pick(['a', 'b', 'temp', 'x1', 'fz', '', ' ', 'ü', '\u{1f525}', 'very-long-segment']);
  const gw = FUZZ_GATEWAY_ID;
  return r.weighted<() => Buffer>([
    [30, () => utf8(`fz/${seg()}/${seg()}`)],
    [10, () => utf8(`fz/${r.range(0, 99)}`)],
    [5, () => utf8(r.pick(['#', '+', 'fz/#', 'fz/+/x', 'a/#/b', '+/+', 'fz/a#', 'fz/+b']))],
    [5, () => utf8(r.pick(['$SYS/broker/x', '$share/g/fz', '/', '//', 'fz/', '/fz', '']))],
    [5, () => utf8(`cmd/${gw}/${r.pick(['fz-1', 'fz-2', `${LEGIT_PREFIX}0`, '+', '#'])}/x`)],
    [3, () => utf8(`fieldgate/${gw}/status`)],
    [5, () => Buffer.concat([utf8('fz/'), Buffer.of(r.int(32)), utf8('/c')])],
    [5, () => Buffer.concat([utf8('fz/'), r.pick(INVALID_UTF8)])],
    [4, () => utf8(`fz/${'h'.repeat(r.range(200, 4000))}`)],
    [2, () => utf8(`fz/${'a/'.repeat(r.range(50, 600))}`)],
    [4, () => utf8(r.pick(['fz/ab', 'ab', 'zz', 'fz/\u0000', 'fz/\uffff', 'fz/\u{10ffff}']))],
    [3, () => r.bytes(r.range(1, 40))],
  ])();
}

function freshFilter(r: Prng): Buffer {
  return r.weighted<() => Buffer>([
    [30, () => utf8(r.pick(['fz/#', 'fz/+', 'fz/+/temp', '#', '+/#', '+', 'down/+/led', 'fz/a']))],
    [10, () => utf8(`cmd/${FUZZ_GATEWAY_ID}/${r.pick(['#', '+', 'fz-1'])}`)],
    [10, () => utf8(r.pick(['$SYS/#', 'fieldgate/#', '$share/g/#', 'legit/#']))],
    [10, () => utf8(r.pick(['a/#/b', 'fz/a#', '##', '+a', '', '/', 'fz/\u0000']))],
    [10, () => freshTopic(r)],
    [5, () => utf8(`fz/${'+/'.repeat(r.range(10, 400))}#`)],
  ])();
}

/**
 * Valid UTF-8 that an MQTT broker still refuses in a topic (mosquitto closes the connection):
 * C0 and C1 control characters, DEL, the Unicode noncharacters (U+FDD0-FDEF, U+xFFFE/xFFFF), and
 * more than 200 topic levels (mosquitto's hierarchy limit: "protocol error").
 */
export function brokerRefuses(b: Buffer): boolean {
  let slashes = 0;
  for (const c of b) if (c === 0x2f) slashes++;
  if (slashes >= 200) return true;
  for (const ch of b.toString('utf8')) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) === 0xfffe)
      return true;
  }
  return false;
}

/**
 * Whether a datagram names a topic the broker refuses (for --tame): a topic name in REGISTER,
 * SUBSCRIBE or WILLTOPIC(UPD), or a short topic name (two bytes, taken as Latin-1) in PUBLISH or
 * SUBSCRIBE; a short name published to, also one with a wildcard. Datagrams that do not decode cannot reach the broker and pass.
 */
export function namesRefusedTopic(buf: Buffer): boolean {
  const res = decode(buf);
  if (!res.ok) return false;
  const p = res.packet.type === 'encapsulated' ? res.packet.packet : res.packet;
  // A short name to publish on must also be free of wildcards (the gateway already refuses
  // REGISTER and WILLTOPIC names with wildcards).
  const short = (id: number) => {
    const t = shortIdToName(id);
    if (t === undefined) return false; // not UTF-8: refused by the codec before it could reach the broker
    return /[+#]/.test(t) || brokerRefuses(Buffer.from(t));
  };
  switch (p.type) {
    case 'register':
      return brokerRefuses(Buffer.from(p.topicName));
    case 'willtopic':
    case 'willtopicupd':
      return brokerRefuses(Buffer.from(p.topic));
    case 'publish':
      return p.flags.topicIdType === 2 && short(p.topicId);
    case 'subscribe':
      return typeof p.topic === 'string'
        ? brokerRefuses(Buffer.from(p.topic))
        : p.flags.topicIdType === 2 && short(p.topic);
    default:
      return false;
  }
}

/** A 16-bit value biased to edges, small ids (what a gateway assigns first) and the predefined ids. */
export function u16(r: Prng): number {
  return r.weighted<() => number>([
    [20, () => r.range(1, 8)],
    [10, () => r.pick(Object.keys(PREDEFINED).map(Number))],
    [10, () => r.pick([0, 0xffff, 0xfffe, 0x7fff, 0x8000, 0x100])],
    [20, () => r.int(0x10000)],
  ])();
}

/** A keep-alive or sleep duration in seconds: zero, tiny, typical, huge. */
export function duration(r: Prng): number {
  return r.pick([0, 1, 2, 3, 10, 30, 60, 300, 3600, 0xffff, r.int(0x10000)]);
}

/**
 * A flags byte: half structured (every QoS incl. -1, every topic id type), half any bits at all.
 * Bits: 7 DUP, 6-5 QoS, 4 retain, 3 will, 2 clean session, 1-0 topic id type.
 */
export function flagsByte(r: Prng, over: { qos?: number; tid?: number; will?: boolean } = {}): number {
  if (r.chance(0.3) && over.qos === undefined && over.tid === undefined) return r.int(256);
  const qosBits = over.qos === undefined ? r.int(4) : over.qos === -1 ? 3 : over.qos;
  const tid =
    over.tid ??
    r.weighted([
      [4, 0],
      [3, 1],
      [3, 2],
      [1, 3],
    ] as const);
  const will = over.will ?? r.chance(0.2);
  return (
    (r.chance(0.1) ? 0x80 : 0) |
    (qosBits << 5) |
    (r.chance(0.2) ? 0x10 : 0) |
    (will ? 0x08 : 0) |
    (r.chance(0.5) ? 0x04 : 0) |
    tid
  );
}

/** Payload bytes: usually small, sometimes big enough for the long form or past max_packet_size. */
export function payload(r: Prng): Buffer {
  return r.weighted<() => Buffer>([
    [60, () => r.bytes(r.range(0, 16))],
    [25, () => r.bytes(r.range(17, 250))],
    [10, () => r.bytes(r.range(251, 1500))],
    [5, () => r.bytes(r.range(1500, 6000))],
  ])();
}
