import fc from 'fast-check';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encode, flags } from '../../adapters/mqttsn/codec/index.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { packetArb } from './codec.arb.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

describe('mqttsn over UDP: robustness', () => {
  it('counts malformed, truncated, oversize and out_of_state datagrams and keeps answering', async () => {
    h = await startGateway({ max_packet_size: 512 });
    const c = await h.client();
    await c.sendRaw(Buffer.from('0516', 'hex')); // truncated
    await c.sendRaw(Buffer.from('021700', 'hex')); // trailing byte
    await c.sendRaw(Buffer.from('0203', 'hex')); // unknown type
    await c.sendRaw(encode({ type: 'willmsg', msg: Buffer.alloc(600) })); // oversize
    await c.send({ type: 'publish', flags: flags({ qos: 1 }), topicId: 1, msgId: 1, data: Buffer.alloc(1) }); // not connected
    await c.send({ type: 'pingreq' });
    await c.expect('pingresp');
    const d = h.gw.stats().drops;
    expect(d).toMatchObject({
      truncated: 1,
      malformed: 1,
      unknown_type: 1,
      oversize: 1,
      out_of_state: 1,
    });
  });

  it('survives a storm of random and mutated datagrams from many sources without leaking sessions', async () => {
    h = await startGateway({ max_clients: 50 });
    const c = await h.client();
    const datagrams = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        packetArb.map((p) => encode(p)),
        fc.tuple(packetArb, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([p, i, v]) => {
          const b = Buffer.from(encode(p));
          b[i % b.length] = v;
          return b;
        }),
      ),
      { numRuns: 1500, seed: 42 },
    );
    for (const [i, d] of datagrams.entries()) {
      await c.sendRaw(d);
      if (i % 100 === 0) await sleep(5); // let the loopback buffer drain
    }
    await sleep(200);
    const probe = await h.client();
    expect((await probe.connect('after-storm')).returnCode).toBe(0);
    const s = h.gw.stats();
    expect(s.drops.handler_error ?? 0).toBe(0);
    expect(s.rx).toBeGreaterThan(1000);
    expect(s.clients.active + s.clients['will-topic'] + s.clients['will-msg']).toBeLessThanOrEqual(50);
  });

  it('answers forwarder-encapsulated messages encapsulated, with the same node id', async () => {
    h = await startGateway();
    const nodeA = await h.client(Buffer.from([0x00, 0x13, 0xa2, 0x00]));
    const nodeB = await h.client(Buffer.from([0x00, 0x13, 0xa2, 0x01]));
    expect((await nodeA.connect('fa')).returnCode).toBe(0);
    expect((await nodeB.connect('fb')).returnCode).toBe(0);
    await nodeA.send({ type: 'register', topicId: 0, msgId: 1, topicName: 'fwd/a' });
    const ack = await nodeA.expect('regack');
    await nodeA.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: ack.topicId,
      msgId: 2,
      data: Buffer.from('via fwd'),
    });
    expect((await nodeA.expect('puback')).returnCode).toBe(0);
    expect(await h.reading(1)).toMatchObject({ device: 'fa', topic: 'fwd/a' });
    await nodeB.send({ type: 'subscribe', flags: flags(), msgId: 3, topic: 'fwd/b' });
    await nodeB.expect('suback');
    await h.gw.deliver({ topic: 'fwd/b', payload: Buffer.from('down'), qos: 0, retain: false });
    expect((await nodeB.expect('publish')).data.toString()).toBe('down');
    expect(h.gw.stats().clients.active).toBe(2);
    expect([...nodeA.unexpected, ...nodeB.unexpected]).toEqual([]);
  });

  it('clean-session=false subscriptions and registrations survive a gateway restart (real store, reopened)', async () => {
    const dir = tmpDir('fieldgate-mqttsn-persist-');
    const open = () =>
      openStore({
        dir,
        durability: 'process-crash',
        limits: storeConfigSchema.parse({}),
        logger: pino({ level: 'silent' }),
      });
    let store = open();
    h = await startGateway({}, { store });
    let c = await h.client();
    await c.connect('keep', { cleanSession: false });
    await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: 'keep/up' });
    const upId = (await c.expect('regack')).topicId;
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 2, topic: 'keep/cmd/+' });
    await c.expect('suback');
    await c.send({ type: 'disconnect' });
    await c.expect('disconnect');
    await h.close();
    store.close();

    store = open();
    h = await startGateway({}, { store });
    expect([...(await waitFor(() => subsOf(h!), 'restored subscriptions'))]).toEqual([['keep/cmd/+', 1]]);
    // offline with a persistent session: QoS 1 waits in the inbox
    await h.gw.deliver({ topic: 'keep/cmd/go', payload: Buffer.from('now'), qos: 1, retain: false });
    c = await h.client();
    expect((await c.connect('keep', { cleanSession: false })).returnCode).toBe(0);
    const reg = await c.expect('register');
    await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const pub = await c.expect('publish');
    expect(pub.data.toString()).toBe('now');
    await c.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
    // the registration from before the restart still resolves
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: upId,
      msgId: 3,
      data: Buffer.from('1'),
    });
    expect((await c.expect('puback')).returnCode).toBe(0);
    expect(h.readings.at(-1)).toMatchObject({ topic: 'keep/up' });
    await waitFor(() => store.inbox.pending('mqttsn', 'keep').length === 0, 'inbox drained');
    // a clean-session connect forgets it all
    await c.connect('keep', { cleanSession: true });
    await waitFor(() => store.state.list('mqttsn.sessions').length === 0, 'session deleted');
    await h.close();
    h = undefined;
    store.close();
  });
});

let lastSubs: ReadonlyMap<string, number> | undefined;
function subsOf(hh: Harness): ReadonlyMap<string, number> | undefined {
  hh.gw.subscriptions$
    .subscribe((m) => {
      lastSubs = m;
    })
    .unsubscribe();
  return lastSubs && lastSubs.size > 0 ? lastSubs : undefined;
}
