import { Subject } from 'rxjs';
import type { Inbox, InboxRow, KvState } from '../../gateway/store/types.js';

/** In-memory Inbox for unit tests of pure logic; integration tests use the real SQLite store. */
export class MemoryInbox implements Inbox {
  readonly rows: InboxRow[] = [];
  readonly expired$ = new Subject<number>();
  private nextId = 1;
  async put(cmd: Omit<InboxRow, 'id' | 'createdAt'>): Promise<number> {
    const id = this.nextId++;
    this.rows.push({ ...cmd, id, createdAt: Date.now() });
    return id;
  }
  pending(target: string, device: string, limit = 100): InboxRow[] {
    const now = Date.now();
    return this.rows
      .filter(
        (r) => r.target === target && r.device === device && (r.expiresAt === null || r.expiresAt > now),
      )
      .slice(0, limit);
  }
  async remove(ids: number[]): Promise<void> {
    for (const id of ids) {
      const i = this.rows.findIndex((r) => r.id === id);
      if (i >= 0) this.rows.splice(i, 1);
    }
  }
  async expire(now = Date.now()): Promise<InboxRow[]> {
    const gone = this.rows.filter((r) => r.expiresAt !== null && r.expiresAt <= now);
    await this.remove(gone.map((r) => r.id));
    return gone;
  }
  count(): number {
    return this.rows.length;
  }
}

export class MemoryKv implements KvState {
  readonly data = new Map<string, Map<string, unknown>>();
  get<T>(ns: string, key: string): T | undefined {
    return this.data.get(ns)?.get(key) as T | undefined;
  }
  async put(ns: string, key: string, value: unknown): Promise<void> {
    if (!this.data.has(ns)) this.data.set(ns, new Map());
    this.data.get(ns)!.set(key, structuredClone(value));
  }
  async delete(ns: string, key: string): Promise<void> {
    this.data.get(ns)?.delete(key);
  }
  list<T>(ns: string): { key: string; value: T }[] {
    return [...(this.data.get(ns) ?? [])].map(([key, value]) => ({ key, value: value as T }));
  }
}
