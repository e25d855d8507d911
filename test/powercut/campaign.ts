import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stats } from '../../gateway/store/inspect.js';
import { GatewayProcess } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { type Device, type Stream, serialDevice, snDevice } from './devices.js';
import { PowerCutDisk } from './disk.js';
import { Link } from './link.js';

/** `power-loss-no-fsync`: power-loss with the WAL fdatasync removed (FIELDGATE_TEST_SKIP_WAL_FSYNC). */
export type Mode = 'power-loss' | 'process-crash' | 'power-loss-no-fsync';

/**
 * Where a cut lands. streaming: at a random moment of normal traffic; wal-fsync: inside the WAL
 * fdatasync of a group commit; checkpoint-write / checkpoint-fsync: inside a WAL checkpoint, at its
 * first database page write / in its fsync of the database; link-down: broker unreachable (the
 * link was pulled a moment before, the outbox grows); drain: the link just came back and the
 * backlog is being sent; clean-restart: soon after a clean stop and start (SQLite deleted the WAL at
 * the stop and creates a new one).
 */
export const CUT_KINDS = [
  'streaming',
  'wal-fsync',
  'checkpoint-write',
  'link-down',
  'drain',
  'checkpoint-fsync',
  'clean-restart',
] as const;
export type CutKind = (typeof CUT_KINDS)[number];

export interface CampaignOptions {
  mode: Mode;
  cuts: number;
  /** Cut kinds, in turn (default: all of CUT_KINDS). */
  kinds?: readonly CutKind[];
  /** How long the gateway runs before a cut is armed (random in this range, ms). */
  aliveMs?: [number, number];
  /**
   * Every other cut is torn: each unsynced 512-byte sector survives or not at random (disk.ts),
   * instead of all of them being lost.
   */
  torn?: boolean;
  /** Each device waits this long after an ack before its next message (default 5 ms: as fast as acks come). */
  paceMs?: number;
  log?: (line: string) => void;
}

export interface CampaignResult {
  mode: Mode;
  cuts: number;
  /** Of those, cuts that kept a random part of the unsynced sectors. */
  tornCuts: number;
  /** Cuts per kind; `inside` counts those that landed inside the named event (not a fallback kill). */
  kinds: Record<string, { cuts: number; inside: number }>;
  acked: number;
  ackedQos2: number;
  /** Acknowledged to a device, never at the subscriber. */
  lost: number;
  lostQos2: number;
  /** QoS 2 messages the subscriber got more than once (extra copies). */
  duplicatedQos2: number;
  duplicatedQos1: number;
  /** Per device, first arrivals out of the order it sent them in (the contract keeps device order). */
  outOfOrder: number;
  /** Databases that failed PRAGMA integrity_check (or that the gateway found corrupt at start). */
  integrityFailures: number;
  /** Fsyncs the simulator saw: the WAL (group commits) and the database (checkpoints). */
  walFsyncs: number;
  dbFsyncs: number;
  /** Of the lost messages: the longest time between its ack and the cut that lost it (ms). */
  maxLostAgeMs: number;
  /** Lost messages per cut. */
  lostPerCut: number[];
  /** Per cut: time since the last checkpoint completed (its fsync of the database), ms; -1: none yet. */
  sinceCheckpointMs: number[];
  durationMs: number;
}

const DB = 'fieldgate.db';

/**
 * Devices stream QoS 1 and QoS 2 through MQTT-SN and serial while the gateway (a child process under
 * the power-cut simulator) drains to a real mosquitto; the power is cut `cuts` times and the gateway
 * restarted on what survived. Then every message a device saw acknowledged is looked for at a
 * persistent QoS 2 subscriber on the broker.
 */
export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const kinds = opts.kinds ?? CUT_KINDS;
  const [aliveMin, aliveMax] = opts.aliveMs ?? [600, 1400];
  const pace = opts.paceMs ?? 5;
  const root = tmpDir('fieldgate-powercut-');
  const disk = new PowerCutDisk(join(root, 'state'), root);
  const broker = await Mosquitto.start();
  const sub = await Subscriber.connect(broker.url, 'pc/#', {
    qos: 2,
    clientId: `pc-sub-${Date.now()}`,
    clean: false,
  });
  const link = await Link.start(broker.port);
  const udpPort = await freeUdpPort();
  const pty = await PtyPair.open(tmpDir('fieldgate-pty-'));
  const file = join(root, 'gw.yaml');
  writeFileSync(
    file,
    `gateway: { id: pc, state_dir: state, stop_grace: 5s }
upstream: { url: "${link.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
store: { durability: ${opts.mode === 'process-crash' ? 'process-crash' : 'power-loss'} }
http: { enabled: false }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${udpPort}"
  predefined_topics: { 1: pc/q1/sn1, 2: pc/q1/sn2, 3: pc/q2/sn3, 4: pc/q2/sn4 }
serial:
  - name: ser
    path: ${pty.device}
    format: kv
    topic: "pc/q1/{device}/{field}"
    qos: 1
    ack: { seq_field: seq, template: "ACK {seq}\\n" }
    reopen: { min: 50ms, max: 200ms }
rules:
  - { match: "pc/q2/#", qos: 2 }
  - { match: "pc/q1/#", qos: 1 }
`,
  );
  const env = {
    ...(opts.mode === 'power-loss-no-fsync' ? { FIELDGATE_TEST_SKIP_WAL_FSYNC: '1' } : {}),
  };

  const result: CampaignResult = {
    mode: opts.mode,
    cuts: 0,
    tornCuts: 0,
    kinds: {},
    acked: 0,
    ackedQos2: 0,
    lost: 0,
    lostQos2: 0,
    duplicatedQos2: 0,
    duplicatedQos1: 0,
    outOfOrder: 0,
    integrityFailures: 0,
    walFsyncs: 0,
    dbFsyncs: 0,
    maxLostAgeMs: 0,
    lostPerCut: [],
    sinceCheckpointMs: [],
    durationMs: 0,
  };

  let gw: GatewayProcess | undefined;
  // What is in the state dir at a start counts as durable: after a cut it is what the disk kept; after a
  // clean stop, the machine is taken to have run long enough for the kernel to write back the rest.
  const start = async () => {
    disk.prepare();
    gw = GatewayProcess.start(['run', '-c', file], { ...disk.env(), ...env });
    await gw.waitForLog('fieldgate up', 30_000);
    if (gw.lines.some((l) => /CORRUPT/.test(String(l.msg)))) {
      result.integrityFailures++;
      log(
        `gateway found its database corrupt at start: ${JSON.stringify(gw.lines.filter((l) => /CORRUPT/.test(String(l.msg))))}`,
      );
    }
  };

  let stopping = false;
  const stop = () => stopping;
  const devices: Device[] = [];
  const stream = (topic: string, qos: 1 | 2): Stream => ({ topic, qos, acked: [] });
  const cutTimes: number[] = [];

  try {
    await start();
    devices.push(
      snDevice(udpPort, 'sn1', 1, stream('pc/q1/sn1', 1), pace, stop),
      snDevice(udpPort, 'sn2', 2, stream('pc/q1/sn2', 1), pace, stop),
      snDevice(udpPort, 'sn3', 3, stream('pc/q2/sn3', 2), pace, stop),
      snDevice(udpPort, 'sn4', 4, stream('pc/q2/sn4', 2), pace, stop),
      serialDevice(pty.sensor, stream('pc/q1/ser/n', 1), pace, stop),
    );
    const ackedNow = () => devices.reduce((n, d) => n + d.stream.acked.length, 0);

    for (let i = 0; i < opts.cuts; i++) {
      const kind = kinds[i % kinds.length]!;
      const g = gw!;
      const alive = aliveMin + Math.random() * (aliveMax - aliveMin);
      // Acks must flow before a cut: otherwise it would prove nothing.
      const before = ackedNow();
      await waitFor(() => ackedNow() > before + 20, 'devices acknowledged after the restart', 20_000);
      let event: Parameters<PowerCutDisk['killOn']> | undefined;
      if (kind === 'streaming') await sleep(alive);
      else if (kind === 'wal-fsync') {
        await sleep(alive);
        event = ['sync', `${DB}-wal`];
      } else if (kind === 'checkpoint-write') event = ['write', DB];
      else if (kind === 'checkpoint-fsync') event = ['sync', DB];
      else if (kind === 'link-down') {
        link.set(false);
        const downAt = Date.now();
        await sleep(alive); // the outbox grows; the restart below finds the link still down
        // A cut right behind a checkpoint would find nothing to lose even where that is possible: wait
        // until messages were acknowledged after both the link went down and the last checkpoint ended.
        await waitFor(
          () => {
            const since = Math.max(downAt, disk.stats()[DB]?.lastSyncAt ?? 0);
            return devices.reduce((n, d) => n + d.stream.acked.filter((a) => a.at > since).length, 0) >= 20;
          },
          '20 acks since the link went down and the last checkpoint',
          20_000,
        );
        if (opts.mode === 'power-loss') event = ['sync', `${DB}-wal`];
      } else if (kind === 'clean-restart') {
        g.signal('SIGTERM');
        const { code } = await g.exited();
        if (code !== 0) throw new Error(`clean stop exited ${code}: ${g.stderr.slice(-500)}`);
        await start();
        await sleep(aliveMin / 4);
        if (opts.mode === 'power-loss') event = ['sync', `${DB}-wal`];
      } else {
        // drain: the link comes back with a backlog queued; cut once it is being sent.
        const queued = stats(disk.dir).outbox.rows;
        const got = sub.messages.length;
        link.set(true);
        await waitFor(() => sub.messages.length > got + 10, 'the backlog draining', 20_000);
        log(`  drain: ${queued} rows queued when the link came back`);
      }
      let inside = false;
      const victim = gw!; // a new process after a clean restart
      if (event) {
        disk.killOn(...event);
        // The event may never come (no checkpoint due, no WAL fsync in process-crash mode): then a plain cut.
        inside = await Promise.race([victim.exited(60_000).then(() => true), sleep(8000).then(() => false)]);
      }
      await victim.kill();
      const cutAt = Date.now();
      cutTimes.push(cutAt);
      const s = disk.stats();
      const checkpointAt = s[DB]?.lastSyncAt ?? 0;
      result.sinceCheckpointMs.push(checkpointAt > 0 ? cutAt - checkpointAt : -1);
      result.walFsyncs += s[`${DB}-wal`]?.syncs ?? 0;
      result.dbFsyncs += s[DB]?.syncs ?? 0;
      disk.disarm();
      const torn = opts.torn === true && i % 2 === 1;
      const survivors = disk.cut(torn ? () => Math.random() < 0.5 : undefined);
      result.cuts++;
      if (torn) result.tornCuts++;
      const k = result.kinds[kind] ?? { cuts: 0, inside: 0 };
      result.kinds[kind] = k;
      k.cuts++;
      if (inside) k.inside++;
      const integrity = checkIntegrity(disk.dir, survivors);
      if (integrity !== 'ok') result.integrityFailures++;
      log(
        `cut ${i + 1}/${opts.cuts}${torn ? ' torn' : ''} ${kind}${event ? (inside ? ' (inside the event)' : ' (event did not come: plain cut)') : ''}: ` +
          `survivors [${survivors.join(' ')}], integrity ${integrity}, acked so far ${ackedNow()}, ` +
          `last checkpoint ${checkpointAt ? `${((cutAt - checkpointAt) / 1000).toFixed(1)} s before` : 'not in this run'}`,
      );
      await start();
    }

    // Power stays on: link up, a little more traffic, then the devices finish and everything drains.
    link.set(true);
    await sleep(500);
    stopping = true;
    await Promise.all(devices.map((d) => d.done));
    const all = devices.flatMap((d) => d.stream.acked.map((a) => ({ ...a, topic: d.stream.topic })));
    const arrived = () => new Set(sub.messages.map((m) => `${m.topic}#${m.payload.toString()}`));
    // Wait for the outbox to drain and the subscriber's count to hold still (a QoS 2 duplicate would
    // come right behind); power-loss also waits for every acknowledged message (the lossy modes would
    // wait for theirs in vain).
    const lossless = opts.mode === 'power-loss';
    let last = -1;
    await waitFor(
      async () => {
        if (lossless) {
          const have = arrived();
          if (!all.every((a) => have.has(`${a.topic}#${a.seq}`))) return false;
        }
        const n = sub.messages.length;
        const settled = n === last && stats(disk.dir).outbox.rows === 0;
        last = n;
        if (!settled) await sleep(300);
        return settled;
      },
      lossless ? 'every acknowledged message at the subscriber' : 'outbox drained and delivery settled',
      30_000,
    ).catch((err: Error) => log(`final delivery: ${err.message}`)); // what is missing counts as lost below
    gw!.signal('SIGTERM');
    await gw!.exited();

    // The accounting: per stream, seqs acknowledged vs received.
    const counts = new Map<string, number>();
    for (const m of sub.messages) {
      const key = `${m.topic}#${m.payload.toString()}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    result.lostPerCut = cutTimes.map(() => 0);
    for (const d of devices) {
      const q2 = d.stream.qos === 2;
      result.acked += d.stream.acked.length;
      if (q2) result.ackedQos2 += d.stream.acked.length;
      for (const a of d.stream.acked) {
        const n = counts.get(`${d.stream.topic}#${a.seq}`) ?? 0;
        if (n === 0) {
          result.lost++;
          if (q2) result.lostQos2++;
          const cut = cutTimes.findIndex((t) => t >= a.at);
          if (cut >= 0) {
            result.lostPerCut[cut]!++;
            result.maxLostAgeMs = Math.max(result.maxLostAgeMs, cutTimes[cut]! - a.at);
          }
        }
        if (n > 1) {
          if (q2) result.duplicatedQos2 += n - 1;
          else result.duplicatedQos1 += n - 1;
        }
      }
    }
    // Order: each device's messages first arrive in the order it sent them (duplicates come later).
    const firstSeen = new Map<string, Set<number>>();
    const lastFirst = new Map<string, number>();
    for (const m of sub.messages) {
      const seq = Number(m.payload.toString());
      const seen = firstSeen.get(m.topic) ?? new Set<number>();
      firstSeen.set(m.topic, seen);
      if (seen.has(seq)) continue;
      seen.add(seq);
      if (seq < (lastFirst.get(m.topic) ?? 0)) result.outOfOrder++;
      lastFirst.set(m.topic, Math.max(seq, lastFirst.get(m.topic) ?? 0));
    }
  } finally {
    stopping = true;
    await gw?.kill();
    await Promise.allSettled(devices.map((d) => d.done));
    await sub.close();
    await link.close();
    await pty.close();
    await broker.stop();
  }
  result.durationMs = Date.now() - started;
  return result;
}

/** PRAGMA integrity_check on a copy of what survived (opening it runs WAL recovery, as a restart does). */
function checkIntegrity(dir: string, survivors: string[]): string {
  if (!survivors.includes(DB)) return 'ok'; // no database yet: nothing was acknowledged
  const copy = mkdtempSync(join(tmpdir(), 'fieldgate-powercut-check-'));
  for (const name of survivors) if (existsSync(join(dir, name))) cpSync(join(dir, name), join(copy, name));
  try {
    const db = new Database(join(copy, DB));
    try {
      const rows = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join('; ');
    } finally {
      db.close();
    }
  } catch (err) {
    return `cannot open: ${(err as Error).message}`;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export function summary(r: CampaignResult): string {
  const kinds = Object.entries(r.kinds)
    .map(([k, v]) => `${k} ${v.cuts}${v.inside ? ` (${v.inside} inside)` : ''}`)
    .join(', ');
  return [
    `${r.mode}: ${r.cuts} cuts (${r.tornCuts} torn) [${kinds}] in ${(r.durationMs / 1000).toFixed(0)} s`,
    `  acknowledged ${r.acked} (QoS 2: ${r.ackedQos2}), lost ${r.lost} (QoS 2: ${r.lostQos2}), ` +
      `duplicated QoS 2 ${r.duplicatedQos2} (QoS 1 duplicates, allowed: ${r.duplicatedQos1}), integrity failures ${r.integrityFailures}, out of order ${r.outOfOrder}`,
    `  fsyncs seen: WAL ${r.walFsyncs}, database (checkpoints) ${r.dbFsyncs}` +
      (r.lost
        ? `; lost per cut [${r.lostPerCut.join(' ')}], oldest lost ack ${(r.maxLostAgeMs / 1000).toFixed(1)} s before its cut`
        : ''),
    `  last checkpoint before each cut (s): [${r.sinceCheckpointMs.map((ms) => (ms < 0 ? '-' : (ms / 1000).toFixed(1))).join(' ')}]`,
  ].join('\n');
}
