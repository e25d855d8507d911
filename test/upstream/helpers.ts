import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import pino, { type Logger } from 'pino';
import { filter, firstValueFrom, type Observable, take, timeout, toArray } from 'rxjs';
import { openStore } from '../../gateway/store/open.js';
import type { OutboxMessage, Store } from '../../contracts/store.js';
import { UpstreamClient } from '../../gateway/upstream/client.js';
import { upstreamConfigSchema } from '../../gateway/upstream/config.js';
import type { UpstreamEvent } from '../../gateway/upstream/events.js';
import type { Received } from '../harness/subscriber.js';
import { tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';

/** A pino logger whose JSON lines are kept for assertions (and printed when LOG=1). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) {
        if (!l) continue;
        lines.push(JSON.parse(l) as Record<string, unknown>);
        if (process.env.LOG) process.stderr.write(`${l}\n`);
      }
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export function openTestStore(
  dir = tmpDir('fieldgate-upstream-store-'),
  durability: 'process-crash' | 'power-loss' = 'process-crash',
): Store {
  return openStore({
    dir,
    durability,
    limits: { max_rows: 1_000_000, max_bytes: 1e9, max_age: 86400e3, overflow: 'drop-oldest' },
    logger: pino({ level: 'silent' }),
  });
}

export interface TestClient {
  client: UpstreamClient;
  lines: Record<string, unknown>[];
  events: UpstreamEvent[];
}

export function makeClient(store: Store, config: Record<string, unknown>, gatewayId = 'gw1'): TestClient {
  const { logger, lines } = captureLogger();
  const client = new UpstreamClient({
    config: upstreamConfigSchema.parse({
      reconnect: { min: '100ms', max: '1s' },
      connect_timeout: '3s',
      ...config,
    }),
    gatewayId,
    outbox: store.outbox,
    state: store.state,
    logger,
  });
  const events: UpstreamEvent[] = [];
  client.events$.subscribe((e) => events.push(e));
  return { client, lines, events };
}

export function msg(
  device: string,
  topic: string,
  payload: string,
  qos: 0 | 1 | 2,
  retain = false,
): OutboxMessage {
  return {
    source: 'test',
    device,
    topic,
    payload: Buffer.from(payload),
    qos,
    retain,
    receivedAt: Date.now(),
  };
}

/** First event of a type, within ms. */
export function nextEvent<T extends UpstreamEvent['type']>(
  events$: Observable<UpstreamEvent>,
  type: T,
  ms = 10_000,
): Promise<Extract<UpstreamEvent, { type: T }>> {
  return firstValueFrom(
    events$.pipe(
      filter((e): e is Extract<UpstreamEvent, { type: T }> => e.type === type),
      take(1),
      timeout(ms),
    ),
  );
}

export function nEvents(
  events$: Observable<UpstreamEvent>,
  type: UpstreamEvent['type'],
  n: number,
  ms: number,
) {
  return firstValueFrom(
    events$.pipe(
      filter((e) => e.type === type),
      take(n),
      toArray(),
      timeout(ms),
    ),
  );
}

/** Order of first occurrences of payloads per device ("dev:seq" payloads), checked to be increasing. */
export function checkOrderPerDevice(payloads: string[]): {
  devices: Map<string, number[]>;
  ordered: boolean;
} {
  const seen = new Set<string>();
  const devices = new Map<string, number[]>();
  for (const p of payloads) {
    if (seen.has(p)) continue;
    seen.add(p);
    const [dev, seq] = p.split(':');
    const list = devices.get(dev!) ?? [];
    list.push(Number(seq));
    devices.set(dev!, list);
  }
  let ordered = true;
  for (const list of devices.values())
    for (let i = 1; i < list.length; i++) if (list[i]! <= list[i - 1]!) ordered = false;
  return { devices, ordered };
}

/**
 * An MQTT.js subscriber that listens before it subscribes, so retained messages sent
 * right after SUBACK are not missed (the harness Subscriber attaches its handler late).
 */
export async function listen(
  url: string,
  topics: string | string[],
  opts: { qos?: 0 | 1 | 2; clientId?: string; clean?: boolean } = {},
): Promise<{
  messages: Received[];
  waitForCount: (n: number, ms?: number) => Promise<Received[]>;
  close: () => Promise<void>;
}> {
  const client = mqtt.connect(url, {
    clientId: opts.clientId ?? `test-listen-${Math.random().toString(16).slice(2)}`,
    clean: opts.clean ?? true,
    reconnectPeriod: 200,
    connectTimeout: 5000,
  });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: Buffer.from(payload), qos: packet.qos, retain: packet.retain });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topics, { qos: opts.qos ?? 2 });
  return {
    messages,
    waitForCount: async (n, ms = 10_000) => {
      await waitFor(() => messages.length >= n, `${n} messages (have ${messages.length})`, ms);
      return messages;
    },
    close: async () => {
      await client.endAsync(true);
    },
  };
}
