import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import type { z } from 'zod';
import type { MetricSink } from '../contracts/metric-sink.js';
import type { PointCatalogue } from '../contracts/points.js';
import type { DeviceSessionStore, Inbox, KvState } from '../contracts/store.js';
import type { Adapter, CommandReply } from './types.js';

/** What the gateway hands an adapter kind to build its instances. */
export interface AdapterDeps {
  inbox: Inbox;
  state: KvState;
  devices: DeviceSessionStore;
  logger: Logger;
  /** Names devices may not take: they belong to the gateway or to another source. */
  reserved: () => Reserved;
}

/**
 * Device ids a device may not claim (the gateway's id, other sources' device names: availability and
 * command topics are keyed by that name alone), and topic filters it may not subscribe to (the
 * gateway's own topics).
 */
export interface Reserved {
  readonly clientIds: ReadonlySet<string>;
  readonly filters: readonly string[];
}

export interface SectionProblem {
  path: (string | number)[];
  message: string;
}

/** What an adapter reports beyond its readings and device events (counted, and shown on the status page). */
export interface AdapterReport {
  /** Something from a device was dropped; `device` when it is known (listed as a device problem). */
  dropped(source: string, reason: string, device?: string): void;
}

/**
 * One adapter kind, as the gateway sees it: the only export of an adapter folder the gateway uses
 * (through adapters/registry.ts), so a new adapter is one folder and one line in the registry.
 */
export interface AdapterDescriptor<K extends string = string, S extends z.ZodType = z.ZodType> {
  /** The config section it owns (`config.<key>`). */
  readonly key: K;
  readonly schema: S;
  /** Its instances for the section (none when the section configures none); constructors do no I/O. */
  build(section: z.output<S>, deps: AdapterDeps): Adapter[];
  /** Instance names the section configures (valid command and trigger targets). */
  targets(section: z.output<S>): string[];
  /** Problems within the section that its schema cannot see alone (duplicate names); paths within it. */
  check?(section: z.output<S>): SectionProblem[];
  /** The device files its instances open (two instances can never share one), paths within the section. */
  opens?(section: z.output<S>): { path: (string | number)[]; file: string; owner: string }[];
  /** Replies and results of commands sent to `adapter`, when it has them. */
  replies?(adapter: Adapter): Observable<CommandReply> | undefined;
  /**
   * Declare its metrics once on the gateway's registry; `watch` feeds them from the running
   * instances of this kind and returns what stops that.
   */
  metrics?(sink: MetricSink): { watch(adapters: readonly Adapter[]): () => void };
  /** Report drops and device problems of its instances (status page); returns what stops that. */
  observe?(adapters: readonly Adapter[], report: AdapterReport): () => void;
  /** Whether `adapter` must be listening for the gateway to serve (/health), when that applies. */
  listening?(adapter: Adapter): boolean | undefined;
  /**
   * Whether `adapter` is up now (its port open, its socket bound), when the kind can tell: a config
   * change is confirmed only once every adapter is up (else it is rolled back).
   */
  up?(adapter: Adapter): boolean | undefined;
  /**
   * Whether `device` of instance `source` gets a retained availability topic (default: yes). A kind
   * whose devices name themselves (MQTT-SN client ids) says no for the ones nobody configured.
   */
  hasAvailability?(section: z.output<S>, source: string, device: string): boolean;
  /** The points each instance knows from the section, by instance name (Reading.source). */
  points?(section: z.output<S>): Map<string, PointCatalogue>;
}

/** Keeps `key` a literal and types the section from the schema. */
export function describeAdapter<K extends string, S extends z.ZodType>(
  d: AdapterDescriptor<K, S>,
): AdapterDescriptor<K, S> {
  return d;
}

/** Indexes of the names that repeat an earlier one (for a section's `check`). */
export function duplicates(names: readonly string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  names.forEach((n, i) => {
    if (seen.has(n)) out.push(i);
    seen.add(n);
  });
  return out;
}
