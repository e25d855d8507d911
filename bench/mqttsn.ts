/**
 * MQTT-SN load: K devices on real UDP sockets (in a child process), one QoS 1/2 PUBLISH outstanding
 * each, through an in-process Gateway to a real mosquitto. Reference: K MQTT.js clients publishing
 * straight to the broker, one message outstanding each.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configChecks } from '../gateway/config/checks.js';
import { loadConfig } from '../gateway/config/load.js';
import { Gateway } from '../gateway/gateway.js';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { freeUdpPort } from '../test/harness/ports.js';
import { tmpDir } from '../test/harness/tmp.js';
import type { LoadResult } from './child.js';
import { CountingSubscriber, runLoad } from './procs.js';
import { fmt, machineCpu, percentile, progress, QUICK, silent, startPhase, table } from './util.js';

/** BENCH_SN_DURABILITY=process-crash shows what the per-commit fsync costs (the default is the product's). */
const DURABILITY = process.env.BENCH_SN_DURABILITY ?? 'power-loss';

async function startGateway(brokerUrl: string): Promise<{ gw: Gateway; port: number }> {
  const port = await freeUdpPort();
  const file = join(tmpDir('fieldgate-bench-sn-'), 'fieldgate.yaml');
  writeFileSync(
    file,
    `gateway: { id: bench-sn, state_dir: state, log_level: warn }
upstream: { url: ${brokerUrl}, inflight: 32 }
store: { durability: ${DURABILITY} }
mqttsn: { enabled: true, listen: 127.0.0.1:${port} }
http: { enabled: false }
`,
  );
  const gw = new Gateway({ config: loadConfig(file, {}, configChecks), logger: silent });
  await gw.start();
  return { gw, port };
}

function rowFor(
  label: string,
  r: LoadResult,
  cpuS: number,
  boxS: number,
  rssMiB: number,
  atBroker: string,
): string[] {
  const rate = (r.acked / r.ms) * 1000;
  const perMsg = (s: number) => fmt((s * 1e6) / Math.max(1, r.acked), 1);
  return [
    label,
    fmt(rate),
    fmt(percentile(r.lat, 50), 2),
    fmt(percentile(r.lat, 99), 2),
    perMsg(cpuS),
    perMsg(r.cpuS),
    perMsg(boxS),
    fmt(rssMiB),
    atBroker,
  ];
}

/**
 * Ack latency at a fixed rate that leaves the machine room (BENCH_SN_RATE msg/s from 20 devices): the
 * closed-loop cases above measure saturation, where latency is K / throughput by construction.
 */
async function pacedLatency(
  brokerUrl: string,
  sub: CountingSubscriber,
  ms: number,
  warm: number,
): Promise<void> {
  const rate = Number(process.env.BENCH_SN_RATE ?? 1000);
  const k = 20;
  const rows = [['case', 'msg/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'at broker']];
  const row = (label: string, r: LoadResult, count: number) => [
    label,
    fmt((r.acked / r.ms) * 1000),
    ...[50, 90, 99, 100].map((p) => fmt(percentile(r.lat, p), 2)),
    `${count}/${r.acked + r.warmAcked}`,
  ];
  for (const qos of [1, 2] as const) {
    const { gw, port } = await startGateway(brokerUrl);
    await sub.reset();
    progress(`sn paced qos${qos}: gateway`);
    const g = await runLoad([
      'sn',
      String(port),
      String(k),
      String(qos),
      String(ms),
      String(warm),
      String(rate),
    ]);
    const gCount = await sub.waitFor(g.acked + g.warmAcked);
    await gw.stop();
    await sub.reset();
    progress(`sn paced qos${qos}: direct`);
    const d = await runLoad([
      'mqtt',
      brokerUrl,
      String(k),
      String(qos),
      String(ms),
      String(warm),
      String(rate),
    ]);
    const dCount = await sub.waitFor(d.acked + d.warmAcked);
    rows.push(row(`gateway QoS ${qos}`, g, gCount), row(`MQTT.js QoS ${qos}`, d, dCount));
  }
  table(
    `MQTT-SN ack latency at ${fmt(rate)} msg/s from ${k} devices (paced, ${DURABILITY}; gateway: send -> PUBACK/PUBREC, MQTT.js: publish -> PUBACK/PUBCOMP); target p99 < 2.5 ms`,
    rows,
  );
}

export async function mqttsnBench(): Promise<void> {
  const ms = Number(process.env.BENCH_SN_MS ?? (QUICK ? 2000 : 5000));
  const warm = Number(process.env.BENCH_SN_WARM_MS ?? (QUICK ? 500 : 3000));
  const ks = (process.env.BENCH_SN_K ?? '20,200').split(',').map(Number);
  const rows = [
    [
      'case',
      'msg/s',
      'p50 ms',
      'p99 ms',
      'gw cpu us/msg',
      'load cpu us/msg',
      'box cpu us/msg',
      'gw RSS MiB',
      'at broker',
      'gw/direct',
    ],
  ];
  const broker = await Mosquitto.start();
  const sub = await CountingSubscriber.start(broker.url, 'bench/#');
  try {
    for (const qos of [1, 2] as const) {
      for (const k of ks) {
        // Gateway: a fresh state dir per case, so each starts with an empty outbox.
        const { gw, port } = await startGateway(broker.url);
        await sub.reset();
        progress(`sn qos${qos} k=${k}: gateway up`);
        let end = startPhase();
        let box = machineCpu();
        const g = await runLoad(
          ['sn', String(port), String(k), String(qos), String(ms), String(warm)],
          () => {
            end = startPhase();
            box = machineCpu();
          },
        );
        const gp = end();
        const gBox = box();
        const gCount = await sub.waitFor(g.acked + g.warmAcked);
        await gw.stop();
        await sub.reset();
        progress(`sn qos${qos} k=${k}: direct`);
        const d = await runLoad(
          ['mqtt', broker.url, String(k), String(qos), String(ms), String(warm)],
          () => {
            box = machineCpu();
          },
        );
        const dBox = box();
        const dCount = await sub.waitFor(d.acked + d.warmAcked);
        const ratio = (g.acked / g.ms / (d.acked / d.ms)).toFixed(2);
        const err = (g.errors ? ` (${g.errors} refused)` : '') + (g.retries ? ` (${g.retries} resent)` : '');
        rows.push(
          [
            ...rowFor(
              `gateway QoS ${qos} K=${k}`,
              g,
              gp.cpuS,
              gBox,
              gp.rssMiB,
              `${gCount}/${g.acked + g.warmAcked}${err}`,
            ),
            ratio,
          ],
          [
            ...rowFor(
              `MQTT.js QoS ${qos} K=${k}`,
              d,
              Number.NaN,
              dBox,
              Number.NaN,
              `${dCount}/${d.acked + d.warmAcked}`,
            ),
            '',
          ],
        );
      }
    }
    await pacedLatency(broker.url, sub, ms, warm);
  } finally {
    await sub.stop();
    await broker.stop();
  }
  table(
    `MQTT-SN load: ${ms / 1000} s per case after ${warm / 1000} s warm-up, one message outstanding per device, ${DURABILITY}; latency = send -> PUBACK (QoS 1) / PUBREC (QoS 2); targets gw/direct >= 0.75 (QoS 1), >= 0.70 (QoS 2), p99 < 2.5 ms`,
    rows,
  );
  console.log(
    '  direct latency is publish -> PUBACK/PUBCOMP (MQTT.js does not expose PUBREC); load runs in a child process',
  );
  console.log(
    '  load cpu = the devices (or MQTT.js clients) process; box cpu = every core of the machine, broker and subscriber included',
  );
}
