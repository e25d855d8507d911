import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

async function register(c: SnClient, name: string, msgId = 1): Promise<number> {
  await c.send({ type: 'register', topicId: 0, msgId, topicName: name });
  const ack = await c.expect('regack', 2000, (a) => a.msgId === msgId);
  expect(ack.returnCode).toBe(0);
  return ack.topicId;
}

describe('mqttsn over UDP: publish from devices', () => {
  it('REGISTER gives a stable id; QoS 0 becomes a reading with the resolved topic', async () => {
    h = await startGateway({ topic_prefix: 'site/' });
    const c = await h.client();
    await c.connect('d1');
    const id = await register(c, 'sensors/d1/temp');
    expect(id).toBeGreaterThan(0);
    expect(await register(c, 'sensors/d1/temp', 2)).toBe(id);
    await c.send({
      type: 'publish',
      flags: flags({ qos: 0 }),
      topicId: id,
      msgId: 0,
      data: Buffer.from('21.5'),
    });
    const r = await h.reading(1);
    expect(r).toMatchObject({
      source: 'mqttsn',
      device: 'd1',
      topic: 'site/sensors/d1/temp',
      qos: 0,
      retain: false,
    });
    expect(r.payload.toString()).toBe('21.5');
    expect(r.settle).toBeUndefined();
  });

  it('QoS 1: PUBACK only after settle(stored); a DUP while in flight is not emitted twice', async () => {
    h = await startGateway({}, { autoSettle: null });
    const c = await h.client();
    await c.connect('d2');
    const id = await register(c, 't/q1');
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, retain: true }),
      topicId: id,
      msgId: 10,
      data: Buffer.from('a'),
    });
    const r = await h.reading(1);
    expect(r).toMatchObject({ qos: 1, retain: true });
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, dup: true, retain: true }),
      topicId: id,
      msgId: 10,
      data: Buffer.from('a'),
    });
    await c.expectNone('puback', 300);
    expect(h.readings).toHaveLength(1);
    r.settle!('stored');
    r.settle!('stored'); // once only
    const ack = await c.expect('puback');
    expect(ack).toEqual({ type: 'puback', topicId: id, msgId: 10, returnCode: 0 });
    // DUP after the ack (device missed it): ack again, do not emit again
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, dup: true }),
      topicId: id,
      msgId: 10,
      data: Buffer.from('a'),
    });
    expect((await c.expect('puback')).msgId).toBe(10);
    await c.expectNone('puback', 100);
    expect(h.readings).toHaveLength(1);
    expect(h.gw.stats().drops.duplicate).toBe(2);
  });

  it('settle(congestion) answers PUBACK rc 1; settle(error) does not ack and the retry is emitted again', async () => {
    h = await startGateway({}, { autoSettle: null });
    const c = await h.client();
    await c.connect('d3');
    const id = await register(c, 't/cong');
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: id,
      msgId: 5,
      data: Buffer.from('x'),
    });
    (await h.reading(1)).settle!('congestion');
    expect((await c.expect('puback')).returnCode).toBe(1);
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: id,
      msgId: 6,
      data: Buffer.from('y'),
    });
    (await h.reading(2)).settle!('error');
    await c.expectNone('puback', 200);
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, dup: true }),
      topicId: id,
      msgId: 6,
      data: Buffer.from('y'),
    });
    (await h.reading(3)).settle!('filtered');
    expect(await c.expect('puback')).toMatchObject({ msgId: 6, returnCode: 0 });
  });

  it('QoS 2: PUBREC after settle, PUBREL -> PUBCOMP, duplicates not emitted', async () => {
    h = await startGateway({}, { autoSettle: null });
    const c = await h.client();
    await c.connect('d4');
    const id = await register(c, 't/q2');
    const pub = (dup: boolean) =>
      c.send({
        type: 'publish',
        flags: flags({ qos: 2, dup }),
        topicId: id,
        msgId: 77,
        data: Buffer.from('once'),
      });
    await pub(false);
    const r = await h.reading(1);
    expect(r.qos).toBe(2);
    await c.expectNone('pubrec', 200);
    r.settle!('stored');
    expect(await c.expect('pubrec')).toEqual({ type: 'pubrec', msgId: 77 });
    await pub(true); // PUBREC lost: the device repeats, we repeat PUBREC
    await c.expect('pubrec');
    await c.send({ type: 'pubrel', msgId: 77 });
    expect(await c.expect('pubcomp')).toEqual({ type: 'pubcomp', msgId: 77 });
    await c.send({ type: 'pubrel', msgId: 77 }); // PUBCOMP lost
    await c.expect('pubcomp');
    expect(h.readings).toHaveLength(1);
  });

  it('unknown topic id -> PUBACK rc 2; in-flight limit -> congestion', async () => {
    h = await startGateway({ max_inflight_per_client: 2 }, { autoSettle: null });
    const c = await h.client();
    await c.connect('d5');
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: 999,
      msgId: 1,
      data: Buffer.alloc(0),
    });
    expect((await c.expect('puback')).returnCode).toBe(2);
    const id = await register(c, 't/lim');
    for (const m of [2, 3, 4])
      await c.send({
        type: 'publish',
        flags: flags({ qos: 1 }),
        topicId: id,
        msgId: m,
        data: Buffer.from('z'),
      });
    expect(await c.expect('puback')).toMatchObject({ msgId: 4, returnCode: 1 });
    expect(h.readings).toHaveLength(2);
  });

  it('predefined (global and per client) and short topic ids', async () => {
    h = await startGateway({
      predefined_topics: { 1: 'sensors/common' },
      client_topics: { d6: { 2: 'sensors/d6/own' } },
    });
    const c = await h.client();
    await c.connect('d6');
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, topicIdType: 1 }),
      topicId: 1,
      msgId: 1,
      data: Buffer.from('g'),
    });
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1, topicIdType: 1 }),
      topicId: 2,
      msgId: 2,
      data: Buffer.from('p'),
    });
    await c.send({
      type: 'publish',
      flags: flags({ qos: 2, topicIdType: 2 }),
      topicId: shortNameToId('ab')!,
      msgId: 3,
      data: Buffer.from('s'),
    });
    await h.reading(3);
    expect(h.readings.map((r) => r.topic)).toEqual(['sensors/common', 'sensors/d6/own', 'ab']);
  });

  it('QoS -1 from an unconnected source on predefined and short ids (flags 0x61 / 0x62), allow-list enforced', async () => {
    h = await startGateway({ predefined_topics: { 5: 'beacons/all' }, qos_minus_one: { enabled: true } });
    const c = await h.client();
    await c.sendRaw(Buffer.from(`090c6100050000${Buffer.from('hi').toString('hex')}`, 'hex'));
    await c.sendRaw(Buffer.from(`080c62${Buffer.from('zz').toString('hex')}000021`, 'hex'));
    await h.reading(2);
    expect(h.readings.map((r) => [r.topic, r.qos, r.device, r.payload.toString()])).toEqual([
      ['beacons/all', 0, '127.0.0.1', 'hi'],
      ['zz', 0, '127.0.0.1', '!'],
    ]);
    // normal topic ids need a registration, so QoS -1 cannot use them
    await c.send({ type: 'publish', flags: flags({ qos: -1 }), topicId: 1, msgId: 0, data: Buffer.alloc(0) });
    await sleep(100);
    expect(h.readings).toHaveLength(2);
    expect(h.gw.stats().drops.invalid_topic).toBe(1);
    await h.close();
    h = await startGateway({
      predefined_topics: { 5: 'beacons/all' },
      qos_minus_one: { enabled: true, allow: ['10.9.9.9'] },
    });
    const c2 = await h.client();
    await c2.send({
      type: 'publish',
      flags: flags({ qos: -1, topicIdType: 1 }),
      topicId: 5,
      msgId: 0,
      data: Buffer.alloc(0),
    });
    await sleep(100);
    expect(h.readings).toHaveLength(0);
    expect(h.gw.stats().drops.not_allowed).toBe(1);
  });

  it('a 400-byte payload travels in the long form', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.connect('big');
    const id = await register(c, 't/big');
    const data = Buffer.alloc(400, 0x5a);
    await c.send({ type: 'publish', flags: flags({ qos: 1 }), topicId: id, msgId: 9, data });
    expect((await c.expect('puback')).returnCode).toBe(0);
    expect((await h.reading(1)).payload).toEqual(data);
  });
});
