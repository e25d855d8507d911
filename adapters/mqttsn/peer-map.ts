import { type Peer, peerKey } from './peer.js';

/**
 * A map keyed by peer. A direct peer is looked up by address, then port: no key string is built
 * for the lookup every datagram makes. A peer behind a forwarder (rare) goes by its peerKey string.
 */
export class PeerMap<V> {
  private readonly direct = new Map<string, Map<number, V>>();
  private readonly forwarded = new Map<string, V>();

  get(peer: Peer): V | undefined {
    if (peer.forward) return this.forwarded.get(peerKey(peer));
    return this.direct.get(peer.address)?.get(peer.port);
  }

  set(peer: Peer, value: V): void {
    if (peer.forward) {
      this.forwarded.set(peerKey(peer), value);
      return;
    }
    let ports = this.direct.get(peer.address);
    if (!ports) {
      ports = new Map();
      this.direct.set(peer.address, ports);
    }
    ports.set(peer.port, value);
  }

  delete(peer: Peer): void {
    if (peer.forward) {
      this.forwarded.delete(peerKey(peer));
      return;
    }
    const ports = this.direct.get(peer.address);
    if (!ports) return;
    ports.delete(peer.port);
    if (ports.size === 0) this.direct.delete(peer.address); // addresses come and go: no empty maps left
  }
}
