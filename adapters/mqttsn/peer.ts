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

/**
 * Why a datagram's source cannot be answered, or undefined when it can. Port 0 is not a port a reply
 * can go to (dgram.send throws ERR_SOCKET_BAD_PORT synchronously); an unspecified, broadcast or
 * multicast source is never a real sender.
 */
export function unusableSource(address: string, port: number): string | undefined {
  if (!(port >= 1 && port <= 65535)) return `source port ${port}`;
  if (address.indexOf(':') === -1) return unusableIpv4(address); // every datagram: no string made
  return unusableOther(address);
}

/** Dotted IPv4, as dgram reports it: the first octet read in place. */
function unusableIpv4(address: string): string | undefined {
  let first = 0;
  let i = 0;
  for (; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return unusableOther(address); // not a dotted quad after all
    first = first * 10 + (c - 0x30);
  }
  if (i === 0 || i === address.length) return unusableOther(address);
  if (address === '255.255.255.255') return `source address ${address}`;
  if (first === 0) return `source address ${address}`; // "this network" (0.0.0.0 too): never a sender
  if (first >= 224 && first <= 239) return `multicast source ${address}`;
  return undefined;
}

function unusableOther(address: string): string | undefined {
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  if (a === '0.0.0.0' || a === '::' || a === '255.255.255.255') return `source address ${address}`;
  const first = Number(a.split('.')[0]);
  if (a.includes('.') && first === 0) return `source address ${address}`; // "this network": never a sender
  if (a.includes('.') && first >= 224 && first <= 239) return `multicast source ${address}`;
  if (a.startsWith('ff')) return `multicast source ${address}`;
  return undefined;
}
