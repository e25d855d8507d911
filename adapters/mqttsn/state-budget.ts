import type { MqttsnConfig } from './config.js';
import { plainAddress } from './pinning.js';
import type { Peer } from './peer.js';

/*
 * What a device can make the gateway keep, in bytes: per client id, per source address and in total.
 * The figures count what the state costs in memory, not only its text: a registration is kept in two
 * maps, the stored mirror and one SQLite row; a subscription also in the topic tree (its levels split).
 */

/** A Session object with its maps, downlink queue and stored mirror, empty. */
export const SESSION_BYTES = 1024;
/** One map entry kept in a few places (registry both ways, stored mirror, tree node, row). */
export const ENTRY_BYTES = 160;

const utf8 = (s: string) => Buffer.byteLength(s);
export const topicCost = (name: string) => ENTRY_BYTES + utf8(name);
export const subCost = (filter: string) => ENTRY_BYTES + 2 * utf8(filter);
/** A will, or the topic of one still being set up (session.ts Will, by shape: the session imports this file). */
export const willCost = (w: { topic: string; msg?: Buffer } | null | undefined) =>
  w ? ENTRY_BYTES + utf8(w.topic) + (w.msg?.length ?? 0) : 0;

/** The source a session counts against: its host (a forwarder's nodes are one host), or none yet. */
export const sourceOf = (p: Peer | null | undefined) => (p ? plainAddress(p.address) : undefined);

/** What a session holds that the budget tracks; `stateBytes` is its current cost. */
export interface Accounted {
  readonly clientId: string;
  stateBytes(): number;
}

type Limits = Pick<
  MqttsnConfig,
  'max_state_bytes_per_client' | 'max_state_bytes_per_source' | 'max_state_bytes'
>;

/** Which bound a growth would break; undefined when it fits. */
export type Over = 'client' | 'source' | 'total';

/**
 * Byte totals per session, per source and overall. A session is charged what it holds after each
 * change (settle), so a path that forgets to settle leaves the totals high, never low.
 */
export class StateBudget {
  private total = 0;
  private readonly bySource = new Map<string, number>();
  private readonly charged = new Map<Accounted, { bytes: number; source: string | undefined }>();

  constructor(private readonly limits: Limits) {}

  /** Would `extra` more bytes for `s` (counted at `source`) break a bound? */
  over(s: Accounted | undefined, extra: number, source: string | undefined): Over | undefined {
    const mine = s ? s.stateBytes() : 0;
    if (mine + extra > this.limits.max_state_bytes_per_client) return 'client';
    const at = this.charged.get(s as Accounted);
    const movesIn = at && at.source !== source ? mine : 0;
    if (
      source !== undefined &&
      (this.bySource.get(source) ?? 0) + movesIn + extra > this.limits.max_state_bytes_per_source
    )
      return 'source';
    if (this.total + extra > this.limits.max_state_bytes) return 'total';
    return undefined;
  }

  /** Charge `s` what it holds now, at `source` (its bound address, or where it was last seen). */
  settle(s: Accounted, source: string | undefined): void {
    const was = this.charged.get(s);
    const bytes = s.stateBytes();
    if (was) this.add(was.source, -was.bytes);
    this.add(source, bytes);
    this.charged.set(s, { bytes, source });
  }

  release(s: Accounted): void {
    const was = this.charged.get(s);
    if (!was) return;
    this.add(was.source, -was.bytes);
    this.charged.delete(s);
  }

  /** Totals for metrics and tests. */
  usage(source?: string): { total: number; source: number } {
    return { total: this.total, source: source === undefined ? 0 : (this.bySource.get(source) ?? 0) };
  }

  private add(source: string | undefined, bytes: number): void {
    this.total += bytes;
    if (source === undefined) return;
    const n = (this.bySource.get(source) ?? 0) + bytes;
    if (n > 0) this.bySource.set(source, n);
    else this.bySource.delete(source); // addresses come and go: no empty entries left
  }
}
