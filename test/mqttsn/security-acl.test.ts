import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

/** The safe example from the docs: each device publishes under sensors/<id>/ and subscribes cmd/<id>/. */
const SAFE_ACL = {
  rules: [{ clients: '*', publish: ['sensors/{client}/#'], subscribe: ['cmd/{client}/#'] }],
};

const denied = () => h!.gw.stats().drops.acl_denied ?? 0;

async function regack(c: SnClient, name: string, msgId: number) {
  await c.send({ type: 'register', topicId: 0, msgId, topicName: name });
  return c.expect('regack', 2000, (a) => a.msgId === msgId);
}

async function suback(c: SnClient, topic: string, msgId: number) {
  await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId, topic });
  return (await c.expect('suback', 2000, (a) => a.msgId === msgId)).returnCode;
}

describe('mqttsn security: topic ACLs through UDP', () => {
  it('a device publishes only under its own topics: REGISTER and PUBLISH of others are refused with rc 3', async () => {
    h = await startGateway({
      acl: SAFE_ACL,
      predefined_topics: { 9: 'cmd/gw/d2/open' },
    });
    const c = await h.client();
    await c.connect('d1');
    const own = await regack(c, 'sensors/d1/temp', 1);
    expect(own.returnCode).toBe(0);
    const other = await regack(c, 'cmd/gw/d2/open', 2);
    expect(other).toMatchObject({ returnCode: 3, topicId: 0 });
    // a predefined id and a short name reach foreign topics without REGISTER: refused on PUBLISH
    for (const [qos, msgId] of [
      [1, 3],
      [2, 4],
    ] as const) {
      await c.send({
        type: 'publish',
        flags: flags({ qos, topicIdType: 1 }),
        topicId: 9,
        msgId,
        data: Buffer.from('open'),
      });
      expect((await c.expect('puback', 2000, (a) => a.msgId === msgId)).returnCode).toBe(3);
    }
    await c.send({
      type: 'publish',
      flags: flags({ qos: 0, topicIdType: 2 }),
      topicId: shortNameToId('zz')!,
      msgId: 0,
      data: Buffer.from('x'),
    });
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: own.topicId,
      msgId: 5,
      data: Buffer.from('21'),
    });
    expect((await c.expect('puback', 2000, (a) => a.msgId === 5)).returnCode).toBe(0);
    expect((await h.reading(1)).topic).toBe('sensors/d1/temp');
    await waitFor(() => denied() === 4, 'four refusals counted');
    expect(h.readings.map((r) => r.topic)).toEqual(['sensors/d1/temp']);
  });

  it('the ACL sees the topic as the device sent it, before topic_prefix', async () => {
    h = await startGateway({ acl: SAFE_ACL, topic_prefix: 'site/' });
    const c = await h.client();
    await c.connect('d3');
    expect((await regack(c, 'site/sensors/d3/t', 1)).returnCode).toBe(3);
    const id = (await regack(c, 'sensors/d3/t', 2)).topicId;
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: id,
      msgId: 3,
      data: Buffer.from('1'),
    });
    expect((await c.expect('puback')).returnCode).toBe(0);
    expect((await h.reading(1)).topic).toBe('site/sensors/d3/t');
  });

  it('a device subscribes only within its own command topics; wider wildcards get SUBACK rc 3', async () => {
    h = await startGateway({ acl: SAFE_ACL });
    const c = await h.client();
    await c.connect('d1');
    expect(await suback(c, 'cmd/d1/#', 1)).toBe(0);
    expect(await suback(c, 'cmd/d1/valve/set', 2)).toBe(0);
    expect(await suback(c, 'cmd/#', 3)).toBe(3);
    expect(await suback(c, 'cmd/+/valve/set', 4)).toBe(3);
    expect(await suback(c, '#', 5)).toBe(3);
    expect(await suback(c, 'cmd/d2/#', 6)).toBe(3);
    expect(denied()).toBe(4);
    // nothing of another device's reaches it
    await h.gw.deliver({ topic: 'cmd/d2/valve/set', payload: Buffer.from('x'), qos: 0, retain: false });
    await h.gw.deliver({ topic: 'cmd/d1/valve/set', payload: Buffer.from('mine'), qos: 0, retain: false });
    const pub = await c.expect('publish');
    expect(pub.data.toString()).toBe('mine');
    await c.expectNone('publish', 200);
  });

  it('a will on a foreign topic is refused: at CONNECT (CONNACK rc 3) and by WILLTOPICUPD (rc 3)', async () => {
    h = await startGateway({ acl: SAFE_ACL });
    const c = await h.client();
    await c.send({
      type: 'connect',
      flags: flags({ will: true, cleanSession: true }),
      protocolId: 1,
      duration: 60,
      clientId: 'd4',
    });
    await c.expect('willtopicreq');
    await c.send({ type: 'willtopic', flags: flags({ qos: 1 }), topic: 'cmd/gw/d2/open' });
    expect((await c.expect('connack')).returnCode).toBe(3);
    expect((await c.connect('d4')).returnCode).toBe(0);
    await c.send({ type: 'willtopicupd', flags: flags({ qos: 1 }), topic: 'cmd/gw/d2/open' });
    expect((await c.expect('willtopicresp')).returnCode).toBe(3);
    await c.send({ type: 'willtopicupd', flags: flags({ qos: 1 }), topic: 'sensors/d4/status' });
    expect((await c.expect('willtopicresp')).returnCode).toBe(0);
    expect(denied()).toBe(2);
  });

  it('QoS -1 (when enabled) is checked too: its address-derived id never matches {client} as a permission', async () => {
    h = await startGateway({
      qos_minus_one: { enabled: true },
      predefined_topics: {
        5: 'cmd/gw/d2/open',
        6: 'sensors/127.0.0.1/beacon',
        7: 'alarm/127.0.0.1/x',
        8: 'alarm/other/x',
        9: 'beacons/b1',
      },
      acl: {
        rules: [
          // A {client} deny applies to an anonymous sender whatever it names, not only its own IP.
          { clients: '*', action: 'deny', publish: ['alarm/{client}/#'] },
          { clients: '*', publish: ['sensors/{client}/#', 'alarm/#'] },
          { clients: '127.0.0.*', publish: ['beacons/#'] },
        ],
      },
    });
    const c = await h.client();
    for (const id of [5, 6, 7, 8, 9])
      await c.send({
        type: 'publish',
        flags: flags({ qos: -1, topicIdType: 1 }),
        topicId: id,
        msgId: 0,
        data: Buffer.from('b'),
      });
    // Anyone on the LAN can send from that address: `sensors/{client}` is no permission for it, and
    // `alarm/{client}` denies every alarm topic; a rule naming the sender's addresses still admits it.
    expect((await h.reading(1)).topic).toBe('beacons/b1');
    await waitFor(() => denied() === 4, 'QoS -1 refusals counted');
    await sleep(50);
    expect(h.readings).toHaveLength(1);
  });

  it('subscriptions saved before the ACL existed are dropped at start when the ACL refuses them', async () => {
    const store = openStore({
      dir: tmpDir('fieldgate-mqttsn-acl-'),
      durability: 'process-crash',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
    try {
      h = await startGateway({}, { store });
      const c = await h.client();
      await c.connect('d5', { cleanSession: false });
      expect(await suback(c, 'cmd/#', 1)).toBe(0);
      expect(await suback(c, 'cmd/d5/#', 2)).toBe(0);
      await h.close();
      h = await startGateway({ acl: SAFE_ACL }, { store });
      const subs = await firstValueFrom(h.gw.subscriptions$);
      expect([...subs.keys()]).toEqual(['cmd/d5/#']);
      expect(denied()).toBe(1);
      await waitFor(
        () =>
          JSON.stringify(store.devices.list('mqttsn').find((r) => r.clientId === 'd5')?.subs) ===
          '[["cmd/d5/#",1]]',
        'pruned session saved',
      );
      await h.close();
    } finally {
      h = undefined;
      store.close();
    }
  });
});
