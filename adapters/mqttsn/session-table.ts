import { type Peer, peerKey } from './peer.js';
import type { Session } from './session.js';

/** Sessions by client id, and the bound ones by source address (packets other than CONNECT carry no id). */
export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly byPeerKey = new Map<string, Session>();

  get(clientId: string): Session | undefined {
    return this.byId.get(clientId);
  }

  byPeer(peer: Peer): Session | undefined {
    return this.byPeerKey.get(peerKey(peer));
  }

  add(s: Session): void {
    this.byId.set(s.clientId, s);
  }

  /** Point the session at a (possibly new) address; whoever held that address loses it. */
  bind(s: Session, peer: Peer): void {
    this.unbind(s);
    const key = peerKey(peer);
    const other = this.byPeerKey.get(key);
    if (other && other !== s) other.peer = null;
    this.byPeerKey.set(key, s);
    s.peer = peer;
  }

  unbind(s: Session): void {
    if (s.peer && this.byPeerKey.get(peerKey(s.peer)) === s) this.byPeerKey.delete(peerKey(s.peer));
    s.peer = null;
  }

  remove(s: Session): void {
    this.unbind(s);
    if (this.byId.get(s.clientId) === s) this.byId.delete(s.clientId);
  }

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<Session> {
    return this.byId.values();
  }
}
