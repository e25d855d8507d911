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
  /** Bytes on the wire each way, all connections together (fixed headers included). */
  readonly bytes: Record<Direction, number> = { up: 0, down: 0 };
  /** Return true to swallow a packet instead of forwarding it. */
  drop: ((dir: Direction, p: Packet) => boolean) | undefined;
  /** Change a packet before it is forwarded (e.g. strip a CONNACK property). */
  rewrite: ((p: Packet) => void) | undefined;
  /**
   * Act as a broker that knows MQTT 3.1.1 only: a CONNECT asking for MQTT 5 is answered with
   * CONNACK return code 1 (unacceptable protocol version) and the connection closed, as 3.1.1 says.
   */
  only311 = false;
  /**
   * How a 3.1.1-only broker answers an MQTT 5 CONNECT other than by only311's CONNACK: 'close'
   * closes the socket without a word (RabbitMQ 3.x), 'garbage' answers bytes that are no CONNACK.
   */
  on5: 'close' | 'garbage' | undefined;
  /** Bytes to send instead of a packet (e.g. a malformed ack); undefined forwards it as it is. */
  replace: ((dir: Direction, p: Packet) => Buffer | undefined) | undefined;
  /** While true, new client connections are closed at once (as if the broker were down). */
  refuse = false;
  private readonly sockets = new Set<Socket>();
  /** client socket -> broker socket */
  private readonly pairs = new Map<Socket, Socket>();

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

  /**
   * Play a broker ending the connection the MQTT 5 way: DISCONNECT with a reason code and reason
   * string to the client (mosquitto 2.0.11 sends none on a session takeover), then close.
   */
  serverDisconnect(reasonCode: number, reasonString: string): void {
    const packet = mqttPacket.generate(
      { cmd: 'disconnect', reasonCode, properties: { reasonString } },
      { protocolVersion: 5 },
    );
    for (const [client, broker] of this.pairs) {
      client.end(packet);
      broker.destroy();
    }
    this.pairs.clear();
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
    this.pairs.set(client, broker);
    for (const s of [client, broker]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        broker.destroy();
      });
    }
    // Both directions speak the protocol version the client's CONNECT asked for (3.1.1 or 5).
    const version = { protocolVersion: 4 as 4 | 5 };
    this.forward('up', client, broker, version);
    this.forward('down', broker, client, version);
  }

  private forward(dir: Direction, from: Socket, to: Socket, version: { protocolVersion: 4 | 5 }): void {
    const parser = mqttPacket.parser(version);
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') {
        version.protocolVersion = p.protocolVersion === 5 ? 5 : 4;
        if (this.only311 && p.protocolVersion === 5) {
          this.seen.push({ dir, packet: p });
          from.end(mqttPacket.generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }));
          return;
        }
        if (this.on5 && p.protocolVersion === 5) {
          this.seen.push({ dir, packet: p });
          if (this.on5 === 'close') from.destroy();
          else from.end(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
          to.destroy();
          return;
        }
      }
      this.seen.push({ dir, packet: p });
      if (this.drop?.(dir, p)) return;
      this.rewrite?.(p);
      to.write(this.replace?.(dir, p) ?? mqttPacket.generate(p, version));
    });
    parser.on('error', () => from.destroy());
    from.on('data', (b: Buffer) => {
      this.bytes[dir] += b.length;
      parser.parse(b);
    });
  }
}
