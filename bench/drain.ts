/**
 * Backlog drain: with the broker down, N QoS 1 readings come in over MQTT-SN (each acked after its
 * commit) and wait in the gateway process's outbox; then the broker is started again and the gateway
 * drains them. The first window (BENCH_WINDOWS) runs in the rig's gateway, the one every MQTT-SN case
 * ran through, so its peak RSS covers the whole bench; each further window gets a gateway process of
 * its own. Reference: MQTT.js publishing the same N from memory, same window, in this process.
 */
import mqtt from 'mqtt';
import { BenchGateway } from './gateway-proc.js';
import { runLoad } from './procs.js';
import { DURABILITY, type Rig } from './rig.js';
import { results } from './targets.js';
import { fmt, type Phase, progress, QUICK, startPhase, table } from './util.js';

const DEVICES = 8;
const FILL_DEVICES = 100;
const payload = (i: number) => Buffer.from(`${i}:`.padEnd(64, 'x'));

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

interface GatewayDrain {
  fillMs: number;
  fillCpuS: number;
  /** VmHWM once the outbox holds all n (before the drain). */
  fillPeakMiB: number;
  ms: number;
  cpuS: number;
  count: number;
  peakMiB: number;
}

/** Broker down, fill over MQTT-SN, broker up again, wait until the subscriber counted all n. */
async function gatewayDrain(rig: Rig, n: number, window: number): Promise<GatewayDrain> {
  const { broker, sub } = rig;
  await sub.reset();
  await broker.stop();
  const own = window === rig.inflight;
  const gw = own
    ? rig.gw
    : await BenchGateway.start({
        brokerUrl: broker.url,
        inflight: window,
        durability: DURABILITY,
        id: `bench-w${window}`,
      });
  try {
    progress(`drain w=${window}: filling ${n}`);
    const c0 = gw.cpuS();
    const f = await runLoad(['snfill', String(gw.port), String(FILL_DEVICES), String(n)]);
    if (f.acked !== n || f.errors)
      throw new Error(`fill: ${f.acked}/${n} acked, ${f.errors} refused:\n${gw.tail()}`);
    const fillCpuS = gw.cpuS() - c0;
    const fillPeakMiB = gw.rss().hwm;
    progress(`drain w=${window}: draining`);
    // From the broker's restart: its start and the gateway's reconnect (reconnect.max 250 ms) count.
    const t0 = performance.now();
    const c1 = gw.cpuS();
    await broker.restart();
    const count = await sub.waitFor(n, 10_000);
    const r = {
      fillMs: f.ms,
      fillCpuS,
      fillPeakMiB,
      ms: performance.now() - t0,
      cpuS: gw.cpuS() - c1,
      count,
      peakMiB: gw.rss().hwm,
    };
    return r;
  } finally {
    if (!own) await gw.stop();
  }
}

export async function drainBench(rig: Rig): Promise<void> {
  const n = Number(process.env.BENCH_DRAIN_N ?? (QUICK ? 20_000 : 200_000));
  results.drainN = n;
  const windows = [rig.inflight, ...(process.env.BENCH_WINDOWS ?? '32,128').split(',').map(Number).slice(1)];
  const notes: string[] = [];
  const rows = [['case', 'msg/s', 'cpu s/100k', 'peak RSS MiB', 'at broker', 'gw/direct']];
  for (const window of windows) {
    const g = await gatewayDrain(rig, n, window);
    await rig.sub.reset();
    progress(`drain w=${window}: direct`);
    const d = await direct(rig.broker.url, n, window);
    const dCount = await rig.sub.waitFor(n);
    const gRate = (n / g.ms) * 1000;
    const dRate = (n / d.ms) * 1000;
    rows.push(
      [
        `fieldgate w=${window}${window === rig.inflight ? ' *' : ''}`,
        fmt(gRate),
        fmt((g.cpuS * 1e5) / n, 2),
        fmt(g.peakMiB),
        `${g.count}/${n}`,
        fmt(gRate / dRate, 2),
      ],
      [`MQTT.js   w=${window}`, fmt(dRate), fmt((d.cpuS * 1e5) / n, 2), fmt(d.rssMiB), `${dCount}/${n}`, ''],
    );
    notes.push(
      `w=${window}: ${fmt(n)} readings in over MQTT-SN from ${FILL_DEVICES} devices (broker down) at ${fmt((n / g.fillMs) * 1000)} msg/s, gateway CPU ${fmt((g.fillCpuS * 1e6) / n, 1)} µs each; gateway VmHWM ${fmt(g.fillPeakMiB)} MiB after the fill, ${fmt(g.peakMiB)} MiB after the drain`,
    );
  }
  table(
    `Backlog drain: N=${fmt(n)} QoS 1, 64 B payloads, durability ${DURABILITY}, gateway process (target gw/direct >= 0.8)`,
    rows,
  );
  console.log(
    `  * the gateway process every MQTT-SN case ran through (its peak is since its start); other windows: a fresh process each`,
  );
  console.log(
    '  gateway time from the broker restart (its start and the gateway reconnect, <= 250 ms, included) until the subscriber counted N;',
  );
  console.log('  MQTT.js: publishes N from memory, its CPU and RSS are the bench process (tsx included)');
  for (const note of notes) console.log(`  ${note}`);
}
