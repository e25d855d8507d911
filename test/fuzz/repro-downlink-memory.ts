import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { GatewayProcess } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { rssKb } from './proc.js';

/**
 * Repro (found by the fuzz run, not fixed here: adapters/mqttsn/downlink.ts is not the fuzzer's):
 * `npx tsx test/fuzz/repro-downlink-memory.ts`. Four devices subscribe `x/#` and never answer; the
 * cloud publishes 200,000 empty QoS 0 messages. The in-memory downlink queue of each active device
 * is bounded by max_queued_bytes_per_client counted as payload + topic bytes only (3 bytes here),
 * not per message, nor across devices: the gateway's RSS climbs past 1 GB.
 */
const broker = await Mosquitto.start();
const port = await freeUdpPort();
const dir = tmpDir();
const file = join(dir, 'gw.yaml');
writeFileSync(
  file,
  `gateway: { id: fzgw, state_dir: ${dir}/state }
upstream: { url: "${broker.url}", reconnect: { min: 100ms, max: 500ms } }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}" }
http: { enabled: false }
`,
);
const gw = GatewayProcess.start(['run', '-c', file]);
await gw.waitForLog('fieldgate up');
const devs = Number(process.env.DEVS ?? 4);
const cs: SnClient[] = [];
for (let d = 0; d < devs; d++) {
  const c = await SnClient.open(port);
  await c.connect(`sink${d}`, { duration: 3600 });
  await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'x/#' });
  await c.expect('suback');
  cs.push(c);
}
await sleep(500);
const pub = await mqtt.connectAsync(broker.url);
console.log(`start RSS ${rssKb(gw.pid)} kB`);
for (let i = 1; i <= 200_000; i++) {
  pub.publish(`x/${i % 7}`, '', { qos: 0 });
  if (i % 20000 === 0) {
    await sleep(500);
    console.log(`${i} published, RSS ${rssKb(gw.pid)} kB`);
  }
}
await sleep(3000);
console.log(`end RSS ${rssKb(gw.pid)} kB`);
await pub.endAsync();
for (const c of cs) await c.close();
await gw.kill();
await broker.stop();
cleanupTmpDirs();
