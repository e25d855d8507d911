import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { startGateway } from './start.js';

/** MQTT-SN devices on real UDP through the whole gateway to a real mosquitto. */
describe('MQTT-SN devices end to end', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let sub: Subscriber;
  let port: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    port = await freeUdpPort();
    sub = await Subscriber.connect(broker.url, ['sn/#', 'res/#'], { qos: 2 });
    ({ gateway } = await startGateway(`
gateway: { id: gw3, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
  predefined_topics: { 5: sn/predef }
  qos_minus_one: { enabled: true }
  open_subscriptions: true # devices subscribe without an acl here
rules:
  - match: sn/q2/#
    qos: 2
  - match: sn/#
    qos: 1
commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cmd
    ttl: 1s
    result_topic: res/{device}
    report_expired: true
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  async function connected(id: string, opts: { duration?: number } = {}): Promise<SnClient> {
    const c = await SnClient.open(port);
    expect((await c.connect(id, opts)).returnCode).toBe(0);
    return c;
  }

  async function register(c: SnClient, name: string, msgId: number): Promise<number> {
    await c.send({ type: 'register', topicId: 0, msgId, topicName: name });
    const ack = await c.expect('regack');
    expect(ack.returnCode).toBe(0);
    return ack.topicId;
  }

  it('QoS 2 from a device arrives exactly once at a QoS 2 subscriber, even when the device resends', async () => {
    const c = await connected('q2dev');
    const topicId = await register(c, 'sn/q2/x', 1);
    const publish = (dup: boolean) =>
      c.send({
        type: 'publish',
        flags: flags({ qos: 2, dup }),
        topicId,
        msgId: 9,
        data: Buffer.from('once'),
      });
    await publish(false);
    await c.expect('pubrec');
    await publish(true); // lost PUBREC from the device's view: it resends before PUBREL
    await c.expect('pubrec');
    await c.send({ type: 'pubrel', msgId: 9 });
    await c.expect('pubcomp');
    const [m] = await sub.waitForCount(1, 5000, 'sn/q2/x');
    expect(m?.qos).toBe(2);
    await sleep(300);
    expect(sub.messages.filter((x) => x.topic === 'sn/q2/x')).toHaveLength(1);
    await c.close();
  });

  it('a command for a sleeper that outlives its ttl is dropped, counted and reported as expired', async () => {
    const c = await connected('sleepy');
    await c.send({ type: 'disconnect', duration: 300 });
    await c.expect('disconnect');
    await publishTo(broker.url, 'cmd/gw3/sleepy', 'too late', { qos: 1 });
    const results = await sub.waitForCount(2, 8000, 'res/sleepy');
    const bodies = results.map((r) => JSON.parse(r.payload.toString()) as { outcome: string; id: string });
    expect(bodies.map((b) => b.outcome)).toEqual(['queued', 'expired']);
    expect(bodies[0]?.id).toBe(bodies[1]?.id);
    const metrics = await gateway.observability!.metrics.text();
    expect(metrics).toMatch(/fieldgate_commands_total\{target="mqttsn",outcome="expired"\} 1/);
    await c.send({ type: 'pingreq', clientId: 'sleepy' });
    await c.expect('pingresp'); // nothing left to deliver
    expect(c.inbox.filter((p) => p.type === 'publish')).toHaveLength(0);
    await c.close();
  });

  it('a 400-byte payload travels in the long length form', async () => {
    const c = await connected('bigdev');
    const topicId = await register(c, 'sn/big', 1);
    const data = Buffer.alloc(400, 0x61);
    await c.send({ type: 'publish', flags: flags({ qos: 1 }), topicId, msgId: 2, data });
    expect((await c.expect('puback')).returnCode).toBe(0);
    const [m] = await sub.waitForCount(1, 5000, 'sn/big');
    expect(m?.payload.equals(data)).toBe(true);
    await c.close();
  });

  it('QoS -1 without a connection, on a predefined id and on a short topic name', async () => {
    const c = await SnClient.open(port);
    await c.send({
      type: 'publish',
      flags: flags({ qos: -1, topicIdType: 1 }),
      topicId: 5,
      msgId: 0,
      data: Buffer.from('p'),
    });
    await c.send({
      type: 'publish',
      flags: flags({ qos: -1, topicIdType: 2 }),
      topicId: shortNameToId('sn')!,
      msgId: 0,
      data: Buffer.from('s'),
    });
    expect((await sub.waitForCount(1, 5000, 'sn/predef'))[0]?.payload.toString()).toBe('p');
    expect((await sub.waitForCount(1, 5000, 'sn'))[0]?.payload.toString()).toBe('s');
    await c.close();
  });

  it('a device that goes silent past 1.5 x its keep-alive has its will published upstream', async () => {
    const c = await SnClient.open(port);
    await c.send({
      type: 'connect',
      flags: flags({ will: true, cleanSession: true }),
      protocolId: 1,
      duration: 1,
      clientId: 'willdev',
    });
    await c.expect('willtopicreq');
    await c.send({ type: 'willtopic', flags: flags({ qos: 1, retain: false }), topic: 'sn/willdev/status' });
    await c.expect('willmsgreq');
    await c.send({ type: 'willmsg', msg: Buffer.from('lost') });
    expect((await c.expect('connack')).returnCode).toBe(0);
    const started = Date.now();
    const [m] = await sub.waitForCount(1, 5000, 'sn/willdev/status');
    expect(m?.payload.toString()).toBe('lost');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await c.close();
  });

  it('a device subscribed to an upstream topic receives what is published there (REGISTER first)', async () => {
    const c = await connected('subdev');
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 3, topic: 'down/+/led' });
    expect((await c.expect('suback')).returnCode).toBe(0);
    // The gateway subscribes upstream for the device; give the SUBSCRIBE a moment to reach the broker.
    await sleep(300);
    await publishTo(broker.url, 'down/kitchen/led', 'on', { qos: 1 });
    const reg = await c.expect('register', 5000);
    expect(reg.topicName).toBe('down/kitchen/led');
    await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const pub = await c.expect('publish');
    expect([pub.topicId, pub.data.toString()]).toEqual([reg.topicId, 'on']);
    await c.close();
  });
});

describe('outbox full, end to end', () => {
  afterAll(cleanupTmpDirs);

  it('reject-new answers a device with "congestion" and counts it; drop-oldest keeps the newest and counts the drop', async () => {
    for (const overflow of ['reject-new', 'drop-oldest'] as const) {
      const port = await freeUdpPort();
      // No broker at all: everything stays in the outbox, which holds 3 rows.
      const { gateway } = await startGateway(`
gateway: { id: full, state_dir: state }
upstream: { url: "mqtt://127.0.0.1:9", reconnect: { min: 5s, max: 10s } }
store: { max_rows: 3, overflow: ${overflow} }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}", predefined_topics: { 1: f/t } }
http: { enabled: false }
availability: { enabled: false } # its retained online would take one of the 3 rows
`);
      const c = await SnClient.open(port);
      try {
        await c.connect('fulldev');
        const codes: number[] = [];
        for (let i = 1; i <= 5; i++) {
          await c.send({
            type: 'publish',
            flags: flags({ qos: 1, topicIdType: 1 }),
            topicId: 1,
            msgId: i,
            data: Buffer.from(String(i)),
          });
          codes.push((await c.expect('puback')).returnCode);
        }
        const metrics = await gateway.observability!.metrics.text();
        if (overflow === 'reject-new') {
          expect(codes).toEqual([0, 0, 0, 1, 1]); // 1 = rejected: congestion
          // One refusal, one count: the store's, labelled with the reading's source.
          expect(metrics).toMatch(
            /fieldgate_messages_dropped_total\{source="mqttsn",reason="reject_new"\} 2/,
          );
          expect(metrics.match(/^fieldgate_messages_dropped_total\{.*$/gm)).toHaveLength(1);
        } else {
          expect(codes).toEqual([0, 0, 0, 0, 0]);
          await waitFor(
            async () => /reason="max_rows"\} 2/.test(await gateway.observability!.metrics.text()),
            'drops counted',
          );
        }
        expect(gateway.observability!.health().outbox.rows).toBe(3);
      } finally {
        await c.close();
        await gateway.stop();
      }
    }
  });
});
