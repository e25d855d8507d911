import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { MulticastConfig } from './multicast-config.js';

/**
 * The socket joined to the discovery group. It only listens (for SEARCHGW): answers and ADVERTISE leave
 * through the gateway's own socket, so a device learns the gateway's address and port from them.
 * Bound to the group address, not the wildcard: only datagrams sent to the group arrive here.
 * SO_REUSEADDR: devices or tools on the same host may listen on the group's port too.
 */
export class MulticastListener {
  private sock: Socket | undefined;

  constructor(
    private readonly cfg: MulticastConfig,
    private readonly onMessage: (msg: Buffer, rinfo: RemoteInfo) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  async start(): Promise<void> {
    const sock = createSocket({ type: 'udp4', reuseAddr: true }, this.onMessage);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(this.cfg.port, this.cfg.group, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      sock.addMembership(this.cfg.group, this.cfg.interface);
    } catch (e) {
      sock.close();
      throw e;
    }
    sock.on('error', this.onError);
    this.sock = sock;
  }

  close(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    return new Promise((resolve) => (sock ? sock.close(() => resolve()) : resolve()));
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
    private readonly now: () => number = Date.now,
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
    this.answer();
  }
}
