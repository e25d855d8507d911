import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode, type Packet } from '../../adapters/mqttsn/codec/index.js';
import { encodeGeneric } from '../../adapters/mqttsn/codec/encode.js';
import { packetArb } from './codec.arb.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
/** The acks a device gets per message (and per REGISTER), written by the fast path. */
const ackArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ topicId: u16, msgId: u16, returnCode: u8 }).map((r): Packet => ({ type: 'puback', ...r })),
  fc.record({ topicId: u16, msgId: u16, returnCode: u8 }).map((r): Packet => ({ type: 'regack', ...r })),
  u16.map((msgId): Packet => ({ type: 'pubrec', msgId })),
  u16.map((msgId): Packet => ({ type: 'pubcomp', msgId })),
  u16.map((msgId): Packet => ({ type: 'pubrel', msgId })),
);
const forwarded = fc
  .record({
    radius: fc.integer({ min: 0, max: 3 }),
    nodeId: fc.uint8Array({ maxLength: 300 }),
    packet: ackArb,
  })
  .map((r): Packet => ({ type: 'encapsulated', ...r, nodeId: Buffer.from(r.nodeId) }));

describe('mqttsn acks written straight into a buffer', () => {
  it('are byte for byte what the field-by-field encoder writes, plain and behind a forwarder', () => {
    fc.assert(
      fc.property(fc.oneof(ackArb, forwarded), (p) => {
        expect(encode(p).toString('hex')).toBe(encodeGeneric(p).toString('hex'));
      }),
      { numRuns: 2000 },
    );
  });

  it('leave every other packet to the generic encoder unchanged', () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        expect(encode(p).toString('hex')).toBe(encodeGeneric(p).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });

  it('PUBACK for topic 0x0102, msgId 0x0304, rc 1 is 07 0D 01 02 03 04 01; behind node 0xAB: 04 FE 01 AB + it', () => {
    const puback: Packet = { type: 'puback', topicId: 0x0102, msgId: 0x0304, returnCode: 1 };
    expect(encode(puback).toString('hex')).toBe('070d0102030401');
    const wrapped: Packet = { type: 'encapsulated', radius: 1, nodeId: Buffer.of(0xab), packet: puback };
    expect(encode(wrapped).toString('hex')).toBe('04fe01ab070d0102030401');
  });
});
