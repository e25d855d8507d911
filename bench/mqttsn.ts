/**
 * MQTT-SN load: K devices on real UDP sockets (in a child process), one QoS 1/2 PUBLISH outstanding
 * each, through the gateway process of the rig (bench/rig.ts) to a real mosquitto. Reference: K
 * MQTT.js clients publishing straight to the broker, one message outstanding each. The gateway's CPU
 * is read from /proc/<pid>/stat over the measured window, its RSS from /proc/<pid>/status.
 */
import type { LoadResult } from './child.js';
import { runLoad } from './procs.js';
import { DURABILITY, type Rig } from './rig.js';
import { results } from './targets.js';
import { fmt, machineCpu, percentile, progress, QUICK, table } from './util.js';

function rowFor(
  label: string,
  r: LoadResult,
  cpuS: number,
  boxS: number,
  rss: { rss: number; hwm: number } | undefined,
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
    fmt(rss?.rss ?? Number.NaN),
    fmt(rss?.hwm ?? Number.NaN),
    atBroker,
  ];
}

/**
 * Ack latency at a fixed rate that leaves the machine room (BENCH_SN_RATE msg/s from 20 devices): the
 * closed-loop cases above measure saturation, where latency is K / throughput by construction.
 */
async function pacedLatency({ broker, sub, gw }: Rig, ms: number, warm: number): Promise<void> {
  const rate = Number(process.env.BENCH_SN_RATE ?? 1000);
  const k = 20;
  const rows = [['case', 'msg/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'at broker']];
  const row = (label: string, r: LoadResult, count: number) => [
    label,
    fmt((r.acked / r.ms) * 1000),
    ...[50, 90, 99, 100].map((p) => fmt(percentile(r.lat, p), 2)),
    `${count}/${r.acked + r.warmAcked}`,
  ];
  const load = (qos: number) => [String(k), String(qos), String(ms), String(warm), String(rate)];
  for (const qos of [1, 2] as const) {
    await sub.reset();
    progress(`sn paced qos${qos}: gateway`);
    const g = await runLoad(['sn', String(gw.port), ...load(qos)]);
    const gCount = await sub.waitFor(g.acked + g.warmAcked);
    await sub.reset();
    progress(`sn paced qos${qos}: direct`);
    const d = await runLoad(['mqtt', broker.url, ...load(qos)]);
    const dCount = await sub.waitFor(d.acked + d.warmAcked);
    rows.push(row(`gateway QoS ${qos}`, g, gCount), row(`MQTT.js QoS ${qos}`, d, dCount));
  }
  table(
    `MQTT-SN ack latency at ${fmt(rate)} msg/s from ${k} devices (paced, ${DURABILITY}; gateway: send -> PUBACK/PUBREC, MQTT.js: publish -> PUBACK/PUBCOMP); target p99 < 2.5 ms`,
    rows,
  );
}

export async function mqttsnBench(rig: Rig): Promise<void> {
  const { broker, sub, gw } = rig;
  const ms = Number(process.env.BENCH_SN_MS ?? (QUICK ? 2000 : 5000));
  const warm = Number(process.env.BENCH_SN_WARM_MS ?? (QUICK ? 500 : 3000));
  const ks = (process.env.BENCH_SN_K ?? '20,200').split(',').map(Number);
  const qosList = (process.env.BENCH_SN_QOS ?? '1,2').split(',').map((q) => Number(q) as 1 | 2);
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
      'gw peak MiB',
      'at broker',
      'gw/direct',
    ],
  ];
  for (const qos of qosList) {
    for (const k of ks) {
      // The same gateway process for every case: its outbox is empty again once the subscriber
      // has counted every message of the case before.
      await sub.reset();
      progress(`sn qos${qos} k=${k}: gateway`);
      let cpu0 = gw.cpuS();
      let box = machineCpu();
      const g = await runLoad(
        ['sn', String(gw.port), String(k), String(qos), String(ms), String(warm)],
        () => {
          cpu0 = gw.cpuS();
          box = machineCpu();
        },
      );
      const gCpu = gw.cpuS() - cpu0;
      const gBox = box();
      const gRss = gw.rss();
      const gCount = await sub.waitFor(g.acked + g.warmAcked);
      await sub.reset();
      progress(`sn qos${qos} k=${k}: direct`);
      const d = await runLoad(['mqtt', broker.url, String(k), String(qos), String(ms), String(warm)], () => {
        box = machineCpu();
      });
      const dBox = box();
      const dCount = await sub.waitFor(d.acked + d.warmAcked);
      const ratio = g.acked / g.ms / (d.acked / d.ms);
      if (qos === 1) {
        results.cpuQos1.set(k, (gCpu * 1e6) / Math.max(1, g.acked));
        results.ratioQos1.set(k, ratio);
      }
      const err = (g.errors ? ` (${g.errors} refused)` : '') + (g.retries ? ` (${g.retries} resent)` : '');
      rows.push(
        [
          ...rowFor(
            `gateway QoS ${qos} K=${k}`,
            g,
            gCpu,
            gBox,
            gRss,
            `${gCount}/${g.acked + g.warmAcked}${err}`,
          ),
          ratio.toFixed(2),
        ],
        [
          ...rowFor(
            `MQTT.js QoS ${qos} K=${k}`,
            d,
            Number.NaN,
            dBox,
            undefined,
            `${dCount}/${d.acked + d.warmAcked}`,
          ),
          '',
        ],
      );
    }
  }
  if (Number(process.env.BENCH_SN_RATE ?? 1000) > 0) await pacedLatency(rig, ms, warm);
  table(
    `MQTT-SN load: ${ms / 1000} s per case after ${warm / 1000} s warm-up, one message outstanding per device, ${DURABILITY}; latency = send -> PUBACK (QoS 1) / PUBREC (QoS 2); targets gw/direct >= 0.75 (QoS 1), >= 0.70 (QoS 2), p99 < 2.5 ms`,
    rows,
  );
  console.log(
    '  gateway: its own process (bin/fieldgate.js run), CPU from /proc/<pid>/stat (10 ms ticks) over the measured window;',
  );
  console.log(
    '  gw RSS = its VmRSS at the end of the case, gw peak = its VmHWM so far (since its start). Load runs in a child process.',
  );
  console.log(
    '  direct latency is publish -> PUBACK/PUBCOMP (MQTT.js does not expose PUBREC); load cpu = the devices (or MQTT.js clients) process;',
  );
  console.log('  box cpu = every core of the machine, broker and subscriber included');
}
