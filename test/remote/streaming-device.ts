import { SnClient } from '../mqttsn/client.js';
import { snPublish } from '../upstream/sn-device.js';

/**
 * An MQTT-SN device publishing numbered QoS 1 messages on a predefined topic, each only after the
 * previous one was acknowledged. When an ack does not come (the gateway restarting), it connects
 * again and resends the same message, as a device does. `acked` is what the gateway promised.
 */
export class StreamingDevice {
  readonly acked: number[] = [];
  private running = true;
  private done: Promise<void> | undefined;

  private constructor(
    private readonly dev: SnClient,
    private readonly clientId: string,
    private readonly topicId: number,
  ) {}

  static async start(port: number, clientId: string, topicId: number, paceMs = 20): Promise<StreamingDevice> {
    const d = new StreamingDevice(await SnClient.open(port), clientId, topicId);
    await d.connect();
    d.done = d.loop(paceMs);
    return d;
  }

  private async connect(): Promise<boolean> {
    try {
      this.dev.inbox.length = 0;
      const ack = await this.dev.connect(this.clientId, { cleanSession: false, duration: 30 });
      return ack.returnCode === 0;
    } catch {
      return false;
    }
  }

  private async loop(paceMs: number): Promise<void> {
    let n = 1;
    while (this.running) {
      try {
        await snPublish(this.dev, this.topicId, (n % 60000) + 1, 1, String(n));
        this.acked.push(n);
        n++;
        await new Promise((r) => setTimeout(r, paceMs));
      } catch {
        // No ack (gateway restarting or not knowing us): connect again, then resend the same one.
        while (this.running && !(await this.connect())) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.done;
    await this.dev.close();
  }
}
