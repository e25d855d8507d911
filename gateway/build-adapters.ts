import type { AdapterDeps, Reserved } from '../adapters/descriptor.js';
import { adapterKinds } from '../adapters/registry.js';
import type { Adapter } from '../adapters/types.js';
import { reportsDevices } from './availability.js';
import type { Config } from './config/schema.js';

/**
 * Every configured adapter instance, kind by kind in registry order; keyed by adapter name.
 * `ownTopics`: the gateway's own topic filters (commands, status, availability), current after a reload.
 */
export function buildAdapters(
  config: Config,
  deps: Omit<AdapterDeps, 'reserved'> & { ownTopics?: () => readonly string[] },
): Map<string, Adapter> {
  const adapters = new Map<string, Adapter>();
  const reserved = new ReservedNames(config, deps.ownTopics ?? (() => []));
  for (const kind of adapterKinds)
    for (const a of kind.build(config[kind.key as keyof Config], {
      ...deps,
      reserved: reserved.for(kind.key),
    })) {
      adapters.set(a.name, a);
      reserved.watch(kind.key, a);
    }
  return adapters;
}

/** Device ids other adapters reported (serial `device_field` ids): at most this many are kept per kind. */
const SEEN_MAX = 10_000;

/**
 * What a device may not claim: the gateway's id, the serial and Modbus device names, and the device
 * ids that adapters of another kind have reported so far (a serial frame's `device_field` id): their
 * availability and command topics are keyed by that name alone. And the gateway's own topics as
 * subscriptions.
 */
class ReservedNames {
  private readonly configured: string[];
  /** Per adapter kind: the names its devices may not take. */
  private readonly byKind = new Map<string, { ids: Set<string>; last: Reserved }>();

  constructor(
    config: Config,
    private readonly ownTopics: () => readonly string[],
  ) {
    this.configured = [
      config.gateway.id,
      ...config.serial.map((p) => p.name),
      ...config.modbus.flatMap((b) => b.devices.map((d) => d.name)),
    ];
  }

  /** The getter for one kind: the same object until the own topics change. */
  for(kind: string): () => Reserved {
    const entry = this.entry(kind);
    return () => {
      const filters = this.ownTopics();
      if (filters !== entry.last.filters) entry.last = { clientIds: entry.ids, filters };
      return entry.last;
    };
  }

  /** Ids an adapter reports are reserved against every other kind (hot streams: subscribing starts nothing). */
  watch(kind: string, a: Adapter): void {
    if (!reportsDevices(a)) return;
    a.devices$.subscribe((e) => {
      for (const [k, { ids }] of this.byKind) if (k !== kind && ids.size < SEEN_MAX) ids.add(e.device);
    });
  }

  private entry(kind: string) {
    let e = this.byKind.get(kind);
    if (!e) {
      const ids = new Set(this.configured);
      e = { ids, last: { clientIds: ids, filters: [] } };
      this.byKind.set(kind, e);
    }
    return e;
  }
}
