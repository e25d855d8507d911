/**
 * One MQTT-SN load case (QoS 1, BENCH_SN_K devices, default 20) against an in-process gateway, for
 * profiling the gateway alone: `node --cpu-prof --import tsx bench/profile-sn.ts` (or --heap-prof).
 * Prints msg/s, gateway CPU per message and peak RSS of this process.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configChecks } from '../gateway/config/checks.js';
import { loadConfig } from '../gateway/config/load.js';
import { Gateway } from '../gateway/gateway.js';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { freeUdpPort } from '../test/harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../test/harness/tmp.js';
import { CountingSubscriber, runLoad } from './procs.js';
import { silent, startPhase } from './util.js';

const k = Number(process.env.BENCH_SN_K ?? 20);
const qos = Number(process.env.BENCH_SN_QOS ?? 1);
const ms = Number(process.env.BENCH_SN_MS ?? 5000);
const warm = Number(process.env.BENCH_SN_WARM_MS ?? 2000);
const durability = process.env.BENCH_SN_DURABILITY ?? 'power-loss';

const broker = await Mosquitto.start();
const sub = await CountingSubscriber.start(broker.url, 'bench/#');
try {
  const port = await freeUdpPort();
  const file = join(tmpDir('fieldgate-prof-sn-'), 'fieldgate.yaml');
  writeFileSync(
    file,
    `gateway: { id: bench-sn, state_dir: state, log_level: warn }
upstream: { url: ${broker.url}, inflight: 32 }
store: { durability: ${durability} }
mqttsn: { enabled: true, listen: 127.0.0.1:${port} }
http: { enabled: false }
`,
  );
  const gw = new Gateway({ config: loadConfig(file, {}, configChecks), logger: silent });
  await gw.start();
  const idle = process.memoryUsage().rss / 2 ** 20;
  let end = startPhase();
  const r = await runLoad(['sn', String(port), String(k), String(qos), String(ms), String(warm)], () => {
    end = startPhase();
  });
  const p = end();
  const at = await sub.waitFor(r.acked + r.warmAcked);
  await gw.stop();
  console.log(
    JSON.stringify({
      k,
      qos,
      durability,
      msgPerS: Math.round((r.acked / r.ms) * 1000),
      gwCpuUsPerMsg: +((p.cpuS * 1e6) / r.acked).toFixed(1),
      idleRssMiB: Math.round(idle),
      peakRssMiB: Math.round(p.rssMiB),
      atBroker: `${at}/${r.acked + r.warmAcked}`,
    }),
  );
} finally {
  await sub.stop();
  await broker.stop();
  cleanupTmpDirs();
}
// Exit explicitly: a lingering handle must not keep the profile from being written.
process.exit(0);
