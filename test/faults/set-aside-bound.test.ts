import { afterAll, describe, expect, it } from 'vitest';
import type { DropReason } from '../../contracts/store.js';
import { peekSetAside } from '../../gateway/store/inspect.js';
import { MAX_SET_ASIDE_ROWS } from '../../gateway/store/outbox.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { msg, openTestStore } from '../upstream/helpers.js';

afterAll(cleanupTmpDirs);

describe('the set-aside table is bounded', () => {
  it('keeps the newest MAX_SET_ASIDE_ROWS rows and counts the oldest it drops', async () => {
    const dir = tmpDir('fieldgate-set-aside-bound-');
    const store = openTestStore(dir);
    const drops: { reason: DropReason; count: number }[] = [];
    store.outbox.dropped$.subscribe((d) => drops.push(d));
    const n = MAX_SET_ASIDE_ROWS + 5;
    const ids = await store.outbox.enqueue(Array.from({ length: n }, (_, i) => msg('d', 'bad/#', `${i}`, 1)));
    const moved = await Promise.all(ids.map((id) => store.outbox.setAside(id, 'broker_disconnect')));
    expect(moved.every(Boolean)).toBe(true);
    expect(await store.outbox.setAside(ids[0]!, 'broker_disconnect')).toBe(false); // no longer in the outbox
    expect(store.outbox.stats().rows).toBe(0);
    expect(store.outbox.setAsideCount()).toBe(MAX_SET_ASIDE_ROWS);
    expect(drops.every((d) => d.reason === 'set_aside_full')).toBe(true);
    expect(drops.reduce((sum, d) => sum + d.count, 0)).toBe(5);
    store.close();
    expect(peekSetAside(dir, { limit: 1 }).map((r) => r.id)).toEqual([ids[5]]);
  });
});
