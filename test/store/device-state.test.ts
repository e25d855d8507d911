import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { InboxFullError, type InboxPut, type OutboxRow } from '../../contracts/store.js';
import { dbPath } from '../../gateway/store/database.js';
import { MIGRATIONS } from '../../gateway/store/migrations.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { cost, dropTotals, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

const put = (device: string, bytes: number, extra: Partial<InboxPut> = {}): InboxPut => ({
  target: 'mqttsn',
  device,
  topic: 't', // 1 byte: a row costs bytes + 1
  payload: Buffer.alloc(bytes),
  qos: 1,
  expiresAt: null,
  ...extra,
});

describe('device sessions as rows', () => {
  it('migrates the KvState session snapshots of earlier versions into rows, skipping garbage', () => {
    const dir = tmpDir();
    // A database as the version before device rows left it: schema up to that step, snapshots in kv.
    const step = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE device_session'));
    expect(step).toBeGreaterThan(0);
    const db = new Database(dbPath(dir));
    for (let v = 0; v < step; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${step}`);
    const kv = db.prepare(`INSERT INTO kv (namespace, key, value) VALUES ('mqttsn.sessions', ?, ?)`);
    kv.run(
      'dev1',
      JSON.stringify({
        subs: [
          ['cmd/dev1/#', 1],
          ['bad', 7],
        ],
        topics: [
          [1, 'a/b'],
          [2, 'c'],
        ],
      }),
    );
    kv.run('dev2', JSON.stringify({ subs: [], topics: [] }));
    kv.run('junk', 'not json');
    db.prepare(`INSERT INTO kv (namespace, key, value) VALUES ('other', 'k', '1')`).run();
    db.close();

    const { store } = open(dir);
    const rows = store.devices.list('mqttsn');
    const byId = new Map(rows.map((r) => [r.clientId, r]));
    expect(byId.get('dev1')?.topics.sort()).toEqual([
      [1, 'a/b'],
      [2, 'c'],
    ]);
    expect(byId.get('dev1')?.subs).toEqual([['cmd/dev1/#', 1]]);
    expect(byId.get('dev1')?.live).toBe(false);
    expect(byId.get('dev2')).toBeDefined();
    expect(store.state.list('mqttsn.sessions')).toEqual([]);
    expect(store.state.get('other', 'k')).toBe(1);
    store.close();
  });

  it('writes registrations, subscriptions and wills as separate rows, and deletes them all', async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    const meta = {
      lastSeen: 5,
      live: true,
      keepAliveMs: 1000,
      sleepMs: 0,
      peer: { address: '127.0.0.1', port: 9 },
    };
    await store.devices.update('mqttsn', 'd', {
      meta,
      will: { topic: 'w', msg: Buffer.from('bye'), qos: 1, retain: true },
      putTopics: [
        [1, 'x'],
        [2, 'y'],
      ],
      putSubs: [['s/#', 2]],
    });
    await store.devices.update('mqttsn', 'd', {
      deleteTopics: [1],
      putTopics: [[3, 'z']],
      deleteSubs: ['s/#'],
    });
    store.close();

    const again = open(dir).store;
    const [d] = again.devices.list('mqttsn');
    expect(d).toMatchObject({ clientId: 'd', ...meta, subs: [] });
    expect(d!.will).toEqual({ topic: 'w', msg: Buffer.from('bye'), qos: 1, retain: true });
    expect(d!.topics.sort()).toEqual([
      [2, 'y'],
      [3, 'z'],
    ]);
    await again.devices.update('mqttsn', 'd', { replaceAll: true, putSubs: [['only', 0]] });
    expect(again.devices.list('mqttsn')[0]).toMatchObject({ topics: [], subs: [['only', 0]] });
    await again.devices.remove('mqttsn', 'd');
    expect(again.devices.list('mqttsn')).toEqual([]);
    again.close();
  });
});

describe('inbox bounds', () => {
  it('refuses a put past the device or whole-inbox bound, from the stored rows, also after a restart', async () => {
    const dir = tmpDir();
    const limits = { maxRows: 10, maxBytes: 10_000, deviceMaxRows: 3, deviceMaxBytes: 1_000 };
    let { store } = open(dir);
    await store.inbox.put(put('a', 499), limits);
    await store.inbox.put(put('a', 499), limits); // 1000 bytes: the device's budget is full
    await expect(store.inbox.put(put('a', 1), limits)).rejects.toMatchObject({ scope: 'device' });
    // Puts of one flush see each other: of three concurrent, the budget admits one.
    const results = await Promise.allSettled([1, 2, 3].map(() => store.inbox.put(put('b', 400), limits)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    store.close();

    // A restart does not reset the budget: it is the stored rows.
    ({ store } = open(dir));
    expect(store.inbox.deviceTotals?.('mqttsn', 'a')).toEqual({ rows: 2, bytes: 1000 });
    const refused = await store.inbox.put(put('a', 1), limits).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InboxFullError);
    // Draining frees it.
    const ids = store.inbox.pending('mqttsn', 'a').map((r) => r.id);
    await store.inbox.remove(ids);
    expect(store.inbox.deviceTotals?.('mqttsn', 'a')).toEqual({ rows: 0, bytes: 0 });
    await store.inbox.put(put('a', 1), limits);
    // Whole inbox: 10 rows over every device.
    for (let i = 0; i < 7; i++) await store.inbox.put(put(`c${i}`, 1), limits);
    expect(store.inbox.count()).toBe(10);
    await expect(store.inbox.put(put('z', 1), limits)).rejects.toMatchObject({ scope: 'inbox' });
    store.close();
  });

  it('removeDeviceTraffic deletes subscription traffic but keeps commands', async () => {
    const { store } = open(tmpDir());
    await store.inbox.put(put('a', 1));
    await store.inbox.put(put('a', 1, { commandId: 'c1' }));
    await store.inbox.put(put('b', 1));
    expect(await store.inbox.removeDeviceTraffic?.('mqttsn', 'a')).toBe(1);
    expect(store.inbox.pending('mqttsn', 'a').map((r) => r.commandId)).toEqual(['c1']);
    expect(store.inbox.count()).toBe(2);
    store.close();
  });
});

describe('drop-oldest and QoS 0', () => {
  const q0 = (seq: number, bytes?: number) => ({ ...msg('anon', seq, bytes), qos: 0 as const });

  it('200 QoS 0 rows never evict 50 QoS 1 rows: the QoS 0 rows drop among themselves', async () => {
    const { store } = open(tmpDir(), { max_rows: 60 });
    const dropped = dropTotals(store);
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.outbox.enqueue([msg('d', i)])));
    for (let i = 0; i < 200; i += 20)
      await Promise.all(Array.from({ length: 20 }, (_, j) => store.outbox.enqueue([q0(1000 + i + j)])));
    const rows = store.outbox.nextQueued(0, 100);
    expect(rows.filter((r) => r.qos === 1)).toHaveLength(50);
    // The newest QoS 0 rows fill what is left.
    expect(rows.filter((r) => r.qos === 0).map((r) => Number(r.payload.toString()))).toEqual(
      Array.from({ length: 10 }, (_, i) => 1190 + i),
    );
    expect(dropped).toEqual({ max_rows: 190 });
    store.close();
  });

  it('a QoS 0 row that only QoS 1 rows could make room for is itself dropped, and never announced', async () => {
    const tenRows = 10 * cost(msg('d', 0, 1000));
    const { store } = open(tmpDir(), { max_rows: 100_000, max_bytes: tenRows });
    const dropped = dropTotals(store);
    const added: OutboxRow[] = [];
    store.outbox.added$.subscribe((rows) => added.push(...rows));
    for (let i = 0; i < 10; i++) await store.outbox.enqueue([msg('d', i, 1000)]);
    await store.outbox.enqueue([q0(99, 500)]);
    expect(store.outbox.stats()).toMatchObject({ rows: 10, bytes: tenRows });
    expect(store.outbox.nextQueued(0, 20).every((r) => r.qos === 1)).toBe(true);
    expect(added.filter((r) => r.qos === 0)).toEqual([]);
    expect(dropped).toEqual({ max_bytes: 1 });
    // A QoS 1 row still makes room by dropping the oldest (QoS 0 first, none left here).
    await store.outbox.enqueue([msg('d', 10, 1000)]);
    expect(Number(store.outbox.nextQueued(0, 1)[0]!.payload[0])).toBe(1);
    expect(dropped).toEqual({ max_bytes: 2 });
    store.close();
  });

  it('a QoS 1 row evicts older QoS 0 rows before any QoS 1 row', async () => {
    const { store } = open(tmpDir(), { max_rows: 4 });
    await store.outbox.enqueue([msg('d', 0)]);
    await store.outbox.enqueue([q0(1)]);
    await store.outbox.enqueue([msg('d', 2)]);
    await store.outbox.enqueue([q0(3)]);
    await store.outbox.enqueue([msg('d', 4)]);
    await store.outbox.enqueue([msg('d', 5)]);
    expect(store.outbox.nextQueued(0, 10).map((r) => Number(r.payload.toString()))).toEqual([0, 2, 4, 5]);
    store.close();
  });
});
