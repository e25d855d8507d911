import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../gateway/store/open.js';
import { trackChild } from '../harness/children.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { DEFAULT_LIMITS } from '../store/helpers.js';
import { PowerCutDisk } from './disk.js';

afterAll(cleanupTmpDirs);

function newDisk(): PowerCutDisk {
  const root = tmpDir('fieldgate-powercut-');
  const disk = new PowerCutDisk(join(root, 'state'), root);
  disk.prepare();
  return disk;
}

/** Run `script` (ESM; `dir` is the disk's directory) under the shim until it prints "done", then cut. */
async function runThenCut(
  disk: PowerCutDisk,
  script: string,
  env: NodeJS.ProcessEnv = {},
  torn?: () => boolean,
): Promise<void> {
  const child = trackChild(
    spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import * as fs from 'node:fs'; const dir = process.argv[1];\n${script}\nconsole.log('done'); setInterval(() => {}, 1000);`,
        disk.dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...disk.env(), ...env } },
    ),
  );
  await untilKilled(child, /^done$/m, true);
  disk.cut(torn);
}

/** Resolve once `child` printed `ready` (then SIGKILL it if `kill`) and exited. */
async function untilKilled(child: ChildProcess, ready: RegExp, kill: boolean): Promise<string> {
  let out = '';
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (ready.test(out)) resolve();
    });
    child.once('exit', (code, sig) => reject(new Error(`child exited (${code ?? sig}) early: ${err}`)));
  });
  if (kill) child.kill('SIGKILL');
  await exited;
  return out;
}

const read = (disk: PowerCutDisk, name: string) => readFileSync(join(disk.dir, name), 'utf8');

describe('power-cut simulator (LD_PRELOAD shim)', () => {
  it('keeps what was fsynced and loses what was only written', async () => {
    const disk = newDisk();
    await runThenCut(
      disk,
      `
      const p = (n) => dir + '/' + n;
      let fd = fs.openSync(p('a'), 'w'); fs.writeSync(fd, 'synced'); fs.fsyncSync(fd);
      fs.writeSync(fd, ' lost');                                  // after the fsync: gone
      const tr = fs.openSync(p('tr'), 'w'); fs.writeSync(tr, 'old'); fs.fsyncSync(tr);
      fs.closeSync(fs.openSync(p('tr'), 'w')); fs.fsyncSync(tr);  // O_TRUNC, then synced: empty
      const tu = fs.openSync(p('tu'), 'w'); fs.writeSync(tu, 'old'); fs.fsyncSync(tu);
      fs.closeSync(fs.openSync(p('tu'), 'w'));                    // O_TRUNC, never synced: still 'old'
      const b = fs.openSync(p('b'), 'w'); fs.writeSync(b, 'aaaa'); fs.fdatasyncSync(b);
      fs.writeSync(b, 'bb', 1);                                   // overwrite in the middle, unsynced
      const c = fs.openSync(p('c'), 'w'); fs.writeSync(c, 'never synced');
      const d = fs.openSync(p('d'), 'w'); fs.writeSync(d, 'x'.repeat(100)); fs.fsyncSync(d);
      fs.ftruncateSync(d, 10); fs.fsyncSync(d);                   // a synced truncate sticks
      const e = fs.openSync(p('e'), 'w'); fs.writeSync(e, 'y'.repeat(100)); fs.fsyncSync(e);
      fs.ftruncateSync(e, 10); fs.writeSync(e, 'zz', 50);         // truncate + extend, unsynced
      // written through one fd, synced through another (the gateway's WAL: SQLite writes, Node fsyncs),
      // and the fsync from libuv's thread pool (fs.fdatasync with a callback), as the gateway does it
      const w = fs.openSync(p('w'), 'w'); fs.writeSync(w, 'via sqlite');
      const r = fs.openSync(p('w'), 'r');
      await new Promise((res, rej) => fs.fdatasync(r, (err) => err ? rej(err) : res()));
      fs.writeSync(w, ' and more');
      const dfd = fs.openSync(dir, 'r'); fs.fsyncSync(dfd);      // the entries above are durable now
      const f = fs.openSync(p('f'), 'w'); fs.writeSync(f, 'synced data, unsynced entry'); fs.fsyncSync(f);
      `,
    );
    expect(read(disk, 'a')).toBe('synced');
    expect(read(disk, 'tr')).toBe('');
    expect(read(disk, 'tu')).toBe('old');
    expect(read(disk, 'b')).toBe('aaaa');
    expect(read(disk, 'c')).toBe(''); // the entry was synced (dir fsync), its data never was
    expect(read(disk, 'd')).toBe('x'.repeat(10));
    expect(read(disk, 'e')).toBe('y'.repeat(100));
    expect(read(disk, 'w')).toBe('via sqlite');
    expect(existsSync(join(disk.dir, 'f'))).toBe(false); // created after the last directory fsync
    expect(disk.stats().w?.syncs).toBe(1);
  });

  it('models renames and unlinks as directory changes: lost until the directory is fsynced', async () => {
    const disk = newDisk();
    await runThenCut(
      disk,
      `
      const p = (n) => dir + '/' + n;
      for (const n of ['keep', 'moved', 'gone', 'moved2']) {
        const fd = fs.openSync(p(n), 'w'); fs.writeSync(fd, n); fs.fsyncSync(fd);
      }
      const dfd = fs.openSync(dir, 'r'); fs.fsyncSync(dfd);
      fs.renameSync(p('moved2'), p('moved2-new')); fs.fsyncSync(dfd);   // synced: the new name
      fs.renameSync(p('moved'), p('moved-new'));       // not synced: the old name comes back
      fs.unlinkSync(p('gone'));                        // not synced: the file comes back
      const fd = fs.openSync(p('moved2-new'), 'r+'); fs.writeSync(fd, 'MOVED2', 0); fs.fsyncSync(fd);
      `,
    );
    expect(readdirSync(disk.dir).sort()).toEqual(['gone', 'keep', 'moved', 'moved2-new']);
    expect(read(disk, 'moved')).toBe('moved');
    expect(read(disk, 'gone')).toBe('gone');
    expect(read(disk, 'moved2-new')).toBe('MOVED2'); // data follows the inode across the rename
  });

  it('a torn cut keeps any subset of the unsynced 512-byte sectors on top of the synced image', async () => {
    const disk = newDisk();
    const script = `
      const fd = fs.openSync(dir + '/t', 'w'); fs.writeSync(fd, 'a'.repeat(1024)); fs.fsyncSync(fd);
      fs.fsyncSync(fs.openSync(dir, 'r'));
      fs.writeSync(fd, 'b'.repeat(1024), 0); fs.writeSync(fd, 'c'.repeat(1024), 1536);   // unsynced
      `;
    await runThenCut(disk, script);
    expect(read(disk, 't')).toBe('a'.repeat(1024)); // plain cut: none of it
    const keep = [true, false, false, true]; // per differing sector, in file order
    disk.prepare();
    await runThenCut(disk, script, {}, () => keep.shift() ?? false);
    // sector 0 survived, sector 1 not, the hole at 1024..1536 is zeros, sector 3 (1536..2048) survived
    expect(read(disk, 't')).toBe(`${'b'.repeat(512)}${'a'.repeat(512)}${'\0'.repeat(512)}${'c'.repeat(512)}`);
  });

  it('kills the process inside an fsync: nothing of that fsync is durable', async () => {
    const disk = newDisk();
    disk.killOn('sync', 'k');
    const child = trackChild(
      spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import * as fs from 'node:fs'; const fd = fs.openSync(process.argv[1] + '/k', 'w');
           fs.fsyncSync(fs.openSync(process.argv[1], 'r'));
           fs.writeSync(fd, 'in flight'); console.log('syncing'); fs.fsyncSync(fd); console.log('synced');`,
          disk.dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...disk.env() } },
      ),
    );
    const exit = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    expect(await exit).toBe('SIGKILL');
    expect(out).not.toContain('synced\n');
    disk.cut();
    expect(read(disk, 'k')).toBe('');
  });

  it("sees the gateway store's WAL fdatasync: every commit acknowledged before a cut survives it", async () => {
    const { committed, lost, walSyncs } = await storeCut({});
    expect(committed).toBeGreaterThan(500);
    expect(walSyncs).toBeGreaterThan(20); // one per group commit
    expect(lost).toBe(0);
  });

  it('catches the loss when the store skips the WAL fdatasync (FIELDGATE_TEST_SKIP_WAL_FSYNC=1)', async () => {
    const { committed, lost, walSyncs } = await storeCut({ FIELDGATE_TEST_SKIP_WAL_FSYNC: '1' });
    expect(committed).toBeGreaterThan(500);
    expect(lost).toBeGreaterThan(0);
    expect(walSyncs).toBeLessThan(5); // SQLite's own (WAL header, checkpoints), none per commit
  });
});

const ENQUEUER = fileURLToPath(new URL('../store/fixtures/enqueue-until-killed.ts', import.meta.url));

/**
 * The store's own durability child (enqueues until killed, printing how many are committed) under
 * the shim: cut it mid-stream, reopen the surviving files, count the committed rows that are gone.
 */
async function storeCut(
  env: NodeJS.ProcessEnv,
): Promise<{ committed: number; lost: number; walSyncs: number }> {
  const disk = newDisk();
  const child = trackChild(
    spawn(process.execPath, ['--import', 'tsx', ENQUEUER, disk.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...disk.env(), ...env },
    }),
  );
  const out = await untilKilled(child, /committed (\d{4,})\n/, true);
  const committed = Math.max(...[...out.matchAll(/committed (\d+)\n/g)].map((m) => Number(m[1])));
  const walSyncs = disk.stats()['fieldgate.db-wal']?.syncs ?? 0;
  disk.cut();
  const store = openStore({
    dir: disk.dir,
    durability: 'power-loss',
    limits: DEFAULT_LIMITS,
    logger: pino({ level: 'silent' }),
  });
  try {
    const rows = store.outbox.nextQueued(0, committed + 100_000);
    const have = new Set(rows.map((r) => Number(r.payload.toString())));
    let lost = 0;
    for (let i = 0; i < committed; i++) if (!have.has(i)) lost++;
    return { committed, lost, walSyncs };
  } finally {
    store.close();
  }
}
