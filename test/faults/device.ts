import type { Packet } from '../../adapters/mqttsn/codec/index.js';
import { peek } from '../../gateway/store/inspect.js';
import { publishTo } from '../harness/subscriber.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';

/**
 * A connected MQTT-SN device on real UDP that records the commands it receives (payloads in arrival
 * order, resends by the gateway counted once) and acks them while `acking` is on. Off: it stays
 * connected and silent, never acking (a slow device).
 */
export class CommandDevice {
  readonly got: string[] = [];
  /** PUBLISHes received but not acked (while silent), by msgId. */
  private readonly unacked = new Map<number, Packet & { type: 'publish' }>();
  private readonly seen = new Set<number>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    readonly client: SnClient,
    public acking: boolean,
  ) {}

  static async connect(port: number, clientId: string, opts: { acking: boolean; cleanSession?: boolean }) {
    const client = await SnClient.open(port);
    const ack = await client.connect(clientId, { cleanSession: opts.cleanSession ?? true });
    if (ack.returnCode !== 0) throw new Error(`${clientId}: CONNACK ${ack.returnCode}`);
    const d = new CommandDevice(client, opts.acking);
    d.loop = d.run();
    return d;
  }

  /** Start acking, beginning with what arrived while silent. */
  async ackNow(): Promise<void> {
    this.acking = true;
    for (const p of [...this.unacked.values()]) await this.ack(p);
    this.unacked.clear();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.client.close();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const p = await this.client.expect('publish', 100).catch(() => undefined); // bounded wait, then re-check stop
      if (!p) continue;
      if (!this.seen.has(p.msgId)) {
        this.seen.add(p.msgId);
        this.got.push(p.data.toString());
      }
      if (this.acking) await this.ack(p);
      else this.unacked.set(p.msgId, p);
    }
  }

  private ack(p: Packet & { type: 'publish' }): Promise<void> {
    if (p.flags.qos === 0) return Promise.resolve();
    return this.client.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
  }
}

/** Payloads of the spooled commands for `target`'s adapter (one device, or all), as `fieldgate queue peek --inbox` reads them. */
export function spooled(stateDir: string, device?: string, target = 'spool:mqttsn'): string[] {
  return peek(stateDir, { limit: 1000, from: 'inbox' })
    .filter((r) => r.target === target && (device === undefined || r.device === device))
    .map((r) => r.payload.toString());
}

/**
 * Publishes a command until `device` has received one: until the gateway's SUBACK nothing says the
 * broker holds its subscription yet, so the first publish may go nowhere.
 */
export async function commandUntilReceived(
  brokerUrl: string,
  topic: string,
  payload: string,
  device: CommandDevice,
): Promise<void> {
  await waitFor(
    async () => {
      if (device.got.length === 0) await publishTo(brokerUrl, topic, payload, { qos: 1 });
      return waitFor(() => device.got.length > 0, 'a command', 500).catch(() => false);
    },
    `a command at ${topic}`,
    10_000,
  );
}
