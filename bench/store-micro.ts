/**
 * Store hot-path micro-bench: rounds of K single-message enqueues (one group commit) plus one
 * complete() of the previous round's ids (the sender's per-tick delete of acknowledged rows), as at
 * K devices with one QoS 1 message outstanding each. Prints process CPU time per row, which is
 * what counts on a shared box (wall time is mostly the WAL fdatasync).
 *   BENCH_STORE_K (20), BENCH_STORE_ROUNDS (5000), BENCH_STORE_DURABILITY (power-loss), BENCH_STORE_PAYLOAD (24)
 */
import { rmSync } from 'node:fs';
import { openStore } from '../gateway/store/open.js';
import type { OutboxMessage } from '../contracts/store.js';
import { tmpDir } from '../test/harness/tmp.js';
import { silent } from './util.js';

const K = Number(process.env.BENCH_STORE_K ?? 20);
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 5000);
const DURABILITY = (process.env.BENCH_STORE_DURABILITY ?? 'power-loss') as 'power-loss' | 'process-crash';
const PAYLOAD = Number(process.env.BENCH_STORE_PAYLOAD ?? 24);

async function main(): Promise<void> {
  const dir = tmpDir('fieldgate-bench-store-');
  const store = openStore({
    dir,
    durability: DURABILITY,
    limits: { max_rows: 1_000_000, max_bytes: 1e9, max_age: 86400e3, overflow: 'drop-oldest' },
    logger: silent,
  });
  const payload = Buffer.alloc(PAYLOAD, 7);
  const messages: OutboxMessage[] = Array.from({ length: K }, (_, d) => ({
    source: 'mqttsn',
    device: `dev${d}`,
    topic: `sensors/dev${d}/temp`,
    payload,
    qos: 1,
    retain: false,
    receivedAt: 0,
  }));
  let previous: number[] = [];
  const round = async (): Promise<void> => {
    const done = previous.length > 0 ? store.outbox.complete(previous) : undefined;
    const ids = await Promise.all(messages.map((m) => store.outbox.enqueue([m])));
    await done;
    previous = ids.map((r) => r[0]!);
  };
  for (let i = 0; i < Math.min(500, ROUNDS / 10); i++) await round(); // warm-up (JIT, page cache)
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await round();
  const c = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  const rows = ROUNDS * K;
  const stats = store.outbox.stats();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      K,
      rounds: ROUNDS,
      durability: DURABILITY,
      cpuUsPerRow: +(((c.user + c.system) / rows) * 1).toFixed(2),
      userUsPerRow: +(c.user / rows).toFixed(2),
      sysUsPerRow: +(c.system / rows).toFixed(2),
      rowsPerS: Math.round(rows / (ms / 1000)),
      left: stats.rows,
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }),
  );
}

await main();
