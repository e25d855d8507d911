import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { type Oversize, PacketFramer } from '../../gateway/upstream/framer.js';

/** A deterministic pseudo-random source (the test must not depend on luck). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const describePacket = (p: Packet) => {
  const pub = p.cmd === 'publish' ? p : undefined;
  return [p.cmd, pub?.topic ?? '', pub ? pub.payload.length : 0, p.messageId ?? 0];
};

describe('PacketFramer (pure: stream splitting)', () => {
  it('passes packets under the limit unchanged and skips larger ones, however the stream is chunked', () => {
    const max = 1000;
    const packets: Packet[] = [];
    for (let i = 0; i < 60; i++) {
      const size = [10, 900, 995, 996, 2000, 70_000, 300_000][i % 7]!;
      packets.push({
        cmd: 'publish',
        topic: `t/${i}`,
        payload: Buffer.alloc(size, i),
        qos: (i % 3) as 0 | 1 | 2,
        messageId: i % 3 ? 100 + i : undefined,
        retain: false,
        dup: false,
      } as Packet);
      if (i % 5 === 0) packets.push({ cmd: 'pingresp' });
      if (i % 11 === 0) packets.push({ cmd: 'puback', messageId: i + 1 });
    }
    const wire = Buffer.concat(packets.map((p) => mqttPacket.generate(p)));
    const expectedPassed = packets.filter((p) => mqttPacket.generate(p).length <= max);
    const expectedSkipped = packets.filter((p) => mqttPacket.generate(p).length > max);
    expect(expectedSkipped.length).toBeGreaterThan(10);

    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = rng(seed);
      const parsed: Packet[] = [];
      const skipped: Oversize[] = [];
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => parsed.push(p));
      let maxPassed = 0;
      const framer = new PacketFramer(
        max,
        (b) => {
          maxPassed = Math.max(maxPassed, b.length);
          parser.parse(b);
        },
        (o) => skipped.push(o),
        (why) => {
          throw new Error(why);
        },
      );
      for (let at = 0; at < wire.length; ) {
        // 1-byte chunks now and then (headers split across chunks), big ones otherwise
        const n = rand() < 0.3 ? 1 + Math.floor(rand() * 4) : 1 + Math.floor(rand() * 5000);
        framer.push(wire.subarray(at, at + n));
        at += n;
      }
      expect(maxPassed).toBeLessThanOrEqual(5000);
      expect(parsed.map(describePacket)).toEqual(expectedPassed.map(describePacket));
      expect(
        skipped.map((o) => [o.type, o.bytes, o.publish?.topic, o.publish?.qos, o.publish?.messageId]),
      ).toEqual(
        expectedSkipped.map((p) => {
          const pub = p as mqttPacket.IPublishPacket;
          return [3, mqttPacket.generate(p).length, pub.topic, pub.qos, pub.messageId];
        }),
      );
    }
  });

  it('reports a remaining length longer than four bytes as malformed', () => {
    const errors: string[] = [];
    const framer = new PacketFramer(
      1000,
      () => {},
      () => {},
      (w) => errors.push(w),
    );
    framer.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(errors).toEqual(['remaining length longer than 4 bytes']);
  });
});
