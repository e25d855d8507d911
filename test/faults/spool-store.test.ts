import { afterAll, describe, expect, it } from 'vitest';
import type { InboxPut } from '../../contracts/store.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { open } from '../store/helpers.js';

afterAll(cleanupTmpDirs);

const row = (target: string, device: string, payload: string, extra: Partial<InboxPut> = {}): InboxPut => ({
  target,
  device,
  topic: 'cm',
  payload: Buffer.from(payload),
  qos: 1,
  expiresAt: null,
  ...extra,
});

/** The store side of the command spool (real SQLite file): one atomic commit, and the reload scan. */
describe('inbox: spool writes and the reload scan', () => {
  it('putAll commits every row and the remembered id together, in order, or nothing at all', async () => {
    const { store } = open(tmpDir('fieldgate-spool-'));
    const remember = { namespace: 'upstream.qos2-in', key: '7', value: { topic: 'cmd/x' } };
    const ids = await store.inbox.putAll([row('spool:a', 'd1', 'one'), row('spool:a', 'd1', 'two')], {
      remember,
    });
    expect(ids[1]).toBeGreaterThan(ids[0]!);
    expect(store.inbox.pending('spool:a', 'd1').map((r) => r.payload.toString())).toEqual(['one', 'two']);
    expect(store.state.get('upstream.qos2-in', '7')).toEqual({ topic: 'cmd/x' });

    // A row the table refuses (qos 3 breaks its CHECK) takes the other row and the id down with it.
    const bad = { ...row('spool:a', 'd2', 'bad'), qos: 3 } as unknown as InboxPut;
    const remember8 = { namespace: 'upstream.qos2-in', key: '8', value: {} };
    await expect(
      store.inbox.putAll([row('spool:a', 'd2', 'ok'), bad], { remember: remember8 }),
    ).rejects.toThrow();
    expect(store.inbox.pending('spool:a', 'd2')).toEqual([]);
    expect(store.state.get('upstream.qos2-in', '8')).toBeUndefined();
    store.close();
  });

  it('devices(prefix) lists each (target, device) with rows under that prefix only', async () => {
    const { store } = open(tmpDir('fieldgate-spool-'));
    await store.inbox.putAll([
      row('spool:mqttsn', 'a', '1'),
      row('spool:mqttsn', 'a', '2'),
      row('spool:serial:fan', 'fan', '3'),
      row('mqttsn', 'a', 'adapter-owned'),
      row('spoolx', 'z', 'not a spool row'),
    ]);
    const pairs = store.inbox.devices('spool:').sort((x, y) => x.target.localeCompare(y.target));
    expect(pairs).toEqual([
      { target: 'spool:mqttsn', device: 'a' },
      { target: 'spool:serial:fan', device: 'fan' },
    ]);
    store.close();
  });

  it('totalsUnder(prefix) adds up the rows and bytes of the spool only, and follows removals', async () => {
    const { store } = open(tmpDir('fieldgate-spool-'));
    const ids = await store.inbox.putAll([
      row('spool:mqttsn', 'a', '12345'),
      row('spool:serial:fan', 'fan', '1'),
      row('mqttsn', 'a', 'adapter-owned'),
    ]);
    // bytes = payload + topic ('cm')
    expect(store.inbox.totalsUnder('spool:')).toEqual({ rows: 2, bytes: 5 + 2 + 1 + 2 });
    await store.inbox.remove([ids[0]!]);
    expect(store.inbox.totalsUnder('spool:')).toEqual({ rows: 1, bytes: 3 });
    expect(store.inbox.totalsUnder('nothing:')).toEqual({ rows: 0, bytes: 0 });
    store.close();
  });
});
