/**
 * Bytes the store allocates per enqueued row: bench/store-micro's rounds (K
 * single-message enqueueThen calls, one group commit, complete() of the previous round) under V8's
 * sampling heap profiler, started after a warm-up and stopped after a fixed number of rows, so the
 * figure does not depend on the box's speed. Prints bytes/row in all and the top functions (self).
 *   BENCH_STORE_K (20), BENCH_STORE_ROUNDS (5000), BENCH_STORE_DURABILITY (power-loss),
 *   ALLOC_OUT (optional: where to write the .heapprofile, e.g. for Chrome DevTools' Memory tab)
 */
import { rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { OutboxMessage } from '../contracts/store.js';
import { openStore } from '../gateway/store/open.js';
import { tmpDir } from '../test/harness/tmp.js';
import { silent } from './util.js';

const K = Number(process.env.BENCH_STORE_K ?? 20);
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 5000);
const DURABILITY = (process.env.BENCH_STORE_DURABILITY ?? 'power-loss') as 'power-loss' | 'process-crash';

interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}

const dir = tmpDir('fieldgate-bench-store-alloc-');
const store = openStore({
  dir,
  durability: DURABILITY,
  limits: { max_rows: 1_000_000, max_bytes: 1e9, max_age: 86400e3, overflow: 'drop-oldest' },
  logger: silent,
});
const payload = Buffer.alloc(24, 7);
let previous: number[] = [];
const round = async (): Promise<void> => {
  const done = previous.length > 0 ? store.outbox.complete(previous) : undefined;
  // Fresh messages each round, as readings are; their own bytes are counted under this file.
  const ids = await new Promise<number[]>((resolve, reject) => {
    const got: number[] = [];
    for (let d = 0; d < K; d++) {
      const m: OutboxMessage = {
        source: 'mqttsn',
        device: 'dev',
        topic: 'sensors/dev/temp',
        payload,
        qos: 1,
        retain: false,
        receivedAt: 0,
      };
      store.outbox.enqueueThen([m], undefined, (err, r) => {
        if (!r) reject(err);
        else if (got.push(r[0]!) === K) resolve(got);
      });
    }
  });
  await done;
  previous = ids;
};
for (let i = 0; i < 500; i++) await round(); // warm-up (JIT)
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
for (let i = 0; i < ROUNDS; i++) await round();
const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
session.disconnect();
store.close();
rmSync(dir, { recursive: true, force: true });
if (process.env.ALLOC_OUT) writeFileSync(process.env.ALLOC_OUT, JSON.stringify(profile));

const self = new Map<string, number>();
let total = 0;
const walk = (n: ProfileNode): void => {
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(?=[^/]+\/[^/]+$)/, '')}`;
  total += n.selfSize;
  self.set(key, (self.get(key) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c);
};
walk(profile.head);
const rows = ROUNDS * K;
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 12);
console.log(
  JSON.stringify({ K, rounds: ROUNDS, durability: DURABILITY, bytesPerRow: Math.round(total / rows) }),
);
for (const [k, v] of top) console.log(`${String(Math.round(v / rows)).padStart(6)} B/row  ${k}`);
