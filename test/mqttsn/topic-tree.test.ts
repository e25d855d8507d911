import { describe, expect, it } from 'vitest';
import { matches } from '../../adapters/mqttsn/topic-filter.js';
import { TopicTree } from '../../adapters/mqttsn/topic-tree.js';
import type { QoS } from '../../adapters/types.js';

/** Deterministic PRNG (mulberry32): the same cases on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TopicTree', () => {
  it('matches exactly what the filter rules match, at each subscriber max QoS', () => {
    const r = rng(13);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const level = () => pick(['a', 'b', 'c', '$s', '']);
    const topic = () => Array.from({ length: 1 + Math.floor(r() * 4) }, level).join('/');
    const filt = () => {
      const n = 1 + Math.floor(r() * 4);
      const ls = Array.from({ length: n }, () => (r() < 0.3 ? '+' : level()));
      if (r() < 0.3) ls.push('#');
      return ls.join('/');
    };
    const tree = new TopicTree<number>();
    const subs: [number, string, QoS][] = [];
    for (let i = 0; i < 400; i++) {
      const s: [number, string, QoS] = [i % 40, filt(), Math.floor(r() * 3) as QoS];
      subs.push(s);
      tree.add(s[1], s[0], s[2]);
    }
    // Later adds of the same (key, filter) replace the QoS, as a re-SUBSCRIBE does.
    const held = new Map<string, QoS>();
    for (const [k, f, q] of subs) held.set(`${k}\u0000${f}`, q);
    for (let i = 0; i < 1000; i++) {
      const t = topic();
      const want = new Map<number, QoS>();
      for (const [key, q] of held) {
        const [k, f] = key.split('\u0000') as [string, string];
        if (matches(f, t) && (want.get(Number(k)) ?? -1) < q) want.set(Number(k), q);
      }
      expect(new Map([...tree.match(t)].sort((x, y) => x[0] - y[0]))).toEqual(
        new Map([...want].sort((x, y) => x[0] - y[0])),
      );
    }
  });

  it('removes subscribers and prunes empty branches; filters() is the union at max QoS', () => {
    const tree = new TopicTree<string>();
    tree.add('a/+/c', 'x', 0);
    tree.add('a/+/c', 'y', 2);
    tree.add('a/#', 'x', 1);
    expect([...tree.filters()].sort()).toEqual([
      ['a/#', 1],
      ['a/+/c', 2],
    ]);
    expect(tree.match('a')).toEqual(new Map([['x', 1]])); // 'a/#' matches its parent level
    tree.remove('a/+/c', 'y');
    tree.remove('a/+/c', 'x');
    tree.remove('a/#', 'x');
    expect(tree.size).toBe(0);
    expect(tree.match('a/b/c').size).toBe(0);
    // Nothing is left of the branches: a fresh add works from the root again.
    tree.add('a/b', 'z', 0);
    expect(tree.match('a/b')).toEqual(new Map([['z', 0]]));
  });

  it('routes one message among 2,000 devices x 64 filters in well under a millisecond', () => {
    const tree = new TopicTree<number>();
    for (let d = 0; d < 2000; d++) for (let f = 0; f < 64; f++) tree.add(`dev/${d}/cmd/${f}/#`, d, 1);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) expect(tree.match(`dev/${i}/cmd/7/x`).size).toBe(1);
    // Generous for a shared 2-core machine: a linear scan of 128,000 filters costs milliseconds per message.
    expect((performance.now() - started) / 1000).toBeLessThan(1);
  });
});
