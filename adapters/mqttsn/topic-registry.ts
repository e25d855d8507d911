import { topicCost } from './state-budget.js';

/** Per-client normal topic ids (REGISTER from either side), 1..0xFFFE; 0 and 0xFFFF are reserved. */
export class TopicRegistry {
  private readonly byId = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private next = 1;
  /** What the registrations cost (state-budget.ts topicCost, summed). */
  bytes = 0;

  constructor(private readonly max: number) {}

  nameOf(id: number): string | undefined {
    return this.byId.get(id);
  }

  idOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** The existing id for `name`, or a new one; undefined when the registry is full. */
  assign(name: string): number | undefined {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    if (this.byId.size >= this.max) return undefined;
    let id = this.next;
    while (this.byId.has(id)) id = id >= 0xfffe ? 1 : id + 1;
    this.next = id >= 0xfffe ? 1 : id + 1;
    this.byId.set(id, name);
    this.byName.set(name, id);
    this.bytes += topicCost(name);
    return id;
  }

  forget(id: number): void {
    const name = this.byId.get(id);
    if (name === undefined) return;
    this.byId.delete(id);
    this.byName.delete(name);
    this.bytes -= topicCost(name);
  }

  get size(): number {
    return this.byId.size;
  }

  entries(): [number, string][] {
    return [...this.byId];
  }

  restore(entries: readonly [number, string][]): void {
    for (const [id, name] of entries) {
      if (!Number.isInteger(id) || id < 1 || id > 0xfffe || typeof name !== 'string') continue;
      if (this.byId.has(id)) this.forget(id);
      this.byId.set(id, name);
      this.bytes += topicCost(name);
      this.byName.set(name, id);
      if (id >= this.next) this.next = id >= 0xfffe ? 1 : id + 1;
    }
  }
}

/** Predefined topic ids from config: global, overridden per client. */
export class PredefinedTopics {
  private readonly global: Map<number, string>;
  private readonly perClient = new Map<string, Map<number, string>>();

  constructor(global: Record<string, string>, clients: Record<string, Record<string, string>>) {
    const toMap = (r: Record<string, string>) =>
      new Map(Object.entries(r).map(([k, v]) => [Number(k), v] as const));
    this.global = toMap(global);
    for (const [c, r] of Object.entries(clients)) this.perClient.set(c, toMap(r));
  }

  nameOf(clientId: string | undefined, id: number): string | undefined {
    return (
      (clientId !== undefined ? this.perClient.get(clientId)?.get(id) : undefined) ?? this.global.get(id)
    );
  }

  idOf(clientId: string, name: string): number | undefined {
    for (const m of [this.perClient.get(clientId), this.global]) {
      for (const [id, n] of m ?? []) if (n === name) return id;
    }
    return undefined;
  }
}
