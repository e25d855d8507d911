import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { UpstreamConfig } from './config.js';
import { tlsOptions } from './tls.js';
import { redactUrl } from './url.js';
import { waitingNow } from '../../contracts/clock.js';

/**
 * The operator's side of MQTT request/response (`fieldgate remote`), on MQTT.js: a short-lived
 * interactive client with nothing to make durable, so the gateway's outbox-driven UpstreamClient
 * (which needs a store and drains a queue) is the wrong tool and a well-kept client is the right one.
 * It knows nothing of fieldgate's admin topics: callers pass topics and JSON bodies.
 */

export interface OperatorSessionOptions {
  /** Tried in order until one connects (a cluster's nodes). Credentials in a URL are honoured. */
  urls: string[];
  username?: string;
  password?: string;
  tls?: UpstreamConfig['tls'];
  protocol: '5' | '3.1.1';
  clientId?: string;
  connectTimeoutMs: number;
  keepalive?: number;
}

/** The broker could not be reached or refused us; `message` names the URL (redacted) and why. */
export class BrokerUnreachable extends Error {
  override readonly name = 'BrokerUnreachable';
}

/** The broker refused what we sent (MQTT 5 PUBACK/SUBACK reason code): the ACL says no. */
export class BrokerRefused extends Error {
  override readonly name = 'BrokerRefused';
}

/** No answer arrived in time. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export interface RequestOptions {
  /** Where the answer must come (the responder may only publish there). */
  responseTopic: string;
  timeoutMs: number;
  userProperties?: Record<string, string>;
  /** MQTT 5 Message Expiry Interval: a request the responder gets later than this is void. */
  expirySeconds?: number;
}

interface Waiter {
  resolve: (payload: Buffer) => void;
}

export class OperatorSession {
  /** Correlation -> the request waiting for it. */
  private readonly waiting = new Map<string, Waiter>();
  private readonly subscribed = new Set<string>();
  private readonly listeners = new Set<(m: Received) => void>();

  private constructor(
    private readonly client: MqttClient,
    private readonly protocol: '5' | '3.1.1',
    readonly url: string,
  ) {
    client.on('message', (topic, payload, packet) => this.onMessage(topic, Buffer.from(payload), packet));
  }

  /** Connect to the first URL that takes us; throws BrokerUnreachable listing why each one did not. */
  static async connect(o: OperatorSessionOptions): Promise<OperatorSession> {
    const failures: string[] = [];
    for (const url of o.urls) {
      const opts: IClientOptions = {
        protocolVersion: o.protocol === '5' ? 5 : 4,
        clientId: o.clientId ?? `fieldgate-remote-${randomBytes(6).toString('hex')}`,
        clean: true,
        keepalive: o.keepalive ?? 30,
        connectTimeout: o.connectTimeoutMs,
        // One attempt per URL here; after a successful connect a dropped link is retried (logs -f).
        reconnectPeriod: 0,
        ...(o.username !== undefined && { username: o.username }),
        ...(o.password !== undefined && { password: o.password }),
      };
      const u = new URL(url);
      if (u.protocol === 'mqtts:') Object.assign(opts, tlsOptions(u.hostname, o.tls));
      try {
        const client = await connectOnce(url, opts, o.connectTimeoutMs);
        client.options.reconnectPeriod = 2000;
        client.on('error', () => {
          // reported through the waits that time out; an unhandled 'error' event would crash the CLI
        });
        return new OperatorSession(client, o.protocol, redactUrl(url));
      } catch (err) {
        failures.push(`${redactUrl(url)}: ${(err as Error).message}`);
      }
    }
    throw new BrokerUnreachable(`cannot connect to the broker (${failures.join('; ')})`);
  }

  /**
   * Publish `body` as JSON to `topic` (QoS 1, never retained) and wait for the one answer on
   * `responseTopic` carrying our correlation. MQTT 5 carries Response Topic and Correlation Data as
   * properties; over 3.1.1 they travel in the JSON as `reply_to` and `correlation`.
   */
  async request(topic: string, body: Record<string, unknown>, o: RequestOptions): Promise<Buffer> {
    await this.ensureSubscribed(o.responseTopic);
    const correlation = randomBytes(12).toString('hex');
    const answer = new Promise<Buffer>((resolve) => this.waiting.set(correlation, { resolve }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NoAnswer(`no answer within ${Math.round(o.timeoutMs / 100) / 10} s`)),
        o.timeoutMs,
      );
    });
    try {
      const v5 = this.protocol === '5';
      const payload = v5 ? body : { ...body, reply_to: o.responseTopic, correlation };
      const sent = this.client
        .publishAsync(topic, JSON.stringify(payload), {
          qos: 1,
          retain: false,
          ...(v5 && {
            properties: {
              responseTopic: o.responseTopic,
              correlationData: Buffer.from(correlation),
              contentType: 'application/json',
              ...(o.userProperties && { userProperties: o.userProperties }),
              ...(o.expirySeconds !== undefined && { messageExpiryInterval: o.expirySeconds }),
            },
          }),
        })
        .catch((err: Error) => {
          // MQTT 5 brokers answer a publish their ACL denies with PUBACK 0x87 (3.1.1 brokers drop it).
          const why = err.message.replace(/^Publish error: /, '');
          throw new BrokerRefused(`the broker refused the request on ${topic}: ${why}`);
        });
      await Promise.race([sent, timeout]);
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(correlation);
    }
  }

  /**
   * Subscribe to `filter` and hand every message (retained ones first, as the broker sends them)
   * to `onMessage` until the returned function is called.
   */
  async watch(filter: string, onMessage: (m: Received) => void): Promise<() => Promise<void>> {
    const listener = (m: Received) => {
      if (topicMatches(filter, m.topic)) onMessage(m);
    };
    // Listen before subscribing: retained messages can arrive right behind the SUBACK.
    this.listeners.add(listener);
    // Subscribed again even if it already is: the broker sends the retained messages at each SUBSCRIBE.
    await this.ensureSubscribed(filter, true);
    return async () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * The retained messages on `filter`: everything that arrives until `quietMs` passes without a
   * new one, and at least `2 × quietMs` in all (a cluster node may fetch them from its peers
   * first); at most `maxMs`. Brokers send retained messages right after the SUBACK.
   */
  async retained(filter: string, quietMs: number, maxMs: number): Promise<Received[]> {
    const got: Received[] = [];
    let last = waitingNow();
    const stop = await this.watch(filter, (m) => {
      if (m.retain) {
        got.push(m);
        last = waitingNow();
      }
    });
    const start = waitingNow();
    last = Math.max(last, start);
    while (
      (waitingNow() - last < quietMs || waitingNow() - start < 2 * quietMs) &&
      waitingNow() - start < maxMs
    )
      await new Promise((r) => setTimeout(r, 25));
    await stop();
    return got;
  }

  /** Close at once: a request still unacknowledged was given up already, and a dead broker must not hold the CLI. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.client.endAsync(true).catch(() => undefined),
      new Promise((r) => {
        timer = setTimeout(r, 2000);
      }),
    ]);
    clearTimeout(timer);
  }

  private async ensureSubscribed(filter: string, again = false): Promise<void> {
    if (this.subscribed.has(filter) && !again) return;
    const granted = await this.client.subscribeAsync(filter, { qos: 1 });
    const g = granted[0];
    // Mosquitto answers a subscription its ACL denies with 0x80 (3.1.1) or 0x87 (MQTT 5).
    if (!g || g.qos >= 0x80) throw new BrokerRefused(`the broker refused the subscription to ${filter}`);
    this.subscribed.add(filter);
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const cd = packet.properties?.correlationData;
    const correlation = cd ? Buffer.from(cd).toString() : jsonCorrelation(payload);
    const waiter = correlation !== undefined ? this.waiting.get(correlation) : undefined;
    if (waiter) {
      waiter.resolve(payload);
      return;
    }
    for (const l of this.listeners) l({ topic, payload, retain: packet.retain });
  }
}

function jsonCorrelation(payload: Buffer): string | undefined {
  try {
    const v = (JSON.parse(payload.toString()) as { correlation?: unknown }).correlation;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** MQTT topic filter match (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function connectOnce(url: string, opts: IClientOptions, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, opts);
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end(true);
      reject(new Error(why));
    };
    // MQTT.js's own connectTimeout covers a silent broker; this covers a TCP connect that hangs.
    const timer = setTimeout(() => fail(`no CONNACK within ${timeoutMs} ms`), timeoutMs + 500);
    client.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (err) => fail(err.message));
    client.once('close', () => fail('connection closed before CONNACK'));
  });
}
