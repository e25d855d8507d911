import Database from 'better-sqlite3';
import { dbPath } from './database.js';
import { SCHEMA_VERSION, schemaVersion } from './migrations.js';

/*
 * For the CLI, beside a gateway that may be running: WAL lets readers work alongside its writer, and a
 * short write transaction waits for the gateway's lock (busy_timeout) instead of failing.
 */

/** Opens the store of `dir` for one CLI operation (schema checked), closed afterwards. */
export function withDb<T>(dir: string, readonly: boolean, use: (db: Database.Database) => T): T {
  const db = new Database(dbPath(dir), { readonly, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const version = schemaVersion(db);
    if (version !== SCHEMA_VERSION) {
      throw new Error(
        `store schema version ${version}, this fieldgate reads ${SCHEMA_VERSION}: run the gateway once`,
      );
    }
    return use(db);
  } finally {
    db.close();
  }
}
