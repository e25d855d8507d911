import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../contracts/store.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  cleanupTmpDirs();
});

/** A 1 MiB tmpfs (real ENOSPC; needs root) holding the store. */
function smallDisk(): string {
  const dir = tmpDir('fieldgate-wh-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

const msg = (i: number): OutboxMessage => ({
  source: 't',
  device: 'd',
  topic: 'wh/t',
  payload: Buffer.alloc(300, i),
  qos: 1,
  retain: false,
  receivedAt: Date.now(),
});

describe('Store.writeHealth on a full disk', () => {
  for (const durability of ['power-loss', 'process-crash'] as const) {
    it(`${durability}: a storage error holds through empty and read-only commits; only a commit that wrote clears it`, async () => {
      const disk = smallDisk();
      mkdirSync(join(disk, 'state'));
      const store = openStore({
        dir: join(disk, 'state'),
        durability,
        limits: { max_rows: 1e6, max_bytes: 1e9, max_age: 86400e3, overflow: 'drop-oldest' },
        logger: pino({ level: 'silent' }),
      });
      try {
        await store.outbox.enqueue([msg(0)]);
        expect(store.writeHealth()).toMatchObject({ ok: true, lastWriteAt: expect.any(Number) });

        fill(join(disk, 'filler'));
        // Enqueue until one fails: a WAL page allocated earlier can take a few more rows.
        let failure: unknown;
        for (let i = 1; i < 500 && !failure; i++)
          await store.outbox.enqueue([msg(i)]).catch((e) => (failure = e));
        expect((failure as { code?: string }).code).toBe('SQLITE_FULL');
        const h = store.writeHealth();
        expect(h).toMatchObject({
          ok: false,
          error: expect.stringMatching(/SQLITE_FULL/),
          since: expect.any(Number),
        });

        // An expiry that deletes nothing commits fine, and proves nothing.
        expect(await store.inbox.expire()).toEqual([]);
        expect(store.state.get('x', 'y')).toBeUndefined();
        expect(store.writeHealth()).toMatchObject({ ok: false, since: h.since });

        unlinkSync(join(disk, 'filler'));
        await store.outbox.enqueue([msg(999)]);
        expect(store.writeHealth()).toMatchObject({ ok: true });
        expect(store.writeHealth().lastWriteAt).toBeGreaterThanOrEqual(h.since!);
      } finally {
        store.close();
      }
    });
  }
});
