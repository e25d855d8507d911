import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { waitingNow } from '../../contracts/clock.js';
import { decode, type Packet } from './codec/index.js';
import type { MulticastConfig } from './multicast-config.js';
import { type Peer, unusableSource } from './peer.js';
import type { UdpSocket } from './socket.js';

/**
 * Discovery on a multicast group (mqttsn.multicast): SEARCHGW sent to the group is answered with GWINFO
 * to the group, and ADVERTISE goes there too. Both leave through the gateway's own socket, so a device
 * learns the gateway's address and port from them; the group socket only listens.
 */
export class MulticastDiscovery {
  private sock: Socket | undefined;
  private readonly answer: GroupAnswer;
  private readonly group: Peer;

  constructor(
    private readonly cfg: MulticastConfig,
    gatewayId: number,
    private readonly maxSize: number,
    private readonly send: (to: Peer, p: Packet) => void,
    /** Every datagram from the group (counted as received), and errors of the group socket. */
    private readonly hooks: { received: () => void; error: (err: Error) => void },
  ) {
    this.group = { address: cfg.group, port: cfg.port };
    this.answer = new GroupAnswer(() => this.send(this.group, { type: 'gwinfo', gwId: gatewayId }));
  }

  /**
   * Sets the gateway's (bound) socket to send to the group and joins it. Bound to the group address,
   * not the wildcard: only datagrams sent to the group arrive. SO_REUSEADDR: devices or tools on the
   * same host may listen on the group's port too. Throws naming the group and interface.
   */
  async start(gatewaySocket: UdpSocket): Promise<void> {
    const { group, port, interface: iface } = this.cfg;
    const sock = createSocket({ type: 'udp4', reuseAddr: true }, (msg, rinfo) => this.onDatagram(msg, rinfo));
    try {
      gatewaySocket.setMulticast(iface);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, group, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      sock.addMembership(group, iface);
    } catch (e) {
      sock.close();
      const on = iface ? `on interface ${iface}` : 'on the default interface';
      throw new Error(`mqttsn.multicast: cannot join ${group}:${port} ${on}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    sock.on('error', this.hooks.error);
    this.sock = sock;
  }

  advertise(p: Packet): void {
    this.send(this.group, p);
  }

  stop(): Promise<void> {
    this.answer.stop();
    const sock = this.sock;
    this.sock = undefined;
    return new Promise((resolve) => (sock ? sock.close(() => resolve()) : resolve()));
  }

  /**
   * Only SEARCHGW is acted on: our own ADVERTISE and GWINFO loop back, and nothing else is meant for
   * a group (a PUBLISH or CONNECT sent to it is ignored).
   */
  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    if (!this.sock || unusableSource(rinfo.address, rinfo.port)) return;
    this.hooks.received();
    const r = decode(buf, { maxSize: this.maxSize });
    if (r.ok && r.packet.type === 'searchgw') this.answer.request();
  }
}

/**
 * GWINFO to the group at most once per `intervalMs`: one answer reaches every device searching then,
 * so many devices booting together (after a power cut) get one GWINFO, not one each. A SEARCHGW inside
 * the interval is answered at its end, never left unanswered.
 */
export class GroupAnswer {
  private lastAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly answer: () => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = waitingNow,
  ) {}

  request(): void {
    if (this.timer) return;
    const wait = this.lastAt + this.intervalMs - this.now();
    if (wait <= 0) this.fire();
    else this.timer = setTimeout(() => this.fire(), wait);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.lastAt = this.now();
    try {
      this.answer();
    } catch {
      // sendPacket never throws (failures are counted there); a timer must not end the process anyway
    }
  }
}
