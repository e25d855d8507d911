import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../contracts/store.js';
import { openDatabase } from '../../gateway/store/database.js';
import { GroupCommit } from '../../gateway/store/group-commit.js';
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
        // Deleting an acknowledged row (fails or succeeds on a full disk) must not clear it either.
        const [row] = store.outbox.nextQueued(0, 1);
        await store.outbox.complete([row!.id]).catch(() => {});
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

describe('GroupCommit write health: which commits prove the disk', () => {
  it('a storage error from an op holds through lazy deletes and constraint errors; an eager insert clears it', async () => {
    const log = pino({ level: 'silent' });
    const db = openDatabase(tmpDir(), log);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const gc = new GroupCommit(db, log);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    try {
      await gc.submit(() => insert.run('a'));
      await gc.submit(() => insert.run('b'));
      expect(gc.writeHealth().ok).toBe(true);

      const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      const throwFull = (): never => {
        throw full;
      };
      await expect(gc.submit(throwFull)).rejects.toBe(full);
      expect(gc.writeHealth()).toMatchObject({
        ok: false,
        error: 'SQLITE_FULL: database or disk is full',
        errors: 1,
      });

      // A lazy delete that really deletes a row commits fine: it proves nothing about inserts.
      await gc.submit(() => db.prepare('DELETE FROM t WHERE v = ?').run('a'), { lazy: true });
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
      expect(gc.writeHealth().ok).toBe(false);
      // An op failing on its own logic (NOT NULL) is not a disk error, and writes nothing.
      await expect(gc.submit(() => insert.run(null))).rejects.toMatchObject({
        code: 'SQLITE_CONSTRAINT_NOTNULL',
      });
      expect(gc.writeHealth().ok).toBe(false);

      // An eager insert in the same flush as a new storage error: the error wins.
      await Promise.allSettled([gc.submit(() => insert.run('c')), gc.submit(throwFull)]);
      expect(gc.writeHealth()).toMatchObject({ ok: false, errors: 2 }); // the constraint error is not one

      await gc.submit(() => insert.run('d'));
      expect(gc.writeHealth()).toMatchObject({ ok: true, lastWriteAt: expect.any(Number) });
    } finally {
      gc.close();
      db.close();
    }
  });
});
