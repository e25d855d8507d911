/**
 * Bytes on the wire per message (for cellular users who pay per byte): a typical sensor
 * reading, QoS 1, through a byte-counting TCP relay between the real client and a real mosquitto,
 * with MQTT 3.1.1, MQTT 5 (Message Expiry Interval from store.max_age, as the gateway sends it)
 * and MQTT 5 with topic aliases. Both directions (PUBLISH up, PUBACK down), connection setup excluded; a subscriber is
 * connected (without one an MQTT 5 PUBACK carries reason 0x10, one byte more).
 */
import mqtt from 'mqtt';
import { createServer, connect, type Server } from 'node:net';
import { openStore } from '../gateway/store/open.js';
import { UpstreamClient } from '../gateway/upstream/client.js';
import { upstreamConfigSchema } from '../gateway/upstream/config.js';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { tmpDir } from '../test/harness/tmp.js';
import { fmt, QUICK, silent, sleep, table } from './util.js';

const TOPIC = 'site/plant-3/line-2/boiler-17/temperature';
const payload = (i: number) => Buffer.from(`{"t":${(20 + (i % 50) / 10).toFixed(1)}}`);

/** A TCP relay that counts bytes each way. */
async function relay(target: number): Promise<{ server: Server; port: number; up: number; down: number }> {
  const r = { server: undefined as unknown as Server, port: 0, up: 0, down: 0 };
  r.server = createServer((c) => {
    const b = connect(target, '127.0.0.1');
    c.on('data', (d) => {
      r.up += d.length;
      b.write(d);
    });
    b.on('data', (d) => {
      r.down += d.length;
      c.write(d);
    });
    const close = () => {
      c.destroy();
      b.destroy();
    };
    for (const s of [c, b]) s.on('error', () => {}).on('close', close);
  });
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = (r.server.address() as { port: number }).port;
  return r;
}

async function measure(protocol: '3.1.1' | '5', aliases: boolean, n: number): Promise<[number, number]> {
  // mosquitto's max_topic_alias is the Topic Alias Maximum it announces (0: none).
  const broker = await Mosquitto.start({ extra: [`max_topic_alias ${aliases ? 10 : 0}`] });
  const r = await relay(broker.port);
  // A subscriber, as in production: without one an MQTT 5 PUBACK carries 0x10 "no matching subscribers".
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'bench-wire-sub' });
  await sub.subscribeAsync(TOPIC, { qos: 0 });
  const store = openStore({
    dir: tmpDir('fieldgate-bench-wire-'),
    durability: 'process-crash',
    limits: { max_rows: 1e6, max_bytes: 1e9, max_age: 7 * 86400e3, overflow: 'drop-oldest' },
    logger: silent,
  });
  const client = new UpstreamClient({
    config: upstreamConfigSchema.parse({ url: `mqtt://127.0.0.1:${r.port}`, protocol }),
    gatewayId: 'bench',
    outbox: store.outbox,
    state: store.state,
    logger: silent,
    maxAgeMs: 7 * 86400e3,
  });
  let delivered = 0;
  client.events$.subscribe((e) => {
    if (e.type === 'delivered-batch') delivered += e.rows.length;
  });
  await client.start();
  while (client.state$.value !== 'connected') await sleep(10);
  await sleep(200); // the retained status message and its ack
  const [up0, down0] = [r.up, r.down];
  const now = Date.now();
  await store.outbox.enqueue(
    Array.from({ length: n }, (_, i) => ({
      source: 'bench',
      device: 'boiler-17',
      topic: TOPIC,
      payload: payload(i),
      qos: 1 as const,
      retain: false,
      receivedAt: now,
    })),
  );
  while (delivered < n) await sleep(10);
  const result: [number, number] = [(r.up - up0) / n, (r.down - down0) / n];
  await client.stop();
  store.close();
  await new Promise<void>((res) => r.server.close(() => res()));
  await sub.endAsync();
  await broker.stop();
  return result;
}

export async function wireBytesBench(): Promise<void> {
  const n = QUICK ? 200 : 2000;
  const rows: string[][] = [['protocol', 'PUBLISH bytes', 'PUBACK bytes', 'total / message']];
  for (const [label, protocol, aliases] of [
    ['MQTT 3.1.1', '3.1.1', false],
    ['MQTT 5', '5', false],
    ['MQTT 5 + topic aliases', '5', true],
  ] as const) {
    const [up, down] = await measure(protocol, aliases, n);
    rows.push([label, fmt(up, 1), fmt(down, 1), fmt(up + down, 1)]);
  }
  table(
    `wire bytes per QoS 1 message, topic "${TOPIC}" (${TOPIC.length} B), payload ~10 B, ${n} messages`,
    rows,
  );
}
