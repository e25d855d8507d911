/**
 * Drain benchmark (not a test): N QoS 1 messages from a real outbox through UpstreamClient,
 * against MQTT.js publishing the same N with the same in-flight window, to a real mosquitto.
 * Run: npx tsx test/upstream/drain-bench.ts [N] [window]
 */
import mqtt from 'mqtt';
import { filter, firstValueFrom } from 'rxjs';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { makeClient, msg, openTestStore } from './helpers.js';

const N = Number(process.argv[2] ?? 20_000);
const WINDOW = Number(process.argv[3] ?? 32);

async function ours(url: string, durability: 'process-crash' | 'power-loss'): Promise<number> {
  const store = openTestStore(undefined, durability);
  for (let i = 0; i < N; i += 5000)
    await store.outbox.enqueue(Array.from({ length: Math.min(5000, N - i) }, (_, j) => msg('d', 'bench/x', `d:${i + j}`, 1)));
  const { client } = makeClient(store, { url, inflight: WINDOW });
  let delivered = 0;
  const done = firstValueFrom(client.events$.pipe(filter((e) => e.type === 'delivered' && ++delivered === N)));
  const t0 = performance.now();
  await client.start();
  await done;
  const ms = performance.now() - t0;
  await client.stop();
  store.close();
  return (N / ms) * 1000;
}

async function mqttjs(url: string): Promise<number> {
  const c = await mqtt.connectAsync(url, { clientId: 'bench-mqttjs', clean: false, reconnectPeriod: 0 });
  const t0 = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    let acked = 0;
    const one = () => {
      const i = next++;
      c.publish('bench/x', `d:${i}`, { qos: 1 }, () => {
        if (++acked === N) resolve();
        else if (next < N) one();
      });
    };
    for (let k = 0; k < WINDOW && next < N; k++) one();
  });
  const ms = performance.now() - t0;
  await c.endAsync();
  return (N / ms) * 1000;
}

const broker = await Mosquitto.start();
const a = await ours(broker.url, 'process-crash');
const p = await ours(broker.url, 'power-loss');
const b = await mqttjs(broker.url);
console.log(`N=${N} window=${WINDOW}: fieldgate UpstreamClient (SQLite outbox, process-crash) ${a.toFixed(0)} msg/s, (power-loss) ${p.toFixed(0)} msg/s; MQTT.js in-memory ${b.toFixed(0)} msg/s`);
await broker.stop();
cleanupTmpDirs();
