/**
 * Cold start with a large backlog: rows inserted by SQL into the store's own schema, then the time
 * to open the store and read the head (in this process), and the time the gateway process (as the
 * systemd unit runs it) takes from spawn to accepting input, with its peak RSS (VmHWM).
 */
import { createSocket } from 'node:dgram';
import Database from 'better-sqlite3';
import { decode, encode, flags } from '../adapters/mqttsn/codec/index.js';
import { dbPath } from '../gateway/store/database.js';
import { openStore } from '../gateway/store/open.js';
import { ROW_COST_SQL } from '../gateway/store/outbox-totals.js';
import { freePort } from '../test/harness/ports.js';
import { tmpDir } from '../test/harness/tmp.js';
import { BenchGateway } from './gateway-proc.js';
import { fmt, progress, QUICK, silent, sleep, startPhase, table } from './util.js';

const LIMITS = { max_rows: 10_000_000, max_bytes: 1e10, max_age: 86400e3, overflow: 'drop-oldest' as const };

/** Fills the outbox with n QoS 1 rows in one transaction, and outbox_totals with their count (as a clean stop). */
function fillBySql(dir: string, n: number): void {
  openStore({ dir, durability: 'power-loss', limits: LIMITS, logger: silent }).close(); // creates the schema
  const db = new Database(dbPath(dir));
  const now = Date.now();
  db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
     INSERT INTO outbox (source, device, topic, payload, qos, retain, received_at, enqueued_at)
     SELECT 'bench', 'd' || (i % 8), 'bench/cold/d' || (i % 8), zeroblob(64), 1, 0, ?, ? FROM seq`,
  ).run(n, now, now);
  // As a clean stop leaves it: the counts written back, so the start does not count the table.
  db.prepare(
    `UPDATE outbox_totals SET rows = (SELECT count(*) FROM outbox), clean = 1,
       bytes = (SELECT coalesce(sum(${ROW_COST_SQL}), 0) FROM outbox), id_ceiling = (SELECT max(id) FROM outbox)`,
  ).run();
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

  const rows = [['step', 'ms', 'peak RSS MiB']]; // peak: of this process (store), of the gateway process
  // 1. The store alone.
  const end = startPhase();
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

  // 2. The gateway process (as the unit runs it), upstream unreachable (nothing listens) so nothing
  // drains meanwhile: from spawn (node start and module loading included) to an answered SEARCHGW.
  const t0 = performance.now();
  const gw = await BenchGateway.start({
    brokerUrl: `mqtt://127.0.0.1:${await freePort()}`,
    inflight: 32,
    durability: 'power-loss',
    id: 'bench-cold',
    stateDir: dir,
    // Above the backlog: at the default max_rows (1M) the reading would be refused as overflow.
    storeExtra: `max_rows: ${LIMITS.max_rows}`,
    mqttsnExtra: 'predefined_topics: { 7: bench/cold/in }, qos_minus_one: { enabled: true }',
  });
  const tGwinfo = performance.now() - t0;
  const rssUp = gw.rss();
  progress('gwinfo');
  await udp(gw.port, {
    type: 'publish',
    flags: flags({ qos: -1, topicIdType: 1 }),
    topicId: 7,
    msgId: 0,
    data: Buffer.from('hi'),
  });
  const peek = new Database(dbPath(dir), { readonly: true });
  const maxId = peek.prepare('SELECT max(id) AS m FROM outbox');
  while ((maxId.get() as { m: number }).m <= n) {
    if (performance.now() - t0 > 60_000) throw new Error(`the QoS -1 reading was not stored:\n${gw.tail()}`);
    await sleep(1);
  }
  const tStored = performance.now() - t0;
  peek.close();
  await sleep(5000); // settle, then what a gateway holding this backlog keeps resident
  const rssIdle = gw.rss();
  await gw.stop();
  rows.push(
    ['gateway process: spawn -> SEARCHGW answered', fmt(tGwinfo, 1), fmt(rssUp.hwm)],
    ['+ QoS -1 PUBLISH committed in the outbox', fmt(tStored, 1), ''],
    [`+ 5 s idle: VmRSS ${fmt(rssIdle.rss)} MiB`, '', fmt(rssIdle.hwm)],
  );
  table(
    `Cold start with ${fmt(n)} rows queued (power-loss; backlog built by SQL in ${fmt(fillMs)} ms)`,
    rows,
  );
}
