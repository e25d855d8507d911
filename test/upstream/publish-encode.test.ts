import * as mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../contracts/store.js';
import { PublishEncoder, type RowProperties } from '../../gateway/upstream/publish-packet.js';

/** A deterministic pseudo-random source (the test must not depend on luck). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TOPICS = [
  'a',
  'site/1/temp',
  'fieldgate/dev-42/humidity',
  'capteur/température',
  '温度/センサー/1',
  'emoji/😀/x',
  `long/${'x'.repeat(300)}`,
  `long/${'é'.repeat(200)}`,
];

/** Remaining length of the first packet in `buf`. */
function remainingLength(buf: Buffer): number {
  let n = 0;
  for (let i = 1, mul = 1; ; i++, mul *= 128) {
    n += (buf[i]! & 0x7f) * mul;
    if (!(buf[i]! & 0x80)) return n;
  }
}

describe('PublishEncoder.encode (pure: the hot-path PUBLISH encoder)', () => {
  it('writes the same bytes as mqtt-packet.generate for every kind of row, aliases and batches included', () => {
    const r = rng(18);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const now = 1_800_000_000_123;
    const seen = new Set<number>();
    let packets = 0;
    let generic = 0;
    for (let conn = 0; conn < 120; conn++) {
      const protocol = pick([4, 5] as const);
      const maxAge = pick([0, 3_600_000, 86_400_000 * 400]);
      const aliasMax = pick([0, 1, 3, 1024]);
      // Two encoders in the same state: one hand-encodes, the other goes through mqtt-packet.
      const fast = new PublishEncoder(protocol, maxAge, aliasMax, () => now);
      const ref = new PublishEncoder(protocol, maxAge, aliasMax, () => now);
      const big = conn % 40 === 0;
      for (let batch = 0; batch < 12; batch++) {
        const items: { row: OutboxRow; packetId: number }[] = [];
        const dup = r() < 0.2;
        for (let k = Math.ceil(r() * 5); k > 0; k--) {
          const qos = pick([0, 1, 2] as const);
          const props: RowProperties = {};
          if (r() < 0.3) props.expiryMs = Math.floor(r() * 10_000_000);
          if (r() < 0.3) props.utf8 = r() < 0.5;
          if (r() < 0.08) props.user = { k: 'v', ü: '値' };
          if (r() < 0.04) props.contentType = 'application/json';
          if (r() < 0.03) props.responseTopic = 'reply/to';
          if (r() < 0.03) props.correlationData = Buffer.from('abc').toString('base64');
          if (r() < 0.02) props.user = {};
          const boundary = big ? pick([2_097_151, 2_097_152]) : pick([0, 127, 128, 16_383, 16_384]);
          const size = boundary === 0 ? Math.floor(r() * 300) : Math.max(0, boundary - Math.floor(r() * 340));
          const row: OutboxRow = {
            id: packets + 1,
            source: 'test',
            device: 'd',
            topic: pick(TOPICS),
            payload: Buffer.alloc(size, packets & 0xff),
            qos,
            retain: r() < 0.3,
            properties: Object.keys(props).length > 0 || r() < 0.5 ? { ...props } : undefined,
            receivedAt: now - Math.floor(r() * 7_200_000),
            state: 'queued',
            packetId: null,
          };
          items.push({ row, packetId: 1 + Math.floor(r() * 65_535) });
        }
        const expected = Buffer.concat(
          items.map(({ row, packetId }) => {
            const b = mqttPacket.generate(ref.packet(row, packetId, dup), { protocolVersion: protocol });
            seen.add(remainingLength(b));
            return b;
          }),
        );
        // Odd batches in the sender's form: parallel rows/ids arrays, encoded as two ranges.
        let got: Buffer;
        if (batch % 2 === 0) got = fast.encode(items, dup);
        else {
          const rows = items.map((x) => x.row);
          const ids = items.map((x) => x.packetId);
          const cut = Math.floor(r() * (items.length + 1));
          got = Buffer.concat([
            fast.encodeRows(rows, ids, 0, cut, dup),
            fast.encodeRows(rows, ids, cut, items.length, dup),
          ]);
        }
        expect(got.equals(expected), `connection ${conn} batch ${batch}`).toBe(true);
        packets += items.length;
        generic += items.filter(({ row }) => {
          const p = row.properties as RowProperties | undefined;
          return protocol === 5 && !!(p?.contentType || p?.responseTopic || p?.correlationData);
        }).length;
      }
    }
    expect(packets).toBeGreaterThan(1000);
    expect(generic).toBeGreaterThan(0); // rows with rare properties were mixed in (mqtt-packet path)
    // Remaining lengths on both sides of each boundary of its variable-length encoding were hit.
    const near = (lo: number, hi: number) => [...seen].some((n) => n >= lo && n <= hi);
    for (const b of [128, 16_384, 2_097_152]) {
      expect(near(b - 40, b - 1), `just under ${b}`).toBe(true);
      expect(near(b, b + 40), `at or just over ${b}`).toBe(true);
    }
  });

  it('sends a topic with its alias once, then the alias alone, per connection', () => {
    const now = 1_000_000;
    const row = (id: number, topic: string): OutboxRow => ({
      id,
      source: 's',
      device: 'd',
      topic,
      payload: Buffer.from('1'),
      qos: 1,
      retain: false,
      receivedAt: now,
      state: 'queued',
      packetId: null,
    });
    const enc = new PublishEncoder(5, 0, 1, () => now);
    const wire = enc.encode(
      [row(1, 'a/b'), row(2, 'a/b'), row(3, 'c')].map((r) => ({ row: r, packetId: r.id })),
      false,
    );
    const parsed: mqttPacket.IPublishPacket[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p) => parsed.push(p as mqttPacket.IPublishPacket));
    parser.parse(wire);
    expect(parsed.map((p) => [p.topic, p.properties?.topicAlias, p.messageId])).toEqual([
      ['a/b', 1, 1],
      ['', 1, 2],
      ['c', undefined, 3], // the broker's maximum (1) is used up
    ]);
  });
});
