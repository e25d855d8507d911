import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { waitFor } from '../harness/wait.js';

export interface AnswerJson {
  request: string;
  code: string;
  message: string;
  body?: Record<string, unknown>;
  correlation?: string;
}

export interface Seen {
  topic: string;
  json: Record<string, unknown>;
  retain: boolean;
}

/**
 * An operator's MQTT 5 client: requests with Response Topic and Correlation Data, and a record of
 * everything under the admin topics it may read (info, change, audit, answers).
 */
export class Requester {
  readonly seen: Seen[] = [];
  private readonly answers = new Map<string, AnswerJson>();

  private constructor(
    private readonly client: mqtt.MqttClient,
    private readonly prefix: string,
  ) {
    client.on('message', (topic, payload, packet) => {
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      this.seen.push({ topic, json, retain: packet.retain });
      const corr = packet.properties?.correlationData;
      if (topic.includes('/admin/reply/') && corr)
        this.answers.set(Buffer.from(corr).toString(), json as unknown as AnswerJson);
    });
  }

  static async connect(
    url: string,
    opts: { prefix?: string; username?: string; password?: string; clientId?: string } = {},
  ): Promise<Requester> {
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId: opts.clientId ?? `operator-${randomUUID().slice(0, 8)}`,
      username: opts.username,
      password: opts.password,
      reconnectPeriod: 200,
      connectTimeout: 5000,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const prefix = opts.prefix ?? 'fieldgate';
    const r = new Requester(client, prefix);
    await client.subscribeAsync(`${prefix}/+/admin/#`, { qos: 1 });
    return r;
  }

  /** Publish a request; the answer is awaited with answer(). Returns the correlation id. */
  async send(
    gateway: string,
    name: string,
    args: Record<string, unknown> = {},
    opts: { retain?: boolean; expiry?: number; replyTo?: string; actor?: string; raw?: Buffer } = {},
  ): Promise<string> {
    const corr = randomUUID();
    const replyTo = opts.replyTo ?? `${this.prefix}/${gateway}/admin/reply/${corr.slice(0, 8)}`;
    await this.client.publishAsync(
      `${this.prefix}/${gateway}/admin/req/${name}`,
      opts.raw ?? JSON.stringify(args),
      {
        qos: 1,
        retain: opts.retain ?? false,
        properties: {
          responseTopic: replyTo,
          correlationData: Buffer.from(corr),
          userProperties: { actor: opts.actor ?? 'test-operator' },
          ...(opts.expiry !== undefined && { messageExpiryInterval: opts.expiry }),
        },
      },
    );
    return corr;
  }

  async answer(corr: string, timeoutMs = 15_000): Promise<AnswerJson> {
    return waitFor(() => this.answers.get(corr), `answer ${corr}`, timeoutMs);
  }

  hasAnswer(corr: string): boolean {
    return this.answers.has(corr);
  }

  async request(
    gateway: string,
    name: string,
    args: Record<string, unknown> = {},
    timeoutMs?: number,
  ): Promise<AnswerJson> {
    return this.answer(await this.send(gateway, name, args), timeoutMs);
  }

  /** The newest message on `topic` that satisfies `pred`, waited for. */
  async waitFor(
    topic: string,
    pred: (j: Record<string, unknown>) => boolean,
    timeoutMs = 20_000,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      () => [...this.seen].reverse().find((s) => s.topic === topic && pred(s.json))?.json,
      `message on ${topic}`,
      timeoutMs,
    );
  }

  /** Publish anything (a stale retained request, a cleanup of one). */
  async publish(
    topic: string,
    payload: string | Buffer,
    opts: mqtt.IClientPublishOptions = {},
  ): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, ...opts });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
