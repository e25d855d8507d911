/**
 * Store hot-path micro-bench: rounds of K single-message enqueues (one group commit) plus one
 * complete() of the previous round's ids (the sender's per-tick delete of acknowledged rows), as at
 * K devices with one QoS 1 message outstanding each. Prints process CPU time per row, which is
 * what counts on a shared box (wall time is mostly the WAL fdatasync).
 *   BENCH_STORE_K (20), BENCH_STORE_ROUNDS (5000), BENCH_STORE_DURABILITY (power-loss), BENCH_STORE_PAYLOAD (24),
 *   BENCH_STORE_API (promise | then)
 * BENCH_STORE_MODE=drain: BENCH_STORE_N (200k) rows of 64 bytes queued in flushes of 5000, then read
 * in chunks of 256 and completed per chunk, as the sender drains a backlog: CPU per row and peak RSS.
 */
import { rmSync } from 'node:fs';
import { openStore } from '../gateway/store/open.js';
import type { OutboxMessage } from '../contracts/store.js';
import { tmpDir } from '../test/harness/tmp.js';
import { RssSampler, silent } from './util.js';

const K = Number(process.env.BENCH_STORE_K ?? 20);
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 5000);
const DURABILITY = (process.env.BENCH_STORE_DURABILITY ?? 'power-loss') as 'power-loss' | 'process-crash';
const PAYLOAD = Number(process.env.BENCH_STORE_PAYLOAD ?? 24);
/** 'then': enqueueThen (no promise per message), else enqueue. */
const API = process.env.BENCH_STORE_API ?? 'promise';

async function drain(): Promise<void> {
  const n = Number(process.env.BENCH_STORE_N ?? 200_000);
  const dir = tmpDir('fieldgate-bench-store-');
  const rss = new RssSampler();
  const idle = process.memoryUsage().rss;
  const store = openStore({
    dir,
    durability: DURABILITY,
    limits: { max_rows: 10_000_000, max_bytes: 1e10, max_age: 86400e3, overflow: 'drop-oldest' },
    logger: silent,
  });
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i += 5000) {
    const batch: OutboxMessage[] = [];
    for (let j = i; j < Math.min(n, i + 5000); j++)
      batch.push({
        source: 'bench',
        device: `d${j % 8}`,
        topic: `bench/gw/d${j % 8}`,
        payload: Buffer.from(`${j}:`.padEnd(64, 'x')),
        qos: 1,
        retain: false,
        receivedAt: 0,
      });
    await store.outbox.enqueue(batch);
  }
  const c1 = process.cpuUsage(c0);
  let after = 0;
  let done = 0;
  for (;;) {
    const rows = store.outbox.nextQueued(after, 256);
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    await store.outbox.complete(rows.map((r) => r.id));
    done += rows.length;
  }
  const c2 = process.cpuUsage(c0);
  store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      mode: 'drain',
      n,
      drained: done,
      fillUsPerRow: +((c1.user + c1.system) / n).toFixed(2),
      drainUsPerRow: +((c2.user + c2.system - c1.user - c1.system) / n).toFixed(2),
      idleRssMiB: Math.round(idle / 2 ** 20),
      peakRssMiB: Math.round(rss.peak()),
    }),
  );
}

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
    const ids =
      API === 'then'
        ? await new Promise<number[][]>((resolve, reject) => {
            const got: number[][] = [];
            for (const m of messages)
              store.outbox.enqueueThen([m], undefined, (err, r) => {
                if (!r) reject(err);
                else if (got.push(r) === K) resolve(got);
              });
          })
        : await Promise.all(messages.map((m) => store.outbox.enqueue([m])));
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
      api: API,
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

await (process.env.BENCH_STORE_MODE === 'drain' ? drain() : main());
