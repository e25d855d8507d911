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

  it("decodes plain PUBACK/PUBREC/PUBCOMP itself, with the parser's results, in stream order", () => {
    for (const version of [4, 5] as const) {
      const raw: Buffer[] = [];
      const rand = rng(version);
      for (let i = 0; i < 3000; i++) {
        const id = Math.floor(rand() * 65_536);
        const hi = id >> 8;
        const lo = id & 0xff;
        const type = [0x40, 0x50, 0x70][i % 3]!;
        const r = rand();
        if (r < 0.55) raw.push(Buffer.from([type, 2, hi, lo]));
        else if (r < 0.62)
          raw.push(Buffer.from([type, 3, hi, lo, 0])); // v5: reason 0 spelled out
        else if (r < 0.67)
          raw.push(Buffer.from([type, 4, hi, lo, 0, 0])); // and an empty property list
        else if (r < 0.72 && version === 5)
          raw.push(Buffer.from([type, 3, hi, lo, type === 0x70 ? 0x92 : 0x97])); // refused
        else if (r < 0.76 && version === 5)
          raw.push(Buffer.from([type, 4, hi, lo, type === 0x70 ? 0x92 : 0x10, 0])); // no subscribers
        else if (r < 0.8)
          raw.push(Buffer.from([0x62, 2, hi, lo])); // PUBREL: not ours to shortcut
        else if (r < 0.84)
          raw.push(Buffer.from([0xd0, 0])); // PINGRESP
        else if (r < 0.88)
          raw.push(Buffer.from(version === 5 ? [0x90, 4, hi, lo, 0, 1] : [0x90, 3, hi, lo, 1])); // SUBACK
        else if (r < 0.92)
          raw.push(
            mqttPacket.generate(
              {
                cmd: 'publish',
                topic: 'big',
                payload: Buffer.alloc(3000),
                qos: 1,
                messageId: id || 1,
                retain: false,
                dup: false,
              },
              { protocolVersion: version },
            ),
          );
        else
          raw.push(
            mqttPacket.generate(
              {
                cmd: 'publish',
                topic: 't/é',
                payload: Buffer.from('x'),
                qos: 0,
                retain: false,
                dup: false,
                ...(version === 5 ? { properties: {} } : {}),
              },
              { protocolVersion: version },
            ),
          );
      }
      const wire = Buffer.concat(raw);
      const describe = (p: Packet) => {
        const cmd = p.cmd;
        if (cmd === 'puback' || cmd === 'pubrec' || cmd === 'pubcomp')
          return `${cmd} ${p.messageId} ${p.reasonCode ?? 0}`;
        return describePacket(p).join(' ');
      };
      // Reference: every byte through mqtt-packet's parser (framer without the fast path).
      const expected: string[] = [];
      const refParser = mqttPacket.parser({ protocolVersion: version });
      refParser.on('packet', (p: Packet) => expected.push(describe(p)));
      refParser.on('error', (e) => {
        throw e;
      });
      const noFast = new PacketFramer(
        2000,
        (b) => refParser.parse(b),
        (o) => expected.push(`oversize ${o.bytes}`),
        (w) => {
          throw new Error(w);
        },
      );
      noFast.push(wire);
      for (const seed of [7, 8, 9]) {
        const rand2 = rng(seed);
        const got: string[] = [];
        let fast = 0;
        const parser = mqttPacket.parser({ protocolVersion: version });
        parser.on('packet', (p: Packet) => got.push(describe(p)));
        const framer = new PacketFramer(
          2000,
          (b) => parser.parse(b),
          (o) => got.push(`oversize ${o.bytes}`),
          (w) => {
            throw new Error(w);
          },
          (cmd, id, reason) => {
            fast++;
            got.push(`${cmd} ${id} ${reason}`);
          },
          version === 5,
        );
        for (let at = 0; at < wire.length; ) {
          const n = rand2() < 0.5 ? 1 + Math.floor(rand2() * 6) : 1 + Math.floor(rand2() * 600);
          framer.push(wire.subarray(at, at + n));
          at += n;
        }
        expect(got).toEqual(expected);
        expect(fast).toBeGreaterThan(500); // most acks took the fast path
        expect(got.length - fast).toBeGreaterThan(500); // and the rest still reached the parser
      }
    }
  });

  it('passes any reason code on (0x95 and off-spec values too), whole or split at every byte; a bad property length is malformed, naming the packet id', () => {
    const acks = [
      Buffer.from([0x40, 3, 0x01, 0x02, 0x95]), // mosquitto 2.0: PUBACK 0x95 packet too large
      Buffer.from([0x50, 3, 0x01, 0x03, 0x05]), // an off-spec code below 0x80
      Buffer.from([0x70, 4, 0x01, 0x04, 0x92, 0]), // PUBCOMP: packet identifier not found
      Buffer.from([0x40, 9, 0x01, 0x05, 0x87, 5, 0x1f, 0, 2, 0x68, 0x69]), // with a reason string
    ];
    const wire = Buffer.concat(acks);
    for (let cut = 0; cut <= wire.length; cut++) {
      const got: string[] = [];
      const framer = new PacketFramer(
        100,
        () => got.push('parser'),
        () => got.push('oversize'),
        (w) => got.push(`malformed ${w}`),
        (cmd, id, reason) => got.push(`${cmd} ${id} 0x${reason.toString(16)}`),
        true,
      );
      framer.push(wire.subarray(0, cut));
      framer.push(wire.subarray(cut));
      expect(got).toEqual(['puback 258 0x95', 'pubrec 259 0x5', 'pubcomp 260 0x92', 'puback 261 0x87']);
    }
    const bad: [string, number | undefined][] = [];
    const framer = new PacketFramer(
      100,
      () => {},
      () => {},
      (w, id) => bad.push([w, id]),
      () => bad.push(['ack', undefined]),
      true,
    );
    // Property length 9 with 1 byte of properties: a protocol error about packet id 7; nothing after it is read.
    framer.push(Buffer.from([0x40, 5, 0, 7, 0x95, 9, 0, 0x40, 2, 0, 8]));
    expect(bad).toEqual([['puback property length 9 does not match its 1 bytes', 7]]);
  });
});
