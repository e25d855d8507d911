import type { QoS } from '../types.js';
import type { Peer } from './peer.js';
import { PeerMap } from './peer-map.js';
import type { Session } from './session.js';
import { type StateBudget, sourceOf, subCost } from './state-budget.js';
import { TopicTree } from './topic-tree.js';

/**
 * Sessions by client id, the bound ones by source address (packets other than CONNECT carry no id),
 * the offline ones oldest first (evicted or expired in that order), and every subscription in a
 * topic tree. Subscriptions change only through subscribe()/unsubscribe() so the tree stays right.
 */
export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly byPeerKey = new PeerMap<Session>();
  /** Offline sessions in the order they went offline (Map keeps insertion order). */
  private readonly offlineById = new Map<string, Session>();
  private readonly tree = new TopicTree<Session>();

  /** `budget` is charged what each session holds (state-budget.ts): settle() after every change. */
  constructor(readonly budget: StateBudget) {}

  get(clientId: string): Session | undefined {
    return this.byId.get(clientId);
  }

  byPeer(peer: Peer): Session | undefined {
    return this.byPeerKey.get(peer);
  }

  add(s: Session): void {
    this.byId.set(s.clientId, s);
    if (s.state === 'offline') this.markOffline(s, s.offlineSince);
    this.settle(s);
  }

  /** Charge the session what it holds now (after a registration, will or subscription changed). */
  settle(s: Session): void {
    if (this.byId.get(s.clientId) === s) this.budget.settle(s, s.source);
  }

  /** Point the session at a (possibly new) address; whoever held that address loses it. */
  bind(s: Session, peer: Peer): void {
    this.unbind(s);
    const other = this.byPeerKey.get(peer);
    if (other && other !== s) other.peer = null;
    this.byPeerKey.set(peer, s);
    s.peer = peer;
    s.source = sourceOf(peer);
    this.settle(s); // its state now counts against this address
  }

  unbind(s: Session): void {
    if (s.peer && this.byPeerKey.get(s.peer) === s) this.byPeerKey.delete(s.peer);
    s.peer = null;
  }

  remove(s: Session): void {
    this.unbind(s);
    for (const f of s.subs.keys()) this.tree.remove(f, s);
    if (this.offlineById.get(s.clientId) === s) this.offlineById.delete(s.clientId);
    if (this.byId.get(s.clientId) === s) this.byId.delete(s.clientId);
    this.budget.release(s);
  }

  /** The session went offline at `at` (clean-session=false: kept for its subscriptions). */
  markOffline(s: Session, at: number): void {
    s.state = 'offline';
    s.offlineSince = at;
    this.offlineById.delete(s.clientId);
    this.offlineById.set(s.clientId, s);
  }

  /** The session is in use again (CONNECT): no longer a candidate for eviction or expiry. */
  markLive(s: Session): void {
    if (this.offlineById.get(s.clientId) === s) this.offlineById.delete(s.clientId);
  }

  /** Offline sessions, the longest offline first. */
  offline(): IterableIterator<Session> {
    return this.offlineById.values();
  }

  subscribe(s: Session, filter: string, qos: QoS): void {
    if (!s.subs.has(filter)) s.subBytes += subCost(filter);
    s.subs.set(filter, { qos });
    this.tree.add(filter, s, qos);
    this.settle(s);
  }

  unsubscribe(s: Session, filter: string): boolean {
    if (!s.subs.delete(filter)) return false;
    s.subBytes -= subCost(filter);
    this.tree.remove(filter, s);
    this.settle(s);
    return true;
  }

  /** Sessions with a filter matching `topic`, each at its highest matching QoS. */
  match(topic: string): Map<Session, QoS> {
    return this.tree.match(topic);
  }

  /** Every filter some session holds, at the highest QoS held. */
  filters(): Map<string, QoS> {
    return this.tree.filters();
  }

  get size(): number {
    return this.byId.size;
  }

  /** Sessions not offline: connected, asleep, or in the middle of CONNECT. */
  get liveCount(): number {
    return this.byId.size - this.offlineById.size;
  }

  values(): IterableIterator<Session> {
    return this.byId.values();
  }
}
