import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  flags,
  type Packet,
  shortIdToName,
  shortNameToId,
} from '../../adapters/mqttsn/codec/index.js';
import { packetArb } from './codec.arb.js';

const hex = (b: Buffer) => b.toString('hex');
const ok = (b: Buffer) => {
  const r = decode(b);
  if (!r.ok) throw new Error(`decode failed: ${r.reason} ${r.detail}`);
  return r.packet;
};

describe('mqttsn codec: bytes from the spec and notes', () => {
  it('PUBLISH: the payload is the datagram bytes after the header, flags a shared frozen object', () => {
    const p: Packet = {
      type: 'publish',
      flags: flags({ qos: 1, retain: true }),
      topicId: 5,
      msgId: 9,
      data: Buffer.from('21.5'),
    };
    const a = ok(encode(p));
    const b = ok(encode({ ...p, msgId: 10 }));
    expect(a).toEqual(p);
    if (a.type !== 'publish' || b.type !== 'publish') throw new Error('not a publish');
    expect(a.data.toString()).toBe('21.5');
    expect(a.flags).toBe(b.flags); // one object per flags byte, not one per packet
    expect(Object.isFrozen(a.flags)).toBe(true); // so no handler can change another packet's flags
    // Trailing bytes after the payload are part of it (the length field covers them), none beyond.
    const long = Buffer.concat([Buffer.from([0x01, 0x00, 0x0b]), encode(p).subarray(1)]);
    long.writeUInt16BE(long.length, 1);
    const l = ok(long);
    expect(l.type === 'publish' && l.data.toString()).toBe('21.5');
  });

  it('QoS -1 predefined PUBLISH has flags 0x61', () => {
    const p: Packet = {
      type: 'publish',
      flags: flags({ qos: -1, topicIdType: 1 }),
      topicId: 1,
      msgId: 0,
      data: Buffer.from('hi'),
    };
    expect(hex(encode(p))).toBe('090c610001000068' + '69');
    expect(ok(encode(p))).toEqual(p);
  });
  it('QoS 1 predefined 0x21, QoS 2 short 0x42, QoS -1 short 0x62', () => {
    const pub = (f: ReturnType<typeof flags>, id: number) =>
      encode({ type: 'publish', flags: f, topicId: id, msgId: 7, data: Buffer.alloc(0) });
    expect(hex(pub(flags({ qos: 1, topicIdType: 1 }), 5))).toBe('070c2100050007');
    expect(hex(pub(flags({ qos: 2, topicIdType: 2 }), shortNameToId('ab')!))).toBe('070c4261620007');
    expect(hex(pub(flags({ qos: -1, topicIdType: 2 }), shortNameToId('ab')!))).toBe('070c6261620007');
  });
  it('a 400-byte PUBLISH uses the long form 01 01 99 0C', () => {
    const p: Packet = {
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: 1,
      msgId: 2,
      data: Buffer.alloc(400, 0xab),
    };
    const b = encode(p);
    expect(b.length).toBe(409);
    expect(hex(b.subarray(0, 4))).toBe('0101990c');
    expect(ok(b)).toEqual(p);
  });
  it('switches to the long form exactly at 256 bytes', () => {
    const mk = (n: number) => encode({ type: 'willmsg', msg: Buffer.alloc(n) });
    expect(mk(253)[0]).toBe(255); // 1 + 1 + 253
    expect(hex(mk(254).subarray(0, 4))).toBe('01010209'); // 3 + 1 + 254 = 258 = 0x0102
  });
  it('accepts a non-canonical long form for a small packet', () => {
    expect(ok(Buffer.from('01000417', 'hex'))).toEqual({ type: 'pingresp' });
  });
  it('CONNECT, DISCONNECT with duration, PINGREQ with client id', () => {
    expect(
      hex(
        encode({
          type: 'connect',
          flags: flags({ cleanSession: true, will: true }),
          protocolId: 1,
          duration: 30,
          clientId: 'dev1',
        }),
      ),
    ).toBe(`0a040c01001e${Buffer.from('dev1').toString('hex')}`);
    expect(hex(encode({ type: 'disconnect', duration: 60 }))).toBe('0418003c');
    expect(hex(encode({ type: 'pingreq', clientId: 'a' }))).toBe('031661');
    expect(hex(encode({ type: 'willtopic', flags: null, topic: '' }))).toBe('0207');
  });
  it('forwarder encapsulation: length covers only the header', () => {
    const p: Packet = {
      type: 'encapsulated',
      radius: 1,
      nodeId: Buffer.from([0xaa, 0xbb]),
      packet: { type: 'pingresp' },
    };
    expect(hex(encode(p))).toBe('05fe01aabb' + '0217');
    expect(ok(encode(p))).toEqual(p);
  });
});

describe('mqttsn codec: malformed input', () => {
  const bad = (h: string) => decode(Buffer.from(h, 'hex'));
  it.each([
    ['', 'truncated'],
    ['02', 'truncated'],
    ['0516', 'truncated'], // length says 5, 2 bytes
    ['0317', 'truncated'],
    ['0300', 'truncated'], // ADVERTISE missing fields
    ['021700', 'malformed'], // trailing byte
    ['0019', 'malformed'], // zero length
    ['0203', 'unknown_type'],
    ['0101', 'truncated'],
    ['01000217', 'malformed'], // long length below header
    ['04fe01aa', 'truncated'], // encapsulation without inner packet
    ['03fe01' + '0217', 'malformed'], // empty node id
    ['04fe01aa04fe01aa0217', 'malformed'], // nested
    ['060c00000001', 'truncated'],
  ])('%s -> %s', (h, reason) => {
    const r = bad(h);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
  it('refuses invalid UTF-8 in a topic name', () => {
    const r = bad('0612000001ff'); // SUBSCRIBE by name
    expect(r.ok).toBe(false);
  });
  it('keeps a REGISTER whose name is not UTF-8, with the raw bytes, so it can be answered', () => {
    expect(ok(Buffer.from('070a00010002ff', 'hex'))).toEqual({
      type: 'register',
      topicId: 1,
      msgId: 2,
      topicName: '',
      rawName: Buffer.from([0xff]),
    });
  });
  it('reads a short topic id as UTF-8, never as Latin-1', () => {
    expect(shortNameToId('ab')).toBe(0x6162);
    expect(shortNameToId('\u00e9')).toBe(0xc3a9); // one 2-byte character
    expect(shortNameToId('\u00e9a')).toBeUndefined(); // 3 bytes
    expect(shortIdToName(0xc3a9)).toBe('\u00e9');
    expect(shortIdToName(0xff61)).toBeUndefined(); // not UTF-8: no topic, not "\u00ffa"
  });
  it('refuses oversize datagrams before parsing', () => {
    const r = decode(encode({ type: 'willmsg', msg: Buffer.alloc(2000) }), { maxSize: 1024 });
    expect(r).toMatchObject({ ok: false, reason: 'oversize' });
  });
});

describe('mqttsn codec: properties', () => {
  it('decode(encode(p)) = p for every packet type', () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        expect(ok(encode(p))).toEqual(p);
      }),
      { numRuns: 3000 },
    );
  });
  it('random bytes never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        const r = decode(Buffer.from(a));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 5000 },
    );
  });
  it('mutated valid packets never throw, and a success re-encodes to the same bytes or a canonical form', () => {
    const mutated = fc
      .tuple(
        packetArb,
        fc.array(fc.tuple(fc.nat(), u8()), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
      )
      .map(([p, edits, cut, doCut]) => {
        const b = Buffer.from(encode(p));
        for (const [i, v] of edits) if (b.length) b[i % b.length] = v;
        return doCut ? b.subarray(0, cut % (b.length + 1)) : b;
      });
    fc.assert(
      fc.property(mutated, (b) => {
        const r = decode(b);
        if (r.ok) expect(decode(encode(r.packet))).toEqual(r);
      }),
      { numRuns: 5000 },
    );
  });
});

function u8() {
  return fc.integer({ min: 0, max: 255 });
}
