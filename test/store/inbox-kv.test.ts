import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import { open } from './helpers.js';

afterEach(cleanupTmpDirs);

const cmd = (device: string, text: string, expiresAt: number | null = null) => ({
  target: 'mqttsn',
  device,
  topic: `cmd/${device}`,
  payload: Buffer.from(text),
  qos: 1 as const,
  expiresAt,
});

describe('inbox', () => {
  it('keeps commands per device, oldest first, across a reopen; remove deletes', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    const a1 = await store.inbox.put(cmd('a', 'one'));
    await store.inbox.put(cmd('b', 'other'));
    const a2 = await store.inbox.put(cmd('a', 'two'));
    store.close();
    ({ store } = open(dir));
    const rows = store.inbox.pending('mqttsn', 'a');
    expect(rows.map((r) => [r.id, r.payload.toString(), r.topic, r.qos])).toEqual([
      [a1, 'one', 'cmd/a', 1],
      [a2, 'two', 'cmd/a', 1],
    ]);
    expect(rows[0]!.createdAt).toBeGreaterThan(0);
    expect(store.inbox.pending('mqttsn', 'a', 1)).toHaveLength(1);
    expect(store.inbox.pending('serial:x', 'a')).toEqual([]);
    await store.inbox.remove([a1]);
    expect(store.inbox.pending('mqttsn', 'a').map((r) => r.id)).toEqual([a2]);
    expect(store.inbox.count()).toBe(2);
    store.close();
  });

  it('skips and deletes expired commands in pending(), and expire() returns the expired ones', async () => {
    const { store } = open(tmpDir());
    const expired: string[][] = [];
    store.inbox.expired$.subscribe((rows) => expired.push(rows.map((r) => r.payload.toString())));
    const now = Date.now();
    await store.inbox.put(cmd('a', 'stale', now - 1));
    const live = await store.inbox.put(cmd('a', 'live', now + 60_000));
    await store.inbox.put(cmd('b', 'soon', now + 50));
    await store.inbox.put(cmd('c', 'forever'));

    expect(store.inbox.pending('mqttsn', 'a').map((r) => r.id)).toEqual([live]);
    await sleep(10); // pending() queued the delete; let it commit
    expect(store.inbox.count()).toBe(3);
    expect(expired).toEqual([['stale']]);

    const gone = await store.inbox.expire(now + 100);
    expect(gone.map((r) => r.payload.toString())).toEqual(['soon']);
    expect(expired).toEqual([['stale'], ['soon']]);
    expect(store.inbox.count()).toBe(2);
    store.close();
  });
});

describe('inbox command ids and metadata', () => {
  it('keeps the command id and gateway metadata with the row, across a reopen', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    await store.inbox.put({
      ...cmd('a', 'x', Date.now() + 60_000),
      commandId: 'c-1',
      meta: { resultTopic: 'res/a' },
    });
    store.close();
    ({ store } = open(dir));
    const [row] = store.inbox.pending('mqttsn', 'a');
    expect([row?.commandId, row?.meta]).toEqual(['c-1', { resultTopic: 'res/a' }]);
    store.close();
  });
});

describe('kv state', () => {
  it('puts, overwrites, lists by namespace, deletes, and survives a reopen', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    await Promise.all([
      store.state.put('qos2-in', '17', { at: 1 }),
      store.state.put('qos2-in', '3', { at: 2 }),
      store.state.put('mqttsn', 'dev1', { topics: ['a'] }),
    ]);
    await store.state.put('qos2-in', '17', { at: 9 });
    store.close();
    ({ store } = open(dir));
    expect(store.state.get('qos2-in', '17')).toEqual({ at: 9 });
    expect(store.state.get('qos2-in', 'nope')).toBeUndefined();
    expect(store.state.list('qos2-in')).toEqual([
      { key: '17', value: { at: 9 } },
      { key: '3', value: { at: 2 } },
    ]);
    await store.state.delete('qos2-in', '17');
    expect(store.state.list('qos2-in').map((e) => e.key)).toEqual(['3']);
    expect(store.state.list('mqttsn')).toEqual([{ key: 'dev1', value: { topics: ['a'] } }]);
    await expect(store.state.put('x', 'y', undefined)).rejects.toBeInstanceOf(TypeError);
    store.close();
  });
});
