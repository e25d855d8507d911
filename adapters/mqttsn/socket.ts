import type { RemoteInfo } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import DgramAsPromised, { type AddressInfo, type SocketAsPromised } from 'dgram-as-promised';

/**
 * The gateway's UDP socket. Datagrams are taken through the 'message' callback rather than recv():
 * recv() listens only while awaited, so datagrams arriving between two calls would be lost.
 */
export class UdpSocket {
  private sock: SocketAsPromised | undefined;

  constructor(
    private readonly onMessage: (msg: Buffer, rinfo: RemoteInfo) => void,
    private readonly onSendError: (err: unknown) => void,
  ) {}

  async bind(host: string, port: number): Promise<AddressInfo> {
    const sock = DgramAsPromised.createSocket(
      { type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalLookup },
      this.onMessage,
    );
    this.sock = sock;
    try {
      return await sock.bind(port, host);
    } catch (e) {
      this.sock = undefined;
      await sock.close().catch(() => undefined);
      throw e;
    }
  }

  setBroadcast(on: boolean): void {
    this.sock?.setBroadcast(on);
  }

  /**
   * Multicast sends (ADVERTISE, GWINFO to the discovery group) leave by this interface, reach the link
   * only (TTL 1), and loop back to listeners on this host (devices or tools on the gateway's machine).
   */
  setMulticast(iface: string | undefined): void {
    const s = this.sock?.socket;
    if (!s) return;
    if (iface) s.setMulticastInterface(iface);
    s.setMulticastTTL(1);
    s.setMulticastLoopback(true);
  }

  address(): AddressInfo | undefined {
    return this.sock?.address();
  }

  /**
   * Fire and forget: UDP has no delivery guarantee anyway; failures are counted by the caller.
   * Straight on the dgram socket: the library's promise per datagram costs more than the send.
   * Never throws: dgram.send throws synchronously for a bad port or address (ERR_SOCKET_BAD_PORT) or a
   * closed socket, and this runs from retry and ADVERTISE timers, where a throw would end the process.
   * False when the datagram could not even be handed to the socket.
   */
  send(buf: Buffer, port: number, address: string): boolean {
    try {
      this.sock?.socket.send(buf, port, address, this.sent);
      return true;
    } catch (e) {
      this.onSendError(e);
      return false;
    }
  }

  private readonly sent = (err: Error | null) => {
    if (err) this.onSendError(err);
  };

  async close(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    if (sock) await sock.close();
  }
}

/**
 * dgram resolves the address of every send through dns.lookup, which answers an IP literal on the next
 * tick (a tick, a closure and a validation per datagram). Replies go to the address a datagram came
 * from, always a literal: answered at once. A host name (advertise_to) still goes to dns.lookup.
 */
function literalLookup(
  address: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const v = isIP(address);
  if (v !== 0) callback(null, address, v);
  else dnsLookup(address, options, callback); // Node passes the family as a number: lookup takes both
}
