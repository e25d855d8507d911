import pino, { type Logger } from 'pino';
import { MqttSnAdapter } from '../../adapters/mqttsn/adapter.js';
import type { Reserved } from '../../adapters/mqttsn/context.js';
import { mqttsnConfigSchema } from '../../adapters/mqttsn/config.js';
import type { DeviceEvent, Reading, StoreOutcome } from '../../adapters/types.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import type { Store } from '../../contracts/store.js';
import { tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from './client.js';

export interface Harness {
  gw: MqttSnAdapter;
  port: number;
  store: Store;
  readings: Reading[];
  /** Every devices$ event since before start (restored sessions included). */
  devices: DeviceEvent[];
  client(nodeId?: Buffer, host?: string): Promise<SnClient>;
  /** Waits for the n-th reading (1-based) and returns it. */
  reading(n: number): Promise<Reading>;
  close(): Promise<void>;
}

/** A started adapter on 127.0.0.1:<free port> with a real SQLite store in a temp dir. */
export async function startGateway(
  config: Record<string, unknown> = {},
  opts: { autoSettle?: StoreOutcome | null; store?: Store; logger?: Logger; reserved?: () => Reserved } = {},
): Promise<Harness> {
  const store =
    opts.store ??
    openStore({
      dir: tmpDir('fieldgate-mqttsn-'),
      durability: 'process-crash',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
  const cfg = mqttsnConfigSchema.parse({
    listen: '127.0.0.1:0',
    // Most tests subscribe without an acl; the tests of the default (denied) set it false.
    open_subscriptions: true,
    retry_interval: '300ms',
    retry_count: 2,
    ...config,
  });
  const gw = new MqttSnAdapter({
    config: cfg,
    inbox: store.inbox,
    state: store.state,
    devices: store.devices,
    logger: opts.logger ?? pino({ level: 'silent' }),
    reserved: opts.reserved,
  });
  const readings: Reading[] = [];
  const devices: DeviceEvent[] = [];
  gw.devices$.subscribe((e) => devices.push(e));
  const autoSettle = opts.autoSettle === undefined ? 'stored' : opts.autoSettle;
  gw.readings$.subscribe((r) => {
    readings.push(r);
    if (autoSettle) r.settle?.(autoSettle);
  });
  await gw.start();
  const port = gw.address().port;
  const clients: SnClient[] = [];
  return {
    gw,
    port,
    store,
    readings,
    devices,
    async client(nodeId, host) {
      const c = await SnClient.open(port, nodeId, host);
      clients.push(c);
      return c;
    },
    reading: (n) => waitFor(() => readings[n - 1], `reading #${n}`, 3000, 10),
    async close() {
      for (const c of clients) await c.close();
      await gw.stop();
      if (!opts.store) store.close();
    },
  };
}
