import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, type Packet } from '../../adapters/mqttsn/codec/index.js';
import type { MqttSnEvent } from '../../adapters/mqttsn/stats.js';
import type { LogLine } from '../harness/gateway-process.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

const publish = (topicId: number, qos: 0 | 1 | 2, msgId: number, data = 'x'): Packet => ({
  type: 'publish',
  flags: flags({ qos, topicIdType: 0 }),
  topicId,
  msgId,
  data: Buffer.from(data),
});

/** Connects, registers `topic`, and returns its id. */
async function connectWithTopic(
  c: SnClient,
  clientId: string,
  topic: string,
  opts: { cleanSession?: boolean } = {},
): Promise<number> {
  expect((await c.connect(clientId, { duration: 60, ...opts })).returnCode).toBe(0);
  await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: topic });
  const ack = await c.expect('regack');
  expect(ack.returnCode).toBe(0);
  return ack.topicId;
}

describe('mqttsn: a device that sends in the wrong state gets an answer', () => {
  it('PUBLISH (QoS 0, 1, 2), REGISTER, SUBSCRIBE and UNSUBSCRIBE from a peer with no session each get DISCONNECT', async () => {
    h = await startGateway();
    const packets: Packet[] = [
      publish(1, 0, 0),
      publish(1, 1, 7),
      publish(1, 2, 8),
      { type: 'register', topicId: 0, msgId: 2, topicName: 'a/b' },
      { type: 'subscribe', flags: flags({ qos: 1 }), msgId: 3, topic: 'a/#' },
      { type: 'unsubscribe', flags: flags({}), msgId: 4, topic: 'a/#' },
    ];
    // One socket each: the answer is rate-limited per peer.
    for (const p of packets) {
      const c = await h.client();
      await c.send(p);
      await c.expect('disconnect');
      expect(c.inbox, p.type).toEqual([]); // nothing else: no PUBACK, REGACK, SUBACK
    }
    expect(h.readings).toHaveLength(0);
    expect(h.gw.stats().drops.out_of_state).toBe(packets.length);
  });

  it('GatewayTester: a PUBLISH after the device DISCONNECTed gets DISCONNECT; connected again, it publishes', async () => {
    h = await startGateway();
    const c = await h.client();
    const id = await connectWithTopic(c, 'tester', 'ty4tw/topic1');
    await c.send(publish(id, 1, 10, 'one'));
    expect((await c.expect('puback')).returnCode).toBe(0);
    await c.send({ type: 'disconnect' });
    await c.expect('disconnect');

    await c.send(publish(id, 1, 11, 'after disconnect'));
    await c.expect('disconnect');
    await c.expectNone('puback', 200);

    const again = await connectWithTopic(c, 'tester', 'ty4tw/topic1');
    await c.send(publish(again, 1, 12, 'two'));
    expect((await c.expect('puback')).returnCode).toBe(0);
    expect(h.readings.map((r) => r.payload.toString())).toEqual(['one', 'two']);
  });

  it('asleep: QoS 0 is forwarded and the device stays asleep; QoS 1 gets DISCONNECT and ends the session (no will)', async () => {
    h = await startGateway();
    const c = await h.client();
    const id = await connectWithTopic(c, 'sleepy', 'sleepy/temp', { cleanSession: false });
    await c.send({ type: 'disconnect', duration: 30 });
    await c.expect('disconnect');
    await waitFor(() => h!.gw.stats().clients.asleep === 1, 'asleep');

    await c.send(publish(id, 0, 0, 'qos0 while asleep'));
    const r = await h.reading(1);
    expect(r).toMatchObject({ device: 'sleepy', topic: 'sleepy/temp', qos: 0 });
    expect(r.payload.toString()).toBe('qos0 while asleep');
    await c.expectNone('disconnect', 200);
    expect(h.gw.stats().clients.asleep).toBe(1);

    await c.send(publish(id, 1, 21, 'qos1 while asleep'));
    await c.expect('disconnect');
    await c.expectNone('puback', 200);
    expect(h.readings).toHaveLength(1);
    const st = h.gw.stats();
    expect(st.clients.asleep).toBe(0);
    expect(st.clients.offline).toBe(1); // clean-session=false: kept, registrations too
    expect(st.states.disconnect).toBe(1);
    expect(st.states.lost ?? 0).toBe(0);

    // It connects again (as told) and its registration still holds: the resend is taken.
    expect((await c.connect('sleepy', { cleanSession: false })).returnCode).toBe(0);
    await c.send(publish(id, 1, 21, 'qos1 while asleep'));
    expect((await c.expect('puback')).returnCode).toBe(0);
    expect((await h.reading(2)).payload.toString()).toBe('qos1 while asleep');
  });

  it('REGISTER and SUBSCRIBE from an asleep device get DISCONNECT too', async () => {
    h = await startGateway();
    for (const p of [
      { type: 'register', topicId: 0, msgId: 5, topicName: 'x/y' },
      { type: 'subscribe', flags: flags({ qos: 0 }), msgId: 6, topic: 'x/#' },
    ] as Packet[]) {
      const c = await h.client();
      expect((await c.connect(`s-${p.type}`)).returnCode).toBe(0);
      await c.send({ type: 'disconnect', duration: 30 });
      await c.expect('disconnect');
      await c.send(p);
      await c.expect('disconnect');
      expect(c.inbox, p.type).toEqual([]);
    }
    expect(h.gw.stats().clients.asleep).toBe(0);
  });

  it('answers a burst from one peer once (no reflector), while another peer still gets its own answer', async () => {
    h = await startGateway();
    const noisy = await h.client();
    const other = await h.client();
    for (let i = 0; i < 50; i++) await noisy.send(publish(1, 1, i + 1));
    await other.send(publish(1, 1, 1));
    await other.expect('disconnect');
    await waitFor(() => h!.gw.stats().drops.out_of_state === 51, 'every datagram counted');
    await sleep(100);
    const answers = noisy.inbox.filter((p) => p.type === 'disconnect').length;
    expect(answers).toBeGreaterThanOrEqual(1);
    expect(answers).toBeLessThanOrEqual(2); // a burst straddling two seconds at most
  });

  it('QoS -1 from a sender without a connection is still taken where enabled, with no DISCONNECT', async () => {
    h = await startGateway({
      qos_minus_one: { enabled: true },
      predefined_topics: { 5: 'field/beacon' },
    });
    const c = await h.client();
    await c.send({
      type: 'publish',
      flags: flags({ qos: -1, topicIdType: 1 }),
      topicId: 5,
      msgId: 0,
      data: Buffer.from('ping'),
    });
    expect(await h.reading(1)).toMatchObject({ topic: 'field/beacon', qos: 0 });
    await c.expectNone('disconnect', 300);
  });
});

/** A pino logger whose lines land in an array. */
function capture(): { lines: LogLine[]; logger: pino.Logger } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  );
  return { lines, logger };
}

const warnsAbout = (lines: LogLine[], reason: string) =>
  lines.filter((l) => l.level === 40 && l.reason === reason);

describe('mqttsn: devices that misbehave are named at warn, rate-limited', () => {
  it('a device that does not ack its downlink after retries: one warn line with its id, the drop event names it', async () => {
    const { lines, logger } = capture();
    h = await startGateway({}, { logger });
    const events: MqttSnEvent[] = [];
    h.gw.events$.subscribe((e) => events.push(e));
    const c = await h.client();
    expect((await c.connect('deaf-1')).returnCode).toBe(0);
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'cmd/deaf-1' });
    await c.expect('suback');
    for (const n of [1, 2]) {
      await h.gw.deliver({ topic: 'cmd/deaf-1', payload: Buffer.from(`m${n}`), qos: 1, retain: false });
    }
    // 300 ms x (1 + 2 retries) each, one after the other; the device never acks.
    await waitFor(
      () => (h!.gw.stats().drops.delivery_failed ?? 0) >= 2,
      'both downlinks given up',
      10_000,
    );
    const warns = warnsAbout(lines, 'delivery_failed');
    expect(warns).toHaveLength(1); // the second within the minute is counted, not logged
    expect(warns[0]).toMatchObject({ device: 'deaf-1', count: 1 });
    expect(warns[0]!.msg).toMatch(/not taking its messages/);
    expect(events.filter((e) => e.kind === 'drop' && e.reason === 'delivery_failed')).toEqual([
      expect.objectContaining({ device: 'deaf-1' }),
      expect.objectContaining({ device: 'deaf-1' }),
    ]);
  });

  it('out-of-state packets and datagrams over max_packet_size from a connected device: warned with its id', async () => {
    const { lines, logger } = capture();
    h = await startGateway({ max_packet_size: 64 }, { logger });
    const c = await h.client();
    expect((await c.connect('loud-1')).returnCode).toBe(0);
    await c.send({ type: 'puback', topicId: 1, msgId: 999, returnCode: 0 }); // nothing awaited it
    await c.sendRaw(
      Buffer.concat([Buffer.from([100, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x01]), Buffer.alloc(93)]),
    );
    await waitFor(() => warnsAbout(lines, 'oversize').length === 1, 'oversize warning');
    expect(warnsAbout(lines, 'out_of_state')).toEqual([expect.objectContaining({ device: 'loud-1' })]);
    expect(warnsAbout(lines, 'oversize')).toEqual([expect.objectContaining({ device: 'loud-1' })]);
  });

  it('senders with no session share one warn line (device null, the source address given), not one each', async () => {
    const { lines, logger } = capture();
    h = await startGateway({}, { logger });
    for (let i = 0; i < 5; i++) {
      const c = await h.client();
      await c.send(publish(1, 1, 1));
      await c.expect('disconnect');
    }
    const warns = warnsAbout(lines, 'out_of_state');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ device: null, peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });
});
