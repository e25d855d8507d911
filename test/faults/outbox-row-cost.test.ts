import { createSocket, type Socket } from 'node:dgram';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, encode, flags, type Packet } from '../../adapters/mqttsn/codec/index.js';
import { stats } from '../../gateway/store/inspect.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

/** A registered topic of about 4 KB (predefined: no REGISTER needed, nothing else limits it). */
const LONG_TOPIC = `sensors/${'t'.repeat(4000)}`;
const MAX_BYTES = 256 * 1024;

/** One MQTT-SN device on a real UDP socket: CONNECT, then QoS 1 PUBLISHes of 1 byte, one at a time. */
class Device {
  private readonly sock: Socket = createSocket('udp4');
  private waiting: ((p: Packet) => void) | undefined;

  constructor(private readonly port: number) {
    this.sock.on('message', (b) => {
      const r = decode(b);
      if (r.ok) this.waiting?.(r.packet);
    });
  }

  private ask(p: Packet, type: Packet['type']): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within 10 s`)), 10_000);
      this.waiting = (q) => {
        if (q.type !== type) return;
        clearTimeout(timer);
        resolve(q);
      };
      this.sock.send(encode(p), this.port, '127.0.0.1');
    });
  }

  async connect(): Promise<void> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
    await this.ask(
      {
        type: 'connect',
        flags: flags({ cleanSession: true }),
        protocolId: 1,
        duration: 300,
        clientId: 'tiny',
      },
      'connack',
    );
  }

  /** Returns the PUBACK's return code (0 accepted, 1 congestion). */
  async publish(msgId: number): Promise<number> {
    const ack = await this.ask(
      {
        type: 'publish',
        flags: flags({ qos: 1, topicIdType: 1 }),
        topicId: 7,
        msgId,
        data: Buffer.from([msgId & 0xff]),
      },
      'puback',
    );
    return ack.type === 'puback' ? ack.returnCode : -1;
  }

  close(): void {
    this.sock.close();
  }
}

async function gatewayWith(overflow: 'drop-oldest' | 'reject-new') {
  const port = await freeUdpPort();
  const dead = await freePort(); // nothing listens: the broker is down the whole test
  const dir = tmpDir('fieldgate-row-cost-');
  const state = join(dir, 'state');
  const file = join(dir, 'gw.yaml');
  writeFileSync(
    file,
    `gateway: { id: gwc, state_dir: ${state} }
upstream: { url: "mqtt://127.0.0.1:${dead}", reconnect: { min: 1s, max: 5s } }
store: { max_bytes: ${MAX_BYTES}, overflow: ${overflow} }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}", predefined_topics: { 7: "${LONG_TOPIC}" } }
http: { enabled: false }
`,
  );
  const gw = GatewayProcess.start(['run', '-c', file]);
  await gw.waitForLog('fieldgate up', 20_000);
  return { gw, port, state };
}

describe('1-byte payloads on a 4 KB topic while the broker is down', () => {
  it('reject-new: devices get "congestion" once the rows cost max_bytes, and the file stays near it', async () => {
    const { gw, port, state } = await gatewayWith('reject-new');
    const device = new Device(port);
    await device.connect();
    const codes: number[] = [];
    for (let i = 1; i <= 150; i++) codes.push(await device.publish(i));
    device.close();
    const accepted = codes.filter((c) => c === 0).length;
    // ~4.1 KB a row: about 62 fit in 256 KiB. Counting payloads (1 byte each) would accept all 150.
    expect(accepted).toBeGreaterThan(40);
    expect(accepted).toBeLessThan(70);
    expect(codes.slice(accepted).every((c) => c === 1)).toBe(true); // 0x01: rejected, congestion
    const s = stats(state);
    // Plus the gateway's own availability message for the device.
    expect(s.outbox.rows - accepted).toBeGreaterThanOrEqual(0);
    expect(s.outbox.rows - accepted).toBeLessThanOrEqual(2);
    expect(s.outbox.bytes).toBeLessThanOrEqual(MAX_BYTES);
    await gw.kill();
  });

  it('drop-oldest: every reading is acknowledged, the oldest are dropped and counted, the file stays near max_bytes', async () => {
    const { gw, port, state } = await gatewayWith('drop-oldest');
    const device = new Device(port);
    await device.connect();
    for (let i = 1; i <= 300; i++) expect(await device.publish(i)).toBe(0);
    device.close();
    const s = stats(state);
    expect(s.outbox.rows).toBeLessThan(70);
    expect(s.outbox.bytes).toBeLessThanOrEqual(MAX_BYTES);
    // The first drop is logged at once (then at most every 10 s), with its reason.
    const line = await gw.waitForLog('outbox messages dropped');
    expect(JSON.stringify(line)).toContain('max_bytes');
    await gw.kill();
    // 300 rows of 4 KB would be 1.2 MB and more; the database and its WAL stay within a few times the bound.
    const file = statSync(join(state, 'fieldgate.db')).size;
    expect(file).toBeLessThan(4 * MAX_BYTES);
  });
});
