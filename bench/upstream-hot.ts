/**
 * Micro-bench of the upstream hot path alone, old way against new, alternated in one process (so a
 * busy machine weighs on both alike): CPU µs per message for
 *   publish: rows to PUBLISH bytes on a real loopback TCP socket (mqtt-packet writeToStream per
 *            packet, corked per batch) vs PublishEncoder.encode() + one write per batch;
 *   ack:     4-byte PUBACKs through PacketFramer + mqtt-packet's parser vs the framer's fast path.
 * `npx tsx bench/upstream-hot.ts`; env HOT_BATCH (rows per write, 8), HOT_N (messages per run,
 * 100000), HOT_ROUNDS (5), HOT_PROTOCOL (4 or 5).
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import type { OutboxRow } from '../contracts/store.js';
import { PacketFramer } from '../gateway/upstream/framer.js';
import { PublishEncoder } from '../gateway/upstream/publish-packet.js';

const batch = Number(process.env.HOT_BATCH ?? 8);
const n = Number(process.env.HOT_N ?? 100_000);
const rounds = Number(process.env.HOT_ROUNDS ?? 5);
const protocol = Number(process.env.HOT_PROTOCOL ?? 4) as 4 | 5;

const rows: OutboxRow[] = Array.from({ length: 20 }, (_, i) => ({
  id: i + 1,
  source: 'mqttsn',
  device: `dev-${i}`,
  topic: `bench/sn/dev-${i}/temp`,
  payload: Buffer.from(`{"v":${20 + i}.5,"ts":1800000000000}`),
  qos: 1,
  retain: false,
  receivedAt: Date.now(),
  state: 'queued',
  packetId: null,
}));

const sink = createServer((s) => s.resume());
sink.listen(0, '127.0.0.1');
await once(sink, 'listening');
const port = (sink.address() as { port: number }).port;
const socket = connect(port, '127.0.0.1');
socket.setNoDelay(true);
await once(socket, 'connect');

const tick = () => new Promise<void>((r) => setImmediate(r));

async function publishes(hand: boolean): Promise<number> {
  const enc = new PublishEncoder(protocol, protocol === 5 ? 3_600_000 : 0, protocol === 5 ? 64 : 0);
  const items = Array.from({ length: batch }, () => ({ row: rows[0]!, packetId: 0 }));
  const t0 = process.cpuUsage();
  for (let sent = 0, id = 1; sent < n; sent += batch) {
    for (let k = 0; k < batch; k++) {
      items[k]!.row = rows[(sent + k) % rows.length]!;
      items[k]!.packetId = id;
      id = id === 65535 ? 1 : id + 1;
    }
    if (hand) socket.write(enc.encode(items, false));
    else {
      socket.cork();
      for (const { row, packetId } of items)
        mqttPacket.writeToStream(enc.packet(row, packetId, false), socket as Socket, {
          protocolVersion: protocol,
        });
      socket.uncork();
    }
    if (socket.writableNeedDrain) await once(socket, 'drain');
    else await tick();
  }
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}

function acks(fast: boolean): number {
  // Acks arrive a few per read: `batch` per chunk.
  const chunk = Buffer.concat(
    Array.from({ length: batch }, (_, i) => Buffer.from([0x40, 2, (i * 7) >> 8, (i * 7) & 0xff])),
  );
  let seen = 0;
  const parser = mqttPacket.parser({ protocolVersion: protocol });
  parser.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'puback') seen++;
  });
  const framer = new PacketFramer(
    1 << 20,
    (b) => parser.parse(b),
    () => {},
    () => {},
    fast ? () => seen++ : undefined,
    protocol === 5,
  );
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i += batch) framer.push(chunk);
  const t = process.cpuUsage(t0);
  if (seen < n) throw new Error(`acks lost: ${seen}/${n}`);
  return (t.user + t.system) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r = { pubOld: [] as number[], pubNew: [] as number[], ackOld: [] as number[], ackNew: [] as number[] };
await publishes(false); // warm-up (JIT) both ways
await publishes(true);
acks(false);
acks(true);
for (let i = 0; i < rounds; i++) {
  r.pubOld.push(await publishes(false));
  r.pubNew.push(await publishes(true));
  r.ackOld.push(acks(false));
  r.ackNew.push(acks(true));
}
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(2)} µs (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
console.log(
  JSON.stringify({
    protocol,
    batch,
    n,
    rounds,
    publishMqttPacket: fmt(r.pubOld),
    publishHandEncoded: fmt(r.pubNew),
    ackParser: fmt(r.ackOld),
    ackFastPath: fmt(r.ackNew),
  }),
);
socket.destroy();
sink.close();
