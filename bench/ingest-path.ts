/**
 * The device side alone: MQTT-SN datagram -> adapter -> rules -> ingest -> enqueue -> PUBACK, with an
 * outbox that settles each batch on the next turn of the loop (as group commit does, minus SQLite and
 * fsync) and no upstream. Its CPU per message is the part the store and the upstream client do not
 * own, without their noise (batch sizes that vary with load). Load: K devices (bench/child.ts sn) in a
 * child process. `node --import tsx bench/ingest-path.ts`; env BENCH_SN_K (20), BENCH_SN_MS (5000),
 * BENCH_RULES=jsonata (one filter rule: every reading takes the async path).
 */
import pino from 'pino';
import { merge } from 'rxjs';
import { MqttSnAdapter } from '../adapters/mqttsn/adapter.js';
import { mqttsnConfigSchema } from '../adapters/mqttsn/config.js';
import type { Outbox, OutboxMessage } from '../contracts/store.js';
import { startIngest } from '../gateway/ingest/index.js';
import { isolate } from '../gateway/lifecycle/isolate.js';
import { Metrics } from '../gateway/metrics/metrics.js';
import { storeConfigSchema } from '../gateway/store/config.js';
import { openStore } from '../gateway/store/open.js';
import { rulesConfigSchema } from '../rules/config.js';
import { compileRules } from '../rules/index.js';
import { cleanupTmpDirs, tmpDir } from '../test/harness/tmp.js';
import { runLoad } from './procs.js';
import { startPhase } from './util.js';

const k = Number(process.env.BENCH_SN_K ?? 20);
const ms = Number(process.env.BENCH_SN_MS ?? 5000);
const warm = Number(process.env.BENCH_SN_WARM_MS ?? 2000);
const jsonataRule = process.env.BENCH_RULES === 'jsonata';

const silent = pino({ level: 'silent' });
// Inbox, device sessions and QoS 2 ids: real, though a QoS 1 publish does not touch them.
const store = openStore({
  dir: tmpDir('fieldgate-ingest-path-'),
  durability: 'process-crash',
  limits: storeConfigSchema.parse({}),
  logger: silent,
});

let stored = 0;
let batch: { n: number; done: (err: unknown, ids?: number[]) => void }[] = [];
const IDS: number[] = [];
const outbox = {
  enqueueThen(messages: OutboxMessage[], _opts: unknown, done: (err: unknown, ids?: number[]) => void): void {
    if (batch.length === 0)
      setImmediate(() => {
        const b = batch;
        batch = [];
        for (const x of b) {
          stored += x.n;
          x.done(null, IDS);
        }
      });
    batch.push({ n: messages.length, done });
  },
} as unknown as Outbox;

const adapter = new MqttSnAdapter({
  config: mqttsnConfigSchema.parse({ listen: '127.0.0.1:0' }),
  inbox: store.inbox,
  state: store.state,
  devices: store.devices,
  logger: silent,
});
const rules = compileRules(
  {
    rules: rulesConfigSchema.parse(
      jsonataRule ? [{ match: 'bench/#', filter: '$length(payload) > 0', publish: 'out/{topic}' }] : [],
    ),
  },
  { gatewayId: 'bench' },
);
const metrics = new Metrics();
// What the gateway subscribes per reading besides ingest (gateway/observe.ts counts messages in).
const counted = merge(adapter.readings$).subscribe((r) => metrics.messageIn(r.source));
const ingest = startIngest(merge(isolate(adapter, { logger: silent })), {
  rules: () => rules,
  outbox,
  dispatch: () => {},
  logger: silent,
});
await adapter.start();
try {
  let end = startPhase();
  const r = await runLoad(
    ['sn', String(adapter.address().port), String(k), '1', String(ms), String(warm)],
    () => {
      end = startPhase();
    },
  );
  const p = end();
  console.log(
    JSON.stringify({
      k,
      rules: jsonataRule ? 'jsonata' : 'none',
      msgPerS: Math.round((r.acked / r.ms) * 1000),
      deviceSideCpuUsPerMsg: +((p.cpuS * 1e6) / r.acked).toFixed(1),
      stored,
      acked: r.acked + r.warmAcked,
      errors: r.errors,
    }),
  );
} finally {
  ingest.unsubscribe();
  counted.unsubscribe();
  await adapter.stop();
  store.close();
  cleanupTmpDirs();
}
process.exit(0);
