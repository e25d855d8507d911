import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { flags, ReturnCode } from '../../adapters/mqttsn/codec/index.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

/** What one device may make the gateway keep, in bytes: registrations, subscriptions, will, session. */
describe('mqttsn: per-device state is bounded in bytes', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    cleanupTmpDirs();
  });

  let msgId = 0;
  async function subscribe(c: SnClient, topic: string): Promise<number> {
    const id = ++msgId;
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: id, topic });
    return (await c.expect('suback', 2000, (a) => a.msgId === id)).returnCode;
  }

  it('subscriptions stop at the per-client budget ("congestion"); a filter over max_topic_length is refused for good', async () => {
    h = await startGateway({ max_state_bytes_per_client: '8KiB', max_topic_length: 64 });
    const c = await h.client();
    expect((await c.connect('subs', { cleanSession: false })).returnCode).toBe(0);
    expect(await subscribe(c, `site/${'y'.repeat(60)}/#`)).toBe(ReturnCode.NOT_SUPPORTED);
    const codes: number[] = [];
    // 60-byte wildcard filters cost 160 + 2 x 60: 25 fit in 8 KiB beside the session's 1 KiB.
    for (let i = 0; i < 40; i++)
      codes.push(await subscribe(c, `site/${String(i).padStart(3, '0')}/${'f'.repeat(47)}/#`));
    expect(codes.filter((rc) => rc === 0)).toHaveLength(25);
    expect(codes.slice(25).every((rc) => rc === ReturnCode.CONGESTION)).toBe(true);
    expect(h.gw.stats().drops).toMatchObject({ topic_too_long: 1, state_budget: 15 });
  });

  it('a will topic over max_topic_length is refused at CONNECT; a will message over the budget too', async () => {
    h = await startGateway({
      max_topic_length: 32,
      max_state_bytes_per_client: '4KiB',
      max_packet_size: 8192,
    });
    const connect = async (c: SnClient, id: string, topic: string, msg: Buffer) => {
      await c.send({
        type: 'connect',
        flags: flags({ will: true }),
        protocolId: 1,
        duration: 60,
        clientId: id,
      });
      await c.expect('willtopicreq');
      await c.send({ type: 'willtopic', flags: flags({ qos: 1 }), topic });
      const r = await waitFor(
        () => c.inbox.find((p) => p.type === 'willmsgreq' || p.type === 'connack'),
        'WILLMSGREQ or CONNACK',
      );
      c.inbox.splice(c.inbox.indexOf(r), 1);
      if (r.type === 'connack') return r.returnCode;
      await c.send({ type: 'willmsg', msg });
      return (await c.expect('connack')).returnCode;
    };
    const c = await h.client();
    expect(await connect(c, 'w1', `dev/${'w'.repeat(40)}`, Buffer.from('x'))).toBe(ReturnCode.NOT_SUPPORTED);
    expect(await connect(c, 'w2', 'dev/w2', Buffer.alloc(3500))).toBe(ReturnCode.CONGESTION);
    expect(await connect(c, 'w3', 'dev/w3', Buffer.alloc(1000))).toBe(ReturnCode.ACCEPTED);
  });

  it('a stored session that would exceed a budget is dropped at start and counted; the rest come back', async () => {
    const store = openStore({
      dir: tmpDir('fieldgate-snbudget-'),
      durability: 'process-crash',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
    // What an older version let a device store: 1,024 registrations of 4 KB (~4 MiB for one id).
    const meta = {
      lastSeen: Date.now(),
      live: false,
      keepAliveMs: 0,
      sleepMs: 0,
      peer: { address: '10.0.0.9' },
    };
    const huge = Array.from({ length: 1024 }, (_, i): [number, string] => [
      i + 1,
      `sensors/big/${i}/${'x'.repeat(4000)}`,
    ]);
    await store.devices.update('mqttsn', 'big', { meta, putTopics: huge });
    await store.devices.update('mqttsn', 'small', { meta, putTopics: [[1, 'sensors/small/t']] });
    h = await startGateway({}, { store });
    expect(h.gw.stats().drops.session_over_budget).toBe(1);
    expect(h.gw.stats().clients.offline).toBe(1);
    await waitFor(
      () =>
        store.devices
          .list('mqttsn')
          .map((r) => r.clientId)
          .join() === 'small',
      'over-budget session deleted from the store',
    );
    await h.close();
    h = undefined;
    store.close();
  });

  it('a stored session whose client id is now reserved (a serial device took the name) is not restored', async () => {
    const store = openStore({
      dir: tmpDir('fieldgate-snbudget-'),
      durability: 'process-crash',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
    const meta = { lastSeen: Date.now(), live: false, keepAliveMs: 0, sleepMs: 0, peer: null };
    await store.devices.update('mqttsn', 'weather', { meta, putSubs: [['cmd/weather/#', 1]] });
    await store.devices.update('mqttsn', 'node-1', { meta });
    const reserved = { clientIds: new Set(['weather', 'gw1']), filters: [] };
    h = await startGateway({}, { store, reserved: () => reserved });
    expect(h.gw.stats().drops.reserved_client_id).toBe(1);
    expect(h.gw.stats().clients.offline).toBe(1);
    const c = await h.client();
    expect((await c.connect('weather')).returnCode).toBe(ReturnCode.NOT_SUPPORTED);
    await waitFor(
      () =>
        store.devices
          .list('mqttsn')
          .map((r) => r.clientId)
          .join() === 'node-1',
      'reserved session deleted from the store',
    );
    await h.close();
    h = undefined;
    store.close();
  });
});
