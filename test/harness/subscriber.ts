import mqtt from 'mqtt';
import { waitFor } from './wait.js';

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

/** A plain MQTT.js subscriber that collects everything it receives (the test's view of the broker). */
export class Subscriber {
  readonly messages: Received[] = [];

  private constructor(private readonly client: mqtt.MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: Buffer.from(payload), qos: packet.qos, retain: packet.retain });
    });
  }

  /** Connect and subscribe; cleanSession false + clientId keeps a session across broker restarts. */
  static async connect(
    url: string,
    topics: string | string[],
    opts: {
      qos?: 0 | 1 | 2;
      clientId?: string;
      clean?: boolean;
      username?: string;
      password?: string;
      ca?: Buffer;
    } = {},
  ): Promise<Subscriber> {
    const client = mqtt.connect(url, {
      clientId: opts.clientId ?? `test-sub-${Math.random().toString(16).slice(2)}`,
      clean: opts.clean ?? true,
      reconnectPeriod: 200,
      connectTimeout: 5000,
      username: opts.username,
      password: opts.password,
      ca: opts.ca,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    // Listen before subscribing: retained messages can arrive right behind the SUBACK.
    const sub = new Subscriber(client);
    await client.subscribeAsync(topics, { qos: opts.qos ?? 2 });
    return sub;
  }

  /** Wait until at least n messages (matching `topic` if given) have arrived. */
  async waitForCount(n: number, timeoutMs = 10_000, topic?: string): Promise<Received[]> {
    const pick = () => (topic ? this.messages.filter((m) => m.topic === topic) : this.messages);
    await waitFor(
      () => pick().length >= n,
      `${n} messages${topic ? ` on ${topic}` : ''} (have ${pick().length})`,
      timeoutMs,
    );
    return pick();
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Publish with a plain MQTT.js client (the test acting as the cloud side). */
export async function publishTo(
  url: string,
  topic: string,
  payload: string | Buffer,
  opts: { qos?: 0 | 1 | 2; retain?: boolean } = {},
): Promise<void> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
  await client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  await client.endAsync();
}
