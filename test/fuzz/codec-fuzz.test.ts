import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../adapters/mqttsn/codec/index.js';
import { randomDatagram } from './datagrams.js';
import { FuzzDevice } from './device.js';
import { Pools } from './fields.js';
import { Prng, randomSeed } from './prng.js';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomSeed();

/** The same generators as the UDP fuzz, straight into the codec: fast, and pins a failure to the codec. */
describe('MQTT-SN codec under fuzzed datagrams', () => {
  it(`never throws; what it accepts re-encodes to a datagram that decodes to the same packet (seed ${seed})`, () => {
    const r = new Prng(seed);
    const pools = new Pools(new Prng(seed ^ 0x5eed));
    const dev = new FuzzDevice(new Prng(seed + 1), pools);
    const problems: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 100_000 && problems.length < 5; i++) {
      const buf = i % 3 === 0 ? dev.next() : randomDatagram(r, pools).buf;
      const hex = buf.toString('hex').slice(0, 200);
      let res: ReturnType<typeof decode>;
      try {
        res = decode(buf, { maxSize: 4096 });
      } catch (e) {
        problems.push(`decode threw ${String(e)} on ${hex}`);
        continue;
      }
      if (!res.ok) continue;
      accepted++;
      try {
        const again = decode(encode(res.packet));
        if (!again.ok || !isDeepStrictEqual(again.packet, res.packet))
          problems.push(`${res.packet.type} does not survive encode/decode: ${hex}`);
      } catch (e) {
        problems.push(`encode threw ${String(e)} for ${res.packet.type} from ${hex}`);
      }
    }
    expect(problems).toEqual([]);
    // The generators must reach past the framing checks often, or this proves little.
    expect(accepted).toBeGreaterThan(40_000);
  });

  it('the same seed gives the same datagrams (a failure replays from its seed)', () => {
    const stream = (sd: number) => {
      const r = new Prng(sd);
      const pools = new Pools(new Prng(sd ^ 0x5eed));
      const dev = new FuzzDevice(new Prng(sd + 1), pools);
      return Array.from({ length: 2000 }, (_, i) =>
        (i % 3 === 0 ? dev.next() : randomDatagram(r, pools).buf).toString('hex'),
      );
    };
    expect(stream(seed)).toEqual(stream(seed));
    expect(stream(seed)).not.toEqual(stream((seed + 1) >>> 0));
  });
});
