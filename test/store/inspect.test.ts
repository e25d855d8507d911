import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peek, purge, stats } from '../../gateway/store/inspect.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { cost, msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

describe('inspect (CLI) beside a running store', () => {
  it('reads stats and peeks rows while the store is open, then purges', async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    const ids = await store.outbox.enqueue([msg('a', 0, 10), msg('a', 1, 20), msg('b', 2, 30)]);
    await store.outbox.markSent([{ id: ids[0]!, packetId: 5 }]);
    await store.inbox.put({
      target: 'mqttsn',
      device: 'a',
      topic: 'cmd/a',
      payload: Buffer.from('x'),
      qos: 0,
      expiresAt: null,
    });
    await store.state.put('ns', 'k', 1);

    const s = stats(dir);
    expect(s.path).toBe(join(dir, 'fieldgate.db'));
    expect(s.fileBytes).toBeGreaterThan(0);
    const bytes = cost(msg('a', 0, 10)) + cost(msg('a', 1, 20)) + cost(msg('b', 2, 30));
    expect(s.outbox).toMatchObject({ rows: 3, bytes, inflight: 1, queued: 2 });
    expect(s.inbox.rows).toBe(1);
    expect(s.kv.rows).toBe(1);

    const rows = peek(dir, { limit: 2, from: 'outbox' });
    expect(rows.map((r) => [r.id, r.state, r.packetId])).toEqual([
      [ids[0], 'sent', 5],
      [ids[1], 'queued', null],
    ]);
    expect(peek(dir, { limit: 10, from: 'inbox' }).map((r) => r.payload.toString())).toEqual(['x']);

    expect(purge(dir, { which: 'outbox' })).toEqual({ outbox: 3, inbox: 0 });
    // The running store sees the purge, and its in-memory counters follow it.
    expect(store.outbox.stats()).toMatchObject({ rows: 0, bytes: 0, inflight: 0 });
    await store.outbox.enqueue([msg('a', 3)]);
    expect(stats(dir).outbox.rows).toBe(1);
    expect(purge(dir, { which: 'all' })).toEqual({ outbox: 1, inbox: 1 });
    store.close();
  });

  it('reads a database no gateway has open', async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    await store.outbox.enqueue([msg('a', 0)]);
    store.close();
    expect(stats(dir).outbox.rows).toBe(1);
    expect(peek(dir, { limit: 1, from: 'outbox' })[0]!.payload.toString()).toBe('0');
  });

  it('refuses a missing database instead of creating one', () => {
    expect(() => stats(tmpDir())).toThrow();
  });
});
