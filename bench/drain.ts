/**
 * Backlog drain: N QoS 1 rows queued while the broker is down, then a real UpstreamClient drains
 * them to a real mosquitto; reference: MQTT.js publishing the same N from memory, same window.
 */
import mqtt from 'mqtt';
import { openStore } from '../gateway/store/open.js';
import type { OutboxMessage, Store } from '../contracts/store.js';
import { UpstreamClient } from '../gateway/upstream/client.js';
import { upstreamConfigSchema } from '../gateway/upstream/config.js';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { tmpDir } from '../test/harness/tmp.js';
import { CountingSubscriber } from './procs.js';
import { fmt, type Phase, QUICK, silent, startPhase, table } from './util.js';

const DEVICES = 8;
const payload = (i: number) => Buffer.from(`${i}:`.padEnd(64, 'x'));

async function fill(store: Store, n: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < n; i += 5000) {
    const batch: OutboxMessage[] = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      const d = j % DEVICES;
      batch.push({
        source: 'bench',
        device: `d${d}`,
        topic: `bench/gw/d${d}`,
        payload: payload(j),
        qos: 1,
        retain: false,
        receivedAt: now,
      });
    }
    await store.outbox.enqueue(batch);
  }
}

async function gateway(
  broker: Mosquitto,
  store: Store,
  n: number,
  window: number,
): Promise<Phase & { left: number }> {
  const client = new UpstreamClient({
    config: upstreamConfigSchema.parse({
      url: broker.url,
      inflight: window,
      client_id: `bench-gw-${window}`,
    }),
    gatewayId: 'bench',
    outbox: store.outbox,
    state: store.state,
    logger: silent,
  });
  let delivered = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  client.events$.subscribe((e) => {
    if (e.type === 'delivered' && ++delivered === n) resolve();
  });
  const end = startPhase();
  await client.start();
  await done;
  const phase = end();
  await client.stop();
  return { ...phase, left: store.outbox.stats().rows };
}

async function direct(url: string, n: number, window: number): Promise<Phase> {
  const c = await mqtt.connectAsync(url, { clientId: `bench-direct-${window}`, reconnectPeriod: 0 });
  const msgs = Array.from({ length: n }, (_, i) => ({
    topic: `bench/direct/d${i % DEVICES}`,
    payload: payload(i),
  }));
  const end = startPhase();
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const m = msgs[next++]!;
      await c.publishAsync(m.topic, m.payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const phase = end();
  await c.endAsync();
  return phase;
}

export async function drainBench(): Promise<void> {
  const n = Number(process.env.BENCH_DRAIN_N ?? (QUICK ? 20_000 : 200_000));
  const windows = (process.env.BENCH_WINDOWS ?? '32,128').split(',').map(Number);
  const notes: string[] = [];
  const rows = [['case', 'msg/s', 'cpu s/100k', 'peak RSS MiB', 'at broker', 'outbox left', 'gw/direct']];
  for (const window of windows) {
    const store = openStore({
      dir: tmpDir('fieldgate-bench-drain-'),
      durability: 'power-loss',
      limits: { max_rows: 10_000_000, max_bytes: 1e10, max_age: 86400e3, overflow: 'drop-oldest' },
      logger: silent,
    });
    const tFill = performance.now();
    await fill(store, n); // the broker is not running yet
    const fillMs = performance.now() - tFill;
    const broker = await Mosquitto.start();
    const sub = await CountingSubscriber.start(broker.url, 'bench/#');
    try {
      const g = await gateway(broker, store, n, window);
      const gCount = await sub.waitFor(n);
      await sub.reset();
      const d = await direct(broker.url, n, window);
      const dCount = await sub.waitFor(n);
      const gRate = (n / g.ms) * 1000;
      const dRate = (n / d.ms) * 1000;
      rows.push(
        [
          `fieldgate w=${window}`,
          fmt(gRate),
          fmt((g.cpuS * 1e5) / n, 2),
          fmt(g.rssMiB),
          `${gCount}/${n}`,
          String(g.left),
          fmt(gRate / dRate, 2),
        ],
        [
          `MQTT.js   w=${window}`,
          fmt(dRate),
          fmt((d.cpuS * 1e5) / n, 2),
          fmt(d.rssMiB),
          `${dCount}/${n}`,
          '-',
          '',
        ],
      );
      notes.push(`w=${window}: ${fmt(n)} rows enqueued (broker down) in ${fmt(fillMs)} ms`);
    } finally {
      await sub.stop();
      await broker.stop();
      store.close();
    }
  }
  table(
    `Backlog drain: N=${fmt(n)} QoS 1, ${DEVICES} devices, 64 B payloads, durability power-loss (target gw/direct >= 0.8)`,
    rows,
  );
  for (const note of notes) console.log(`  ${note}`);
}
