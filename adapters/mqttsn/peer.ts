/** Where a datagram came from; `forward` is set when a forwarder encapsulated it (replies go back wrapped). */
export interface Peer {
  address: string;
  port: number;
  forward?: { radius: number; nodeId: Buffer };
}

/** One key per device: a forwarder's nodes share its address but not its node ids. */
export function peerKey(p: Peer): string {
  const base = `${p.address}:${p.port}`;
  return p.forward ? `${base}#${p.forward.nodeId.toString('hex')}` : base;
}

/** Allow-list match on host, host:port, or (for connects) the client id. Empty list allows all. */
export function allowed(list: readonly string[], peer: Peer, clientId?: string): boolean {
  if (list.length === 0) return true;
  return list.some((e) => e === peer.address || e === `${peer.address}:${peer.port}` || e === clientId);
}
