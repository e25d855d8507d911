import {
  existsSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { msg, open } from './helpers.js';

afterEach(cleanupTmpDirs);

describe('corrupt database', () => {
  it('moves a garbage file aside, logs an error, and serves from a fresh database', async () => {
    const dir = tmpDir();
    const garbage = Buffer.from('this is not a database\n'.repeat(500));
    writeFileSync(join(dir, 'fieldgate.db'), garbage);

    const { store, lines } = open(dir);
    const aside = readdirSync(dir).filter((f) => f.startsWith('fieldgate.db.corrupt-'));
    expect(aside).toEqual([expect.stringMatching(/corrupt-[\d-]+T[\d-]+Z$/)]);
    expect(readFileSync(join(dir, aside[0]!))).toEqual(garbage);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/CORRUPT/);
    expect(errors[0]!.movedTo).toMatch(/fieldgate\.db\.corrupt-/);

    const [id] = await store.outbox.enqueue([msg('d', 1)]);
    expect(store.outbox.nextQueued(0, 10).map((r) => r.id)).toEqual([id]);
    store.close();
    expect(existsSync(join(dir, 'fieldgate.db'))).toBe(true);
  });

  it('moves aside a real database whose table pages were overwritten', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    await store.outbox.enqueue(Array.from({ length: 200 }, (_, i) => msg('d', i, 500)));
    store.close(); // checkpoints the WAL into fieldgate.db
    const path = join(dir, 'fieldgate.db');
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(statSync(path).size - 4096, 0xa5), 0, undefined, 4096); // keep page 1 (header, schema)
    closeSync(fd);

    const reopened = open(dir);
    store = reopened.store;
    const lines = reopened.lines;
    expect(readdirSync(dir).filter((f) => f.startsWith('fieldgate.db.corrupt-'))).toHaveLength(1);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    expect(store.outbox.stats().rows).toBe(0);
    await store.outbox.enqueue([msg('d', 1)]);
    expect(store.outbox.stats().rows).toBe(1);
    store.close();
  });
});
