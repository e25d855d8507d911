import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * The gateway's network link to the broker: a plain TCP relay that can be pulled (every connection
 * dropped, new ones refused) and put back, while the broker and its subscribers stay up.
 */
export class Link {
  up = true;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(brokerPort: number): Promise<Link> {
    let link: Link | undefined;
    const server = createServer((client) => link?.relay(client, brokerPort));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    link = new Link(server, (server.address() as { port: number }).port);
    return link;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  set(up: boolean): void {
    this.up = up;
    if (up) return;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.set(false);
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private relay(client: Socket, brokerPort: number): void {
    client.on('error', () => {});
    if (!this.up) {
      client.destroy();
      return;
    }
    const broker = connect(brokerPort, '127.0.0.1');
    for (const s of [client, broker]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        broker.destroy();
      });
    }
    client.pipe(broker);
    broker.pipe(client);
  }
}
