import Database from 'better-sqlite3';
import pino from 'pino';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, ReturnCode, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import type { Store } from '../../contracts/store.js';
import { startIngest } from '../../gateway/ingest/index.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { dbPath } from '../../gateway/store/database.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

const open: Harness[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  for (const s of stores.splice(0)) s.close();
});
afterAll(cleanupTmpDirs);

async function gateway(
  config: Record<string, unknown> = {},
  store?: Store,
  autoSettle?: null,
): Promise<Harness> {
  const h = await startGateway(config, { ...(store ? { store } : {}), autoSettle });
  open.push(h);
  return h;
}

function sharedStore(dir = tmpDir('fieldgate-snstate-'), limits: Record<string, unknown> = {}): Store {
  const s = openStore({
    dir,
    durability: 'process-crash',
    limits: storeConfigSchema.parse(limits),
    logger: pino({ level: 'silent' }),
  });
  stores.push(s);
  return s;
}

/** Stops the harness (keeping its store) so a new adapter can start on the same store. */
async function restart(h: Harness, config: Record<string, unknown> = {}): Promise<Harness> {
  open.splice(open.indexOf(h), 1);
  await h.close();
  return gateway(config, h.store);
}

async function subscribe(c: SnClient, topic: string, msgId: number, qos: 0 | 1 | 2 = 1) {
  await c.send({ type: 'subscribe', flags: flags({ qos }), msgId, topic });
  return c.expect('suback', 2000, (a) => a.msgId === msgId);
}

async function register(c: SnClient, name: string, msgId: number) {
  await c.send({ type: 'register', topicId: 0, msgId, topicName: name });
  return c.expect('regack', 2000, (a) => a.msgId === msgId);
}

describe('mqttsn: a device cannot fill the session table', () => {
  it('5,000 clean-session=false CONNECTs with distinct ids: a new device still connects, also after a restart', async () => {
    // default max_clients: 5000; one test address holds them all, so its source budget is raised
    const h = await gateway({ max_state_bytes_per_source: '64MiB' }, sharedStore());
    const flood = await h.client();
    // Each CONNECT from the same address ends the previous id's session: it stays, offline.
    for (let i = 0; i < 5000; i++) {
      const ack = await flood.connect(`f${i}`, { cleanSession: false });
      expect(ack.returnCode).toBe(ReturnCode.ACCEPTED);
    }
    const dev = await h.client();
    expect((await dev.connect('real', { cleanSession: false })).returnCode).toBe(ReturnCode.ACCEPTED);
    expect(h.gw.stats().drops.session_evicted).toBe(1);
    expect(h.gw.stats().clients.offline).toBe(4998);

    const h2 = await restart(h, { max_state_bytes_per_source: '64MiB' });
    expect(h2.gw.stats().clients.offline).toBe(4998); // restored
    const dev2 = await h2.client();
    expect((await dev2.connect('real2', { cleanSession: false })).returnCode).toBe(ReturnCode.ACCEPTED);
    // The one offline longest gave way (f0 went in the first run; f1 now), and its rows are gone.
    expect(h2.gw.stats().drops.session_evicted).toBe(1);
    await waitFor(
      () => !h2.store.devices.list('mqttsn').some((r) => r.clientId === 'f1'),
      'evicted session deleted from the store',
    );
    expect(h2.store.devices.list('mqttsn')).toHaveLength(5000);
  }, 60_000);

  it('connected devices still fill it: the next one is refused with congestion', async () => {
    const h = await gateway({ max_clients: 2 });
    for (const id of ['a', 'b']) expect((await (await h.client()).connect(id)).returnCode).toBe(0);
    expect((await (await h.client()).connect('c')).returnCode).toBe(ReturnCode.CONGESTION);
    expect(h.gw.stats().drops.max_clients).toBe(1);
  });

  it('a full table of silent long-keep-alive devices gives way: the one silent longest is told DISCONNECT', async () => {
    // The flood of issue notes: CONNECTs with keep-alive 65535 s would hold every place for 27 h.
    const h = await gateway({ max_clients: 3, evict_idle_after: '400ms' });
    const silent = [await h.client(), await h.client()];
    for (const [i, c] of silent.entries()) {
      expect((await c.connect(`idle${i}`, { duration: 65535 })).returnCode).toBe(0);
      await new Promise((r) => setTimeout(r, 20)); // idle0 is silent strictly longer than idle1
    }
    const busy = await h.client();
    expect((await busy.connect('busy', { duration: 65535 })).returnCode).toBe(0);
    // Not silent long enough yet: refused as before.
    expect((await (await h.client()).connect('early')).returnCode).toBe(ReturnCode.CONGESTION);
    // The busy device keeps talking (PINGREQ); the idle ones say nothing. (Candidates are looked for
    // at most once a second: the refusal above looked just now.)
    const until = Date.now() + 1100;
    while (Date.now() < until) {
      await busy.send({ type: 'pingreq' });
      await busy.expect('pingresp');
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = await h.client();
    expect((await late.connect('late')).returnCode).toBe(ReturnCode.ACCEPTED);
    await silent[0]!.expect('disconnect'); // idle0 was silent longest
    expect(h.gw.stats().drops.session_evicted).toBe(1);
    // The next one takes idle1's place; then only talking devices are left, and a newcomer is refused.
    expect((await (await h.client()).connect('later')).returnCode).toBe(ReturnCode.ACCEPTED);
    await silent[1]!.expect('disconnect');
    expect((await (await h.client()).connect('last')).returnCode).toBe(ReturnCode.CONGESTION);
    expect(h.gw.stats().drops.session_evicted).toBe(2);
    await busy.send({ type: 'pingreq' });
    await busy.expect('pingresp'); // still connected
  });

  it('an offline session expires after session_expiry, with its subscriptions and rows', async () => {
    const h = await gateway({ session_expiry: '300ms' });
    const c = await h.client();
    await c.connect('gone', { cleanSession: false });
    expect((await subscribe(c, 'cmd/gone/#', 1)).returnCode).toBe(0);
    await c.send({ type: 'disconnect' });
    await c.expect('disconnect');
    expect(h.gw.stats().clients.offline).toBe(1);
    await waitFor(() => h.gw.stats().drops.session_expired === 1, 'session expired', 5000);
    expect(h.gw.stats().clients.offline).toBe(0);
    await firstValueFrom(h.gw.subscriptions$.pipe(filter((m) => m.size === 0)));
    await waitFor(() => h.store.devices.list('mqttsn').length === 0, 'rows deleted');
  });
});

describe('mqttsn: per-device state is bounded and stored as rows', () => {
  it('SUBSCRIBE #65 is refused with "not supported"; changing the QoS of a held filter is not', async () => {
    const h = await gateway();
    const c = await h.client();
    await c.connect('subs');
    for (let i = 0; i < 64; i++) expect((await subscribe(c, `t/${i}/#`, i + 1)).returnCode).toBe(0);
    expect((await subscribe(c, 't/64/#', 100)).returnCode).toBe(ReturnCode.NOT_SUPPORTED);
    expect((await subscribe(c, 't/0/#', 101, 2)).returnCode).toBe(0);
    expect(h.gw.stats().drops.subscription_limit).toBe(1);
  });

  it('routes upstream messages through the topic tree: wildcards, max QoS per device, $-topics', async () => {
    const h = await gateway();
    const a = await h.client();
    const b = await h.client();
    await a.connect('a');
    await b.connect('b');
    await subscribe(a, 'x/+/z', 1, 0);
    await subscribe(a, 'x/#', 2, 1);
    await subscribe(b, '#', 1, 0);
    const delivered = h.gw.deliver({ topic: 'x/y/z', payload: Buffer.from('1'), qos: 1, retain: false });
    // A new concrete topic for a wildcard subscriber: REGISTERed first.
    for (const c of [a, b]) {
      const r = await c.expect('register');
      await c.send({ type: 'regack', topicId: r.topicId, msgId: r.msgId, returnCode: 0 });
    }
    const pa = await a.expect('publish');
    expect(pa.flags.qos).toBe(1); // the higher of a's two matching filters, once
    await a.send({ type: 'puback', topicId: pa.topicId, msgId: pa.msgId, returnCode: 0 });
    expect((await b.expect('publish')).flags.qos).toBe(0);
    await delivered;
    await a.expectNone('publish', 100);
    await h.gw.deliver({ topic: '$SYS/x', payload: Buffer.from('2'), qos: 0, retain: false });
    await b.expectNone('publish', 100);
  });

  it('keeps registrations, subscriptions and the will of a clean-session=false device across a restart', async () => {
    const h = await gateway({}, sharedStore());
    const c = await h.client();
    await c.send({
      type: 'connect',
      flags: flags({ will: true, cleanSession: false }),
      protocolId: 1,
      duration: 1,
      clientId: 'keep',
    });
    await c.expect('willtopicreq');
    await c.send({ type: 'willtopic', flags: flags({ qos: 1, retain: true }), topic: 'status/keep' });
    await c.expect('willmsgreq');
    await c.send({ type: 'willmsg', msg: Buffer.from('offline') });
    expect((await c.expect('connack')).returnCode).toBe(0);
    const reg = await register(c, 'data/keep', 1);
    expect(reg.returnCode).toBe(0);
    expect((await subscribe(c, 'cmd/keep/#', 2)).returnCode).toBe(0);

    const h2 = await restart(h);
    // Connected when the gateway stopped: reported online from the start (status page, availability).
    expect(h2.devices.map((e) => [e.device, e.state])).toEqual([['keep', 'online']]);
    await firstValueFrom(h2.gw.subscriptions$.pipe(filter((m) => m.has('cmd/keep/#'))));
    // The device does not come back within 1.5 x its keep-alive: its will goes out.
    const will = await waitFor(() => h2.readings.find((r) => r.topic === 'status/keep'), 'will', 5000);
    expect(will).toMatchObject({ device: 'keep', qos: 1, retain: true });
    expect(will.payload.toString()).toBe('offline');
    expect(h2.devices.map((e) => e.state)).toEqual(['online', 'lost']);

    // It reconnects (the old harness closed its socket: a new port): its registration still names the topic.
    const c2 = await h2.client();
    expect((await c2.connect('keep', { cleanSession: false })).returnCode).toBe(0);
    await c2.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: reg.topicId,
      msgId: 7,
      data: Buffer.from('42'),
    });
    expect((await c2.expect('puback')).returnCode).toBe(0);
    expect(h2.readings.find((r) => r.topic === 'data/keep')?.payload.toString()).toBe('42');
  });

  it('a REGISTER writes one row, not the session: WAL bytes per 4 KB REGISTER stay near the name size', async () => {
    const dir = tmpDir('fieldgate-snwal-');
    const h = await gateway({ max_topic_length: 4096, max_state_bytes_per_client: '1MiB' }, sharedStore(dir));
    const c = await h.client();
    await c.connect('wal', { cleanSession: false });
    const name = (i: number) => `t/${String(i).padStart(3, '0')}/${'x'.repeat(4000)}`;
    for (let i = 0; i < 40; i++) expect((await register(c, name(i), i + 1)).returnCode).toBe(0);

    const db = new Database(dbPath(dir));
    try {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma('wal_checkpoint(TRUNCATE)');
      // REGACK is sent after the commit: once it is here, the write is in the WAL.
      expect((await register(c, name(40), 41)).returnCode).toBe(0);
      const { log } = (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!;
      const written = log * pageSize;
      // A snapshot rewrite would be 41 names (~165 KB); one row plus its index entry is a few pages.
      expect(written).toBeLessThan(4 * 4096 + 4 * pageSize);
      expect(db.prepare(`SELECT count(*) AS n FROM device_topic WHERE client_id = 'wal'`).get()).toEqual({
        n: 41,
      });
      expect(db.prepare(`SELECT count(*) AS n FROM kv`).get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});

describe('mqttsn: the inbox is bounded from its stored rows', () => {
  it('the per-device byte budget holds across a restart', async () => {
    const cfg = { max_queued_bytes_per_client: 1000 };
    const h = await gateway(cfg, sharedStore());
    const c = await h.client();
    await c.connect('slp', { cleanSession: false });
    await subscribe(c, 'x/#', 1);
    await c.send({ type: 'disconnect' });
    await c.expect('disconnect');
    const m = (i: number) => ({
      topic: `x/${i}`,
      payload: Buffer.alloc(200),
      qos: 1 as const,
      retain: false,
    });
    for (let i = 0; i < 6; i++) await h.gw.deliver(m(i)); // 203 bytes each: 4 fit in 1000
    expect(h.store.inbox.pending('mqttsn', 'slp')).toHaveLength(4);
    expect(h.gw.stats().drops.inbox_full).toBe(2);

    const h2 = await restart(h, cfg);
    for (let i = 6; i < 9; i++) await h2.gw.deliver(m(i));
    expect(h2.store.inbox.pending('mqttsn', 'slp')).toHaveLength(4);
    expect(h2.gw.stats().drops.inbox_full).toBe(3);
  });

  it('subscription traffic for a sleeper expires after subscription_ttl; commands do not', async () => {
    const h = await gateway({ subscription_ttl: '150ms' });
    const c = await h.client();
    await c.connect('ttl', { duration: 30 });
    await subscribe(c, 'cmd/ttl/#', 1);
    await c.send({ type: 'disconnect', duration: 60 });
    await c.expect('disconnect');
    await h.gw.deliver({ topic: 'cmd/ttl/a', payload: Buffer.from('1'), qos: 1, retain: false });
    const cmd = {
      id: 'c1',
      target: 'mqttsn',
      device: 'ttl',
      topic: 'cmd/ttl/b',
      payload: Buffer.from('2'),
      qos: 1 as const,
    };
    expect(await h.gw.send(cmd)).toBe('queued');
    const rows = h.store.inbox.pending('mqttsn', 'ttl');
    expect(rows).toHaveLength(2);
    expect(rows[0]!.expiresAt! - rows[0]!.createdAt).toBeGreaterThanOrEqual(140);
    expect(rows[1]!.expiresAt).toBeNull();
    await waitFor(() => h.store.inbox.pending('mqttsn', 'ttl').length === 1, 'subscription traffic expired');
    expect(h.store.inbox.pending('mqttsn', 'ttl')[0]!.commandId).toBe('c1');
  });
});

describe('mqttsn: anonymous QoS -1 cannot evict acknowledged data', () => {
  it('200 QoS -1 datagrams leave all 50 acked QoS 1 readings in a full drop-oldest outbox', async () => {
    const store = sharedStore(undefined, { max_rows: 60, overflow: 'drop-oldest' });
    // Readings are settled by the ingest below, after their outbox write commits.
    const h = await gateway({ qos_minus_one: { enabled: true } }, store, null);
    // ... as the gateway does it: readings -> outbox (identity rules) -> settle.
    const rules = {
      uplink: async (r: {
        source: string;
        device: string;
        topic: string;
        payload: Buffer;
        qos: 0 | 1 | 2;
        retain: boolean;
        receivedAt: number;
      }) => ({
        messages: [
          {
            source: r.source,
            device: r.device,
            topic: r.topic,
            payload: r.payload,
            qos: r.qos,
            retain: r.retain,
            receivedAt: r.receivedAt,
          },
        ],
        commands: [],
      }),
    };
    const ingest = startIngest(h.gw.readings$, {
      rules: () => rules,
      outbox: store.outbox,
      dispatch: () => {},
      logger: pino({ level: 'silent' }),
    });
    try {
      const dev = await h.client();
      await dev.connect('acked');
      const ab = shortNameToId('ab')!;
      for (let i = 1; i <= 50; i++) {
        await dev.send({
          type: 'publish',
          flags: flags({ qos: 1, topicIdType: 2 }),
          topicId: ab,
          msgId: i,
          data: Buffer.from(`${i}`),
        });
        expect((await dev.expect('puback', 2000, (p) => p.msgId === i)).returnCode).toBe(0);
      }
      const anon = await h.client();
      for (let i = 0; i < 200; i++)
        await anon.send({
          type: 'publish',
          flags: flags({ qos: -1, topicIdType: 2 }),
          topicId: ab,
          msgId: 0,
          data: Buffer.from('x'),
        });
      await waitFor(() => h.readings.length === 250, 'all readings', 5000);
      await waitFor(() => store.outbox.stats().rows === 60, 'outbox full');
      const rows = store.outbox.nextQueued(0, 100);
      expect(rows.filter((r) => r.qos === 1).map((r) => r.payload.toString())).toEqual(
        Array.from({ length: 50 }, (_, i) => `${i + 1}`),
      );
      expect(rows.filter((r) => r.qos === 0)).toHaveLength(10);
    } finally {
      ingest.unsubscribe();
    }
  });
});

describe('mqttsn: acks only after the state write commits', () => {
  it('REGACK, SUBACK and WILLTOPICRESP report "congestion" when the write fails, never "accepted" first', async () => {
    const h = await gateway();
    const c = await h.client();
    await c.connect('late', { cleanSession: false });
    h.store.close(); // every later write rejects
    const reg = await register(c, 'a/b', 1);
    expect(reg.returnCode).toBe(ReturnCode.CONGESTION);
    expect((await subscribe(c, 'cmd/late/#', 2)).returnCode).toBe(ReturnCode.CONGESTION);
    await c.send({ type: 'willtopicupd', flags: flags({ qos: 1 }), topic: 'w/late' });
    expect((await c.expect('willtopicresp')).returnCode).toBe(ReturnCode.CONGESTION);
    await c.expectNone('regack', 50);
    await c.expectNone('suback', 0);
    expect(h.gw.stats().drops.store_error).toBe(3);
    // Nothing half-kept: the refused subscription does not reach upstream.
    expect([...(await firstValueFrom(h.gw.subscriptions$)).keys()]).toEqual([]);
  });
});
