import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { stats } from '../../gateway/store/inspect.js';
import { openStore } from '../../gateway/store/open.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { type Received, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

const DEVICES = 4;

function writeConfig(dir: string, brokerUrl: string, extra: string, upstreamExtra = ''): string {
  const file = join(dir, 'gw.yaml');
  writeFileSync(
    file,
    `gateway: { id: killme, state_dir: state, stop_grace: 5s }
upstream: { url: "${brokerUrl}", keepalive: 5, reconnect: { min: 100ms, max: 300ms }${upstreamExtra} }
store: { durability: power-loss }
http: { enabled: false }
${extra}`,
  );
  return file;
}

/** Kill the gateway with SIGKILL `times` times at random points, restarting it each time; leave it running. */
async function killLoop(
  file: string,
  times: number,
  aliveMs: [number, number],
): Promise<{ gw: GatewayProcess; backlogs: number[] }> {
  const backlogs: number[] = [];
  for (let i = 0; i < times; i++) {
    const gw = GatewayProcess.start(['run', '-c', file]);
    backlogs.push(Number((await gw.waitForLog('fieldgate up', 20_000)).backlog));
    await sleep(aliveMs[0] + Math.random() * (aliveMs[1] - aliveMs[0]));
    await gw.kill();
  }
  const gw = GatewayProcess.start(['run', '-c', file]);
  backlogs.push(Number((await gw.waitForLog('fieldgate up', 20_000)).backlog));
  return { gw, backlogs };
}

/** Per device: payload sequence numbers in arrival order. */
function byDevice(messages: Received[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of messages) {
    const seqs = out.get(m.topic) ?? [];
    seqs.push(Number(m.payload.toString()));
    out.set(m.topic, seqs);
  }
  return out;
}

describe('SIGKILL the gateway process repeatedly mid-stream', () => {
  it('QoS 1 from MQTT-SN devices: no message the gateway acknowledged is lost, order per device kept', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    const sub = await Subscriber.connect(broker.url, 'k/#', { qos: 1, clientId: 'kill-sub-1', clean: false });
    const udpPort = await freeUdpPort();
    const topics = Object.fromEntries(Array.from({ length: DEVICES }, (_, i) => [i + 1, `k/d${i + 1}`]));
    const file = writeConfig(
      tmpDir(),
      broker.url,
      `mqttsn: { enabled: true, listen: "127.0.0.1:${udpPort}", predefined_topics: ${JSON.stringify(topics)} }`,
    );
    const acked = Array.from({ length: DEVICES }, () => [] as number[]);
    let stop = false;

    // Each device publishes seq 1, 2, 3... at QoS 1 and moves on only when PUBACK arrives;
    // without an answer it reconnects and resends (DUP), as a real device would.
    const device = async (d: number) => {
      const c = await SnClient.open(udpPort);
      let connected = false;
      let seq = 1;
      let retry = false;
      while (!stop) {
        try {
          if (!connected) {
            await c.send({
              type: 'connect',
              flags: flags({ cleanSession: true }),
              protocolId: 1,
              duration: 30,
              clientId: `dev${d}`,
            });
            await c.expect('connack', 300);
            connected = true;
          }
          await c.send({
            type: 'publish',
            flags: flags({ qos: 1, topicIdType: 1, dup: retry }),
            topicId: d + 1,
            msgId: seq,
            data: Buffer.from(String(seq)),
          });
          retry = true;
          const ack = await c.expect('puback', 400, (p) => p.msgId === seq);
          if (ack.returnCode === 0) {
            acked[d]!.push(seq);
            seq++;
            retry = false;
          }
        } catch {
          connected = false; // gateway gone: reconnect, then resend the same seq
          c.inbox.length = 0;
          await sleep(20);
        }
      }
      await c.close();
    };
    const devices = Array.from({ length: DEVICES }, (_, d) => device(d));

    const { gw } = await killLoop(file, 4, [600, 1200]);
    await sleep(1500);
    stop = true;
    await Promise.all(devices);

    const total = acked.reduce((n, a) => n + a.length, 0);
    expect(total).toBeGreaterThan(100); // the stream really flowed across the kills
    await waitFor(
      () => {
        const got = byDevice(sub.messages);
        return acked.every((a, d) => a.every((s) => got.get(`k/d${d + 1}`)?.includes(s)));
      },
      'every acknowledged message at the subscriber',
      20_000,
    );
    for (const [topic, seqs] of byDevice(sub.messages)) {
      const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
      expect(firsts, `order on ${topic}`).toEqual([...firsts].sort((a, b) => a - b));
    }
    gw.signal('SIGTERM');
    expect((await gw.exited()).code).toBe(0);
    await sub.close();
    await broker.stop();
  }, 120_000);

  it('QoS 2 backlog: none lost and none duplicated at a QoS 2 subscriber across kills', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    const sub = await Subscriber.connect(broker.url, 'q2/#', {
      qos: 2,
      clientId: 'kill-sub-2',
      clean: false,
    });
    const dir = tmpDir();
    // Slow the drain (max_rate) so the kills land in the middle of it.
    const file = writeConfig(dir, broker.url, '', ', max_rate: 1500, inflight: 16');
    const N = 3000;
    const store = openStore({
      dir: join(dir, 'state'),
      durability: 'power-loss',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
    await store.outbox.enqueue(
      Array.from({ length: N }, (_, i) => ({
        source: 'test',
        device: `d${i % DEVICES}`,
        topic: `q2/d${i % DEVICES}`,
        payload: Buffer.from(String(i)),
        qos: 2 as const,
        retain: false,
        receivedAt: Date.now(),
      })),
    );
    store.close();

    const { gw, backlogs } = await killLoop(file, 5, [300, 700]);
    // The kills really landed mid-drain: restarts found part of the backlog still queued.
    expect(backlogs.filter((b) => b > 0 && b < N).length).toBeGreaterThanOrEqual(2);
    await waitFor(() => stats(join(dir, 'state')).outbox.rows === 0, 'outbox drained', 30_000);
    await sub.waitForCount(N, 20_000);
    await sleep(300); // a duplicate would arrive right behind
    const seen = sub.messages.map((m) => Number(m.payload.toString()));
    expect(new Set(seen).size).toBe(N);
    expect(seen).toHaveLength(N);
    for (const [topic, seqs] of byDevice(sub.messages)) {
      expect(seqs, `order on ${topic}`).toEqual([...seqs].sort((a, b) => a - b));
    }
    gw.signal('SIGTERM');
    expect((await gw.exited()).code).toBe(0);
    await sub.close();
    await broker.stop();
  }, 120_000);
});

describe('MQTT-SN QoS 2 across a gateway crash', () => {
  it('a device resending a stored but unreleased QoS 2 message after SIGKILL gets PUBREC, not a second copy', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    const sub = await Subscriber.connect(broker.url, 'x/#', { qos: 2, clientId: 'kill-sub-3', clean: false });
    const udpPort = await freeUdpPort();
    const file = writeConfig(
      tmpDir(),
      broker.url,
      `mqttsn: { enabled: true, listen: "127.0.0.1:${udpPort}", predefined_topics: { 1: x/once } }
rules: [{ match: "x/#", qos: 2 }]`,
    );
    const dev = await SnClient.open(udpPort);
    const connect = async () => {
      await dev.send({
        type: 'connect',
        flags: flags({ cleanSession: false }),
        protocolId: 1,
        duration: 60,
        clientId: 'persist1',
      });
      expect((await dev.expect('connack', 2000)).returnCode).toBe(0);
    };
    const publish = (dup: boolean) =>
      dev.send({
        type: 'publish',
        flags: flags({ qos: 2, topicIdType: 1, dup }),
        topicId: 1,
        msgId: 77,
        data: Buffer.from('exactly-once'),
      });

    let gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    await connect();
    await publish(false);
    await dev.expect('pubrec', 2000); // stored: the gateway may now die before PUBREL
    await gw.kill();

    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    await connect();
    await publish(true); // the device never saw PUBCOMP: it resends
    await dev.expect('pubrec', 2000);
    await dev.send({ type: 'pubrel', msgId: 77 });
    await dev.expect('pubcomp', 2000);

    await sub.waitForCount(1, 10_000);
    await sleep(500);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(['exactly-once']);

    // Released: the same msg id is a new message now, not a resend.
    await dev.send({
      type: 'publish',
      flags: flags({ qos: 2, topicIdType: 1 }),
      topicId: 1,
      msgId: 77,
      data: Buffer.from('next'),
    });
    await dev.expect('pubrec', 2000);
    await dev.send({ type: 'pubrel', msgId: 77 });
    await dev.expect('pubcomp', 2000);
    await sub.waitForCount(2, 10_000);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(['exactly-once', 'next']);

    await dev.close();
    gw.signal('SIGTERM');
    expect((await gw.exited()).code).toBe(0);
    await sub.close();
    await broker.stop();
  }, 60_000);
});
