import { createServer, type Server, type Socket, connect } from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export type Direction = 'up' | 'down';

/**
 * A TCP proxy between the client under test and the real broker that forwards MQTT
 * packet by packet, records them, and can drop packets or cut the connection abruptly
 * (what a pulled cable or a crashed gateway looks like to the broker).
 */
export class MqttProxy {
  readonly seen: { dir: Direction; packet: Packet }[] = [];
  /** Return true to swallow a packet instead of forwarding it. */
  drop: ((dir: Direction, p: Packet) => boolean) | undefined;
  /** While true, new client connections are closed at once (as if the broker were down). */
  refuse = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<MqttProxy> {
    let proxy: MqttProxy | undefined;
    const server = createServer((client) => {
      if (proxy?.refuse) client.destroy();
      else proxy?.pipe(client, targetPort);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = new MqttProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  packets(dir: Direction, cmd: Packet['cmd']): Packet[] {
    return this.seen.filter((s) => s.dir === dir && s.packet.cmd === cmd).map((s) => s.packet);
  }

  /** Destroy every proxied connection at once, without DISCONNECT. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private pipe(client: Socket, targetPort: number): void {
    const broker = connect(targetPort, '127.0.0.1');
    for (const s of [client, broker]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        broker.destroy();
      });
    }
    this.forward('up', client, broker);
    this.forward('down', broker, client);
  }

  private forward(dir: Direction, from: Socket, to: Socket): void {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      this.seen.push({ dir, packet: p });
      if (this.drop?.(dir, p)) return;
      to.write(mqttPacket.generate(p));
    });
    parser.on('error', () => from.destroy());
    from.on('data', (b: Buffer) => parser.parse(b));
  }
}
