import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import type { LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';

const SHORT = 2; // topic id type: short topic name in the id field
const shortId = (a: number, b: number) => (a << 8) | b;

/**
 * Bad topics and the loop guard, through real UDP, the whole gateway and a real mosquitto:
 * a bad topic never reaches the outbox (so it cannot stall the uplink), the device is told, and a
 * device cannot publish onto the gateway's own command/status topics.
 */
describe('faults: MQTT-SN topics the broker would refuse, and the uplink->command loop', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let logs: LogLine[];
  let sub: Subscriber;
  let port: number;
  const clients: SnClient[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    port = await freeUdpPort();
    sub = await Subscriber.connect(broker.url, '#', { qos: 1 });
    ({ gateway, logs } = await startGateway(`
gateway: { id: gwf, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
  topic_prefix: ""
  qos_minus_one: { enabled: true }
  open_subscriptions: true # devices subscribe without an acl here
commands:
  - subscribe: cmd/{gateway}/+device/#
    to: mqttsn
    qos: 1
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await gateway?.stop();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  async function device(id: string): Promise<SnClient> {
    const c = await SnClient.open(port);
    clients.push(c);
    expect((await c.connect(id)).returnCode).toBe(0);
    return c;
  }

  async function register(c: SnClient, name: string | Buffer, msgId: number) {
    if (typeof name === 'string') await c.send({ type: 'register', topicId: 0, msgId, topicName: name });
    else await c.send({ type: 'register', topicId: 0, msgId, topicName: '', rawName: name });
    return c.expect('regack', 2000, (a) => a.msgId === msgId);
  }

  const publish = (
    c: SnClient,
    qos: -1 | 0 | 1 | 2,
    type: number,
    topicId: number,
    msgId: number,
    data: string,
  ) =>
    c.send({
      type: 'publish',
      flags: flags({ qos, topicIdType: type as 0 }),
      topicId,
      msgId,
      data: Buffer.from(data),
    });

  const metric = async (re: RegExp) => Number(re.exec(await gateway.observability!.metrics.text())?.[1] ?? 0);
  const reconnects = () => metric(/fieldgate_upstream_reconnects_total (\d+)/);
  const dropped = (reason: string) =>
    metric(new RegExp(`fieldgate_messages_dropped_total\\{source="mqttsn",reason="${reason}"\\} (\\d+)`));

  it('short topic ids and REGISTER names that are not valid topics are refused at the door; the uplink never stalls', async () => {
    const before = await reconnects();
    // QoS -1, no CONNECT: `#a`, `\x01a`, `a+`, U+0000, and two bytes that are not UTF-8.
    const anon = await SnClient.open(port);
    clients.push(anon);
    const bad = [
      shortId(0x23, 0x61),
      shortId(0x01, 0x61),
      shortId(0x61, 0x2b),
      shortId(0x00, 0x61),
      shortId(0xff, 0xfe),
    ];
    for (const id of bad) await publish(anon, -1, SHORT, id, 0, 'junk');

    const dev = await device('faulty');
    // REGISTER: control character, wildcard, noncharacter, bytes that are not UTF-8 -> "not supported", nothing registered.
    for (const [i, name] of ['bad\u0013/x', 'a/#', 'x\uFFFF', Buffer.from([0x61, 0xc3, 0x28])].entries()) {
      const ack = await register(dev, name, 10 + i);
      expect([ack.returnCode, ack.topicId], String(name)).toEqual([3, 0]);
    }
    // QoS 1 and 2 on a bad short id -> PUBACK "invalid topic id"; never a PUBREC.
    await publish(dev, 1, SHORT, shortId(0x23, 0x61), 21, 'junk');
    expect((await dev.expect('puback', 2000, (p) => p.msgId === 21)).returnCode).toBe(2);
    await publish(dev, 2, SHORT, shortId(0x01, 0x61), 22, 'junk');
    expect((await dev.expect('puback', 2000, (p) => p.msgId === 22)).returnCode).toBe(2);
    await publish(dev, 0, SHORT, shortId(0x2b, 0x62), 0, 'junk');

    // Legitimate traffic behind the junk flows in full.
    const ok = await register(dev, 'sn/ok', 30);
    expect(ok.returnCode).toBe(0);
    for (let i = 1; i <= 50; i++) {
      await publish(dev, 1, 0, ok.topicId, 100 + i, String(i));
      expect((await dev.expect('puback', 2000, (p) => p.msgId === 100 + i)).returnCode).toBe(0);
    }
    await publish(anon, -1, SHORT, shortId(0x6f, 0x6b), 0, 'anon-ok'); // "ok"
    const got = await sub.waitForCount(50, 10_000, 'sn/ok');
    expect(got.map((m) => m.payload.toString())).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    await sub.waitForCount(1, 5000, 'ok');
    expect(await reconnects()).toBe(before);
    expect(await dropped('invalid_topic')).toBeGreaterThanOrEqual(bad.length + 4 + 3);
    expect(sub.messages.map((m) => m.payload.toString())).not.toContain('junk');
  });

  it('a SUBSCRIBE filter the broker would refuse is refused at the door; the uplink never reconnects (found by the fuzz suite)', async () => {
    const before = await reconnects();
    const dev = await SnClient.open(port);
    clients.push(dev);
    expect((await dev.connect('subber', { cleanSession: false })).returnCode).toBe(0);
    for (const [i, filter] of ['fz/\u0001', 'a/#/b', 'a+/b', 'x/\uFFFF/#'].entries()) {
      await dev.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 40 + i, topic: filter });
      const ack = await dev.expect('suback', 2000, (a) => a.msgId === 40 + i);
      expect(ack.returnCode, JSON.stringify(filter)).not.toBe(0);
    }
    // Short topic names are two bytes the device chose: `#a` and `+\x01` are no filters either.
    for (const [i, id] of [shortId(0x23, 0x61), shortId(0x2b, 0x01)].entries()) {
      await dev.send({
        type: 'subscribe',
        flags: flags({ qos: 1, topicIdType: SHORT }),
        msgId: 45 + i,
        topic: id,
      });
      expect((await dev.expect('suback', 2000, (a) => a.msgId === 45 + i)).returnCode).not.toBe(0);
    }
    // None of them reached the upstream subscription set (its own check would have logged it).
    expect(logs.filter((l) => l.msg === 'upstream: invalid topic filter not subscribed')).toEqual([]);
    // A good one still works, and a message on it is delivered (the upstream subscription is live).
    await dev.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 50, topic: 'fine/#' });
    expect((await dev.expect('suback', 2000, (a) => a.msgId === 50)).returnCode).toBe(0);
    await waitFor(async () => {
      await publishTo(broker.url, 'fine/x', 'hello', { qos: 0 });
      return dev.inbox.some((p) => p.type === 'register' || p.type === 'publish');
    }, 'the good subscription delivers');
    expect(await reconnects()).toBe(before);
  });

  it('a device cannot command another device through the broker, nor overwrite the status topic; device-to-device pub/sub still works', async () => {
    const target = await device('devB');
    const attacker = await device('devA');

    /** The next command devB receives: the gateway REGISTERs its topic, then PUBLISHes. */
    const nextCommand = async (c: SnClient): Promise<{ topic: string; data: string }> => {
      const reg = await c.expect('register', 5000);
      await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
      const pub = await c.expect('publish', 5000, (p) => p.topicId === reg.topicId);
      if (pub.flags.qos > 0)
        await c.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
      return { topic: reg.topicName, data: pub.data.toString() };
    };
    await publishTo(broker.url, 'cmd/gwf/devB/first', 'from-cloud-1');
    expect(await nextCommand(target)).toEqual({ topic: 'cmd/gwf/devB/first', data: 'from-cloud-1' });

    // Device-to-device through the broker is ordinary pub/sub and stays allowed (not in the guard).
    await target.send({ type: 'subscribe', flags: flags({ qos: 0 }), msgId: 4, topic: 'sn/chat' });
    const suback = await target.expect('suback');
    expect(suback.returnCode).toBe(0);
    const chat = await register(attacker, 'sn/chat', 5);
    // QoS 0 has no retry: resend until the gateway's upstream SUBSCRIBE for devB is live.
    const sending = setInterval(() => void publish(attacker, 0, 0, chat.topicId, 0, 'hello'), 100);
    try {
      const heard = await target.expect('publish', 5000, (p) => p.topicId === suback.topicId);
      expect(heard.data.toString()).toBe('hello');
    } finally {
      clearInterval(sending);
    }

    // The attack: QoS 0 and QoS 1 on devB's command topic, and a retained status overwrite.
    const cmd = await register(attacker, 'cmd/gwf/devB/x', 1);
    const status = await register(attacker, 'fieldgate/gwf/status', 2);
    expect([cmd.returnCode, status.returnCode]).toEqual([0, 0]); // the names themselves are valid MQTT
    await publish(attacker, 0, 0, cmd.topicId, 0, 'injected-0');
    await publish(attacker, 1, 0, cmd.topicId, 3, 'injected-1');
    expect((await attacker.expect('puback', 2000, (p) => p.msgId === 3)).returnCode).toBe(3); // not supported
    await attacker.send({
      type: 'publish',
      flags: flags({ qos: 0, retain: true }),
      topicId: status.topicId,
      msgId: 0,
      data: Buffer.from('hacked'),
    });
    // Per-device order: had the attack been stored, it would reach the broker before this marker.
    await publish(attacker, 1, 0, chat.topicId, 6, 'marker');
    expect((await attacker.expect('puback', 2000, (p) => p.msgId === 6)).returnCode).toBe(0);
    await waitFor(() => sub.messages.some((m) => m.payload.toString() === 'marker'), 'marker at the broker');

    // So the next command devB gets is the cloud's, not the injected one.
    await publishTo(broker.url, 'cmd/gwf/devB/second', 'from-cloud-2');
    expect(await nextCommand(target)).toEqual({ topic: 'cmd/gwf/devB/second', data: 'from-cloud-2' });
    expect(target.inbox.filter((p) => p.type === 'register')).toEqual([]);
    expect(sub.messages.filter((m) => /injected|hacked/.test(m.payload.toString()))).toEqual([]);

    const statusNow = await Subscriber.connect(broker.url, 'fieldgate/gwf/status', { qos: 1 });
    try {
      const [retained] = await statusNow.waitForCount(1, 5000);
      expect(retained?.payload.toString()).toBe('online');
    } finally {
      await statusNow.close();
    }
    expect(await dropped('loop_guard')).toBe(3);
    expect(logs.some((l) => l.level === 40 && String(l.msg).includes("gateway's own"))).toBe(true);
  });
});
