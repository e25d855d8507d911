import type { Database, Statement } from 'better-sqlite3';
import type { GroupCommit } from './group-commit.js';
import type { KvEntry, KvState } from '../../contracts/store.js';

/** Small durable JSON values by (namespace, key). Reads see committed state only. */
export class SqliteKvState implements KvState {
  private readonly stmt: {
    get: Statement<[string, string], { value: string }>;
    put: Statement<[string, string, string]>;
    delete: Statement<[string, string]>;
    list: Statement<[string], { key: string; value: string }>;
  };

  constructor(
    db: Database,
    private readonly commit: GroupCommit,
  ) {
    this.stmt = {
      get: db.prepare('SELECT value FROM kv WHERE namespace = ? AND key = ?'),
      put: db.prepare(
        'INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
      ),
      delete: db.prepare('DELETE FROM kv WHERE namespace = ? AND key = ?'),
      list: db.prepare('SELECT key, value FROM kv WHERE namespace = ? ORDER BY key'),
    };
  }

  get<T>(namespace: string, key: string): T | undefined {
    const row = this.stmt.get.get(namespace, key);
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  put(namespace: string, key: string, value: unknown): Promise<void> {
    // Serialise now, not at flush: the caller may mutate the object meanwhile.
    const json = JSON.stringify(value);
    if (json === undefined) return Promise.reject(new TypeError(`kv ${namespace}/${key}: value is not JSON`));
    return this.commit.submit(() => {
      this.stmt.put.run(namespace, key, json);
    });
  }

  /** Write inside the transaction being flushed (for ops that must commit together with this). */
  putInFlush(entry: KvEntry): void {
    this.stmt.put.run(entry.namespace, entry.key, JSON.stringify(entry.value));
  }

  delete(namespace: string, key: string): Promise<void> {
    return this.commit.submit(() => {
      this.stmt.delete.run(namespace, key);
    });
  }

  list<T>(namespace: string): { key: string; value: T }[] {
    return this.stmt.list.all(namespace).map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
  }
}
