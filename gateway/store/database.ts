import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { migrate } from './migrations.js';

export const DB_FILE = 'fieldgate.db';
/** quick_check reads every page; below this size it costs milliseconds, above it would slow start-up. */
const QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024;

export function dbPath(dir: string): string {
  return join(dir, DB_FILE);
}

/** SQLITE_CORRUPT (and its extended codes) or SQLITE_NOTADB: the file cannot be trusted. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * Opens (creating if needed) dir/fieldgate.db in WAL mode and migrates it. A corrupt file is moved
 * aside to fieldgate.db.corrupt-<timestamp> (with its -wal/-shm) and a fresh database is created.
 */
export function openDatabase(dir: string, logger: Logger): Database.Database {
  mkdirSync(dir, { recursive: true });
  const path = dbPath(dir);
  try {
    return openValidated(path);
  } catch (err) {
    if (!isCorruption(err)) throw err;
    const aside = moveAside(path);
    logger.error(
      { err, path, movedTo: aside },
      'STORE DATABASE IS CORRUPT: moved it aside and started with an EMPTY store; queued messages in it are not sent',
    );
    return openValidated(path);
  }
}

function openValidated(path: string): Database.Database {
  const small = !existsSync(path) || statSync(path).size <= QUICK_CHECK_MAX_BYTES;
  const db = new Database(path);
  try {
    // The first statement reads the header: a garbage file fails here with SQLITE_NOTADB.
    db.pragma('journal_mode = WAL');
    // NORMAL in both modes: SQLite then never fsyncs on commit. For power-loss durability the group
    // commit fsyncs the WAL itself, off the event loop, before any op's promise resolves (group-commit.ts).
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000'); // the CLI may hold the write lock briefly (purge)
    db.pragma('journal_size_limit = 67108864'); // shrink the WAL back after a large burst
    // Page cache 2 MiB, not better-sqlite3's 16 MiB (a Pi Zero 2 has 512 MB in all): the hot
    // path touches the tail of the table and its three indexes and the head the sender reads, a few
    // dozen pages. Measured (bench/store-micro.ts): peak RSS draining 200k rows 188 -> 175 MiB, CPU
    // per row unchanged. mmap stays off and temp_store on file (SQLite's defaults): neither pays here.
    db.pragma('cache_size = -2000');
    migrate(db);
    // Touch the schema and each table's root pages: cheap, and surfaces most corruption at open.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    db.prepare('SELECT * FROM outbox_totals').get();
    for (const table of ['outbox', 'inbox', 'kv']) db.prepare(`SELECT * FROM ${table} LIMIT 1`).get();
    if (small) {
      const result = db.pragma('quick_check', { simple: true });
      if (result !== 'ok')
        throw Object.assign(new Error(`quick_check: ${String(result)}`), { code: 'SQLITE_CORRUPT' });
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function moveAside(path: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}
