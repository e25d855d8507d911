/**
 * Cold start with a large backlog: rows inserted by SQL into the store's own schema, then the time
 * to open the store and read the head, and the time a whole Gateway takes to accept input.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import Database from 'better-sqlite3';
import pino from 'pino';
import { decode, encode, flags } from '../adapters/mqttsn/codec/index.js';
import { configChecks } from '../gateway/config/checks.js';
import { loadConfig } from '../gateway/config/load.js';
import { Gateway } from '../gateway/gateway.js';
import { dbPath } from '../gateway/store/database.js';
import { openStore } from '../gateway/store/open.js';
import { freePort, freeUdpPort } from '../test/harness/ports.js';
import { tmpDir } from '../test/harness/tmp.js';
import { fmt, progress, QUICK, silent, sleep, startPhase, table } from './util.js';

const LIMITS = { max_rows: 10_000_000, max_bytes: 1e10, max_age: 86400e3, overflow: 'drop-oldest' as const };

/** Fills the outbox with n QoS 1 rows in one transaction, and outbox_totals with their count. */
function fillBySql(dir: string, n: number): void {
  openStore({ dir, durability: 'power-loss', limits: LIMITS, logger: silent }).close(); // creates the schema
  const db = new Database(dbPath(dir));
  const now = Date.now();
  db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
     INSERT INTO outbox (source, device, topic, payload, qos, retain, received_at, enqueued_at)
     SELECT 'bench', 'd' || (i % 8), 'bench/cold/d' || (i % 8), zeroblob(64), 1, 0, ?, ? FROM seq`,
  ).run(n, now, now);
  // No trigger keeps outbox_totals (schema v5): a writer by SQL keeps it itself.
  db.prepare('UPDATE outbox_totals SET rows = rows + ?, bytes = bytes + ?').run(n, n * 64);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** UDP round trip: SEARCHGW -> GWINFO, or a QoS -1 PUBLISH on a predefined topic. */
async function udp(port: number, packet: Parameters<typeof encode>[0], expect?: string): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  try {
    const got = expect
      ? new Promise<void>((res) =>
          s.on('message', (b) => {
            const r = decode(b);
            if (r.ok && r.packet.type === expect) res();
          }),
        )
      : Promise.resolve();
    await new Promise<void>((res, rej) =>
      s.send(encode(packet), port, '127.0.0.1', (e) => (e ? rej(e) : res())),
    );
    await got;
  } finally {
    s.close();
  }
}

export async function coldStartBench(): Promise<void> {
  const n = Number(process.env.BENCH_COLD_N ?? (QUICK ? 100_000 : 1_000_000));
  const dir = tmpDir('fieldgate-bench-cold-');
  const tFill = performance.now();
  fillBySql(dir, n);
  progress('filled');
  const fillMs = performance.now() - tFill;

  const rows = [['step', 'ms', 'peak RSS MiB']];
  // 1. The store alone.
  let end = startPhase();
  const store = openStore({ dir, durability: 'power-loss', limits: LIMITS, logger: silent });
  const tOpen = end();
  const head = store.outbox.nextQueued(0, 32);
  const tHead = end();
  const stats = store.outbox.stats();
  const tStats = end();
  await sleep(10); // the first group commit (age expiry) runs on setImmediate
  store.close();
  progress('store closed');
  rows.push(
    ['openStore', fmt(tOpen.ms, 1), fmt(tOpen.rssMiB)],
    [`+ first nextQueued (${head.length} rows)`, fmt(tHead.ms, 1), ''],
    [`+ stats() (rows=${stats.rows})`, fmt(tStats.ms, 1), fmt(tStats.rssMiB)],
  );

  // 2. The whole gateway, upstream unreachable (nothing listens) so nothing drains meanwhile.
  const udpPort = await freeUdpPort();
  const file = join(tmpDir('fieldgate-bench-cold-cfg-'), 'fieldgate.yaml');
  writeFileSync(
    file,
    `gateway: { id: bench-cold, state_dir: ${dir}, log_level: warn }
upstream: { url: mqtt://127.0.0.1:${await freePort()}, reconnect: { min: 10s, max: 10s } }
store: { max_rows: ${LIMITS.max_rows} }
mqttsn: { enabled: true, listen: 127.0.0.1:${udpPort}, predefined_topics: { 7: bench/cold/in }, qos_minus_one: { enabled: true } }
http: { enabled: false }
`,
  );
  const gw = new Gateway({
    config: loadConfig(file, {}, configChecks),
    logger: process.env.BENCH_VERBOSE === '1' ? pino({ level: 'debug' }) : silent,
  });
  end = startPhase();
  progress('gateway starting');
  await gw.start();
  progress('gateway started');
  const tStart = end();
  await udp(udpPort, { type: 'searchgw', radius: 0 }, 'gwinfo');
  const tGwinfo = end();
  progress('gwinfo');
  await udp(udpPort, {
    type: 'publish',
    flags: flags({ qos: -1, topicIdType: 1 }),
    topicId: 7,
    msgId: 0,
    data: Buffer.from('hi'),
  });
  const peek = new Database(dbPath(dir), { readonly: true });
  const maxId = peek.prepare('SELECT max(id) AS m FROM outbox');
  while ((maxId.get() as { m: number }).m <= n) await sleep(1);
  const tStored = end();
  peek.close();
  await gw.stop();
  rows.push(
    ['Gateway.start() resolved', fmt(tStart.ms, 1), fmt(tStart.rssMiB)],
    ['+ SEARCHGW answered by GWINFO', fmt(tGwinfo.ms, 1), ''],
    ['+ QoS -1 PUBLISH committed in the outbox', fmt(tStored.ms, 1), fmt(tStored.rssMiB)],
  );
  table(
    `Cold start with ${fmt(n)} rows queued (power-loss; backlog built by SQL in ${fmt(fillMs)} ms)`,
    rows,
  );
}
