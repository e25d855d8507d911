import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { mqttsnConfigSchema } from '../../adapters/mqttsn/config.js';
import { withDb } from '../../gateway/store/cli-open.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { stats } from '../../gateway/store/inspect.js';
import { GatewayProcess } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { tmpDir } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import type { SnClient } from '../mqttsn/client.js';
import {
  addresses,
  type PublishCounts,
  publishAll,
  publishPaced,
  publisher,
  silentSubscriber,
  sleeper,
} from './all-limits-devices.js';
import { hwmKb, rssKb } from './proc.js';
import { type FloodCounts, stateFlood } from './state-flood.js';
import { RSS_LATE_GROWTH_LIMIT_KB } from './verdict.js';

/**
 * Every store of one gateway process full at once, run as the service runs: the MQTT-SN session
 * state (kept sessions x long registrations), the in-memory downlink queues (devices subscribed to
 * an upstream topic that never ack), the durable inbox (commands for sleeping devices) and the
 * outbox (publishes while the broker is down). Then a hold at the limits (the publishers keep going:
 * the outbox drops its oldest rows) for the late-growth check, a clean stop, and a restart on that
 * state. The limits are the defaults, or the defaults' totals times `scale`.
 */

export interface Limits {
  maxStateBytes: number;
  maxStateBytesPerSource: number;
  maxTopicsPerClient: number;
  maxTopicLength: number;
  maxDownlinkMemory: number;
  maxQueuedBytesPerClient: number;
  maxQueuedBytesPerSource: number;
  inboxMaxRows: number;
  inboxMaxBytes: number;
  outboxMaxRows: number;
  outboxMaxBytes: number;
}

/** The defaults, with the totals (not the per-client or per-source bounds) times `scale`. */
export function limits(scale: number): Limits {
  const sn = mqttsnConfigSchema.parse({});
  const st = storeConfigSchema.parse({});
  const s = (n: number) => Math.floor(n * scale);
  return {
    maxStateBytes: s(sn.max_state_bytes),
    maxStateBytesPerSource: sn.max_state_bytes_per_source,
    maxTopicsPerClient: sn.max_topics_per_client,
    maxTopicLength: sn.max_topic_length,
    maxDownlinkMemory: s(sn.max_downlink_memory),
    maxQueuedBytesPerClient: sn.max_queued_bytes_per_client,
    maxQueuedBytesPerSource: sn.max_queued_bytes_per_source,
    inboxMaxRows: s(sn.inbox_max_rows),
    inboxMaxBytes: s(sn.inbox_max_bytes),
    outboxMaxRows: s(st.max_rows),
    outboxMaxBytes: s(st.max_bytes),
  };
}

const DOWN_TOPIC = 'down/all';
/** Downlink and command payloads: a packet's worth, well under max_packet_size (4096). */
const DOWN_PAYLOAD = 3000;
/** Uplink payloads: as much as a 4096-byte datagram carries beside its header. */
const UP_PAYLOAD = 3900;

/** The recommended ACL of docs/security.md, plus the downlink topic; a command rule for the sleepers. */
export function allLimitsConfig(o: {
  brokerUrl: string;
  udpPort: number;
  httpPort: number;
  stateDir: string;
  scale: number;
}): string {
  const l = limits(o.scale);
  // At scale 1 nothing is written: the run measures the shipped defaults.
  const sn =
    o.scale === 1
      ? ''
      : `  max_state_bytes: ${l.maxStateBytes}\n  max_downlink_memory: ${l.maxDownlinkMemory}\n  inbox_max_rows: ${l.inboxMaxRows}\n  inbox_max_bytes: ${l.inboxMaxBytes}\n`;
  const store =
    o.scale === 1 ? '' : `store: { max_rows: ${l.outboxMaxRows}, max_bytes: ${l.outboxMaxBytes} }\n`;
  return `gateway: { id: gw1, state_dir: ${o.stateDir}, stop_grace: 5s }
upstream: { url: "${o.brokerUrl}", reconnect: { min: 1s, max: 5s } }
${store}mqttsn:
  enabled: true
  listen: "127.0.0.1:${o.udpPort}"
${sn}  acl:
    rules:
      - { clients: ["*"], publish: ["sensors/{client}/#"], subscribe: ["cmd/{client}/#", "${DOWN_TOPIC}"] }
commands:
  - subscribe: cmd/gw1/+device
    to: mqttsn
    topic: cmd
http: { enabled: true, listen: "127.0.0.1:${o.httpPort}" }
`;
}

export interface AllLimitsReport {
  scale: number;
  limits: Limits;
  /** Each phase: what was offered and what the gateway held after it. */
  state: FloodCounts | undefined;
  downlink: { devices: number; published: number; fanOut: number; queueFullDrops: number } | undefined;
  inbox: { sleepers: number; commands: number; inboxFullDrops: number; rows: number; ms: number } | undefined;
  /** QoS 0 publishes sent to fill the outbox. */
  outbox: { sent: number; ms: number } | undefined;
  /** At the limits: QoS 0 publishes go on, and QoS 1 ones (window 1) must still be acked. */
  hold: { qos0Sent: number; qos1: PublishCounts; ms: number } | undefined;
  /** What the store held when the gateway stopped (read from its files). */
  stored: { outboxRows: number; outboxBytes: number; inboxRows: number; inboxBytes: number } | undefined;
  /** Metrics at the end of the hold (outbox, inbox, drops, devices). */
  metrics: string[];
  rssKb: { peak: number; holdLowEarly: number; holdLowLate: number };
  /** Peak RSS over the gateway's life (VmHWM), kB. */
  hwmKb: number;
  /** [ms since start, VmRSS kB] every 250 ms, with the phase it was in. */
  timeline: Array<[number, number, string]>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  restart:
    | {
        restored: number;
        upMs: number;
        hwmKb: number;
        outboxRows: number;
        inboxRows: number;
        exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      }
    | undefined;
  stderrTail: string;
  errorLines: unknown[];
}

/** Lines of /metrics that say what the stores hold and what was dropped. */
async function scrape(httpPort: number): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) =>
      /^fieldgate_(outbox_(rows|bytes)|inbox_rows|messages_dropped_total|mqttsn_devices)/.test(l),
    );
}

/** Sum of the samples of `name` whose labels contain every `labels` fragment. */
export function metricSum(lines: string[], name: string, ...labels: string[]): number {
  let n = 0;
  for (const l of lines) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)/.exec(l);
    if (m?.[1] === name && labels.every((f) => (m[2] ?? '').includes(f))) n += Number(m[3]);
  }
  return n;
}

/** QoS 1 publishes from a plain MQTT client (the cloud side), `window` at a time. */
async function cloudPublish(url: string, msgs: Array<[string, Buffer]>, window = 200): Promise<void> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    for (let i = 0; i < msgs.length; i += window)
      await Promise.all(msgs.slice(i, i + window).map(([t, p]) => client.publishAsync(t, p, { qos: 1 })));
  } finally {
    await client.endAsync();
  }
}

export async function runAllLimits(o: {
  scale: number;
  /** Seconds at the limits after everything is full (the late-growth window). */
  holdS: number;
  node: { flags?: string[]; built?: boolean; env?: Record<string, string> };
  log?: (line: string) => void;
}): Promise<AllLimitsReport> {
  const log = o.log ?? (() => undefined);
  const l = limits(o.scale);
  const report: AllLimitsReport = {
    scale: o.scale,
    limits: l,
    state: undefined,
    downlink: undefined,
    inbox: undefined,
    outbox: undefined,
    hold: undefined,
    stored: undefined,
    metrics: [],
    rssKb: { peak: 0, holdLowEarly: 0, holdLowLate: 0 },
    hwmKb: 0,
    timeline: [],
    exit: undefined,
    restart: undefined,
    stderrTail: '',
    errorLines: [],
  };
  const broker = await Mosquitto.start();
  const udpPort = await freeUdpPort();
  const httpPort = await freePort();
  const dir = tmpDir('fieldgate-alllimits-');
  const stateDir = join(dir, 'state');
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(
    file,
    allLimitsConfig({ brokerUrl: broker.url, udpPort, httpPort, stateDir, scale: o.scale }),
  );
  log(`state: ${dir}`);
  const start = () => GatewayProcess.start(['run', '-c', file, '-l', 'info'], o.node.env ?? {}, o.node);
  const gw = start();
  const t0 = Date.now();
  let phase = 'start';
  const sampler = setInterval(() => {
    const kb = rssKb(gw.pid);
    if (kb === undefined) return;
    report.timeline.push([Date.now() - t0, kb, phase]);
    report.rssKb.peak = Math.max(report.rssKb.peak, kb);
    report.hwmKb = Math.max(report.hwmKb, hwmKb(gw.pid) ?? 0);
    // The harness keeps every log line: keep errors only, so the run's own memory stays flat.
    for (const line of gw.lines.splice(0))
      if (Number(line.level) >= 50 && report.errorLines.length < 20) report.errorLines.push(line);
  }, 250);
  const mark = (p: string) => {
    phase = p;
    log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${p} (RSS ${rssKb(gw.pid) ?? '-'} kB)`);
  };
  const open: SnClient[] = [];
  try {
    await gw.waitForLog('fieldgate up', 30_000);
    mark('devices');
    // Devices first: once the state budget is full, a new session gets no CONNACK "accepted".
    // Downlink: three silent subscribers per address, their per-device and per-address bounds adding
    // up to 1.5 times max_downlink_memory, so the total is what stops them.
    const downCount = Math.ceil((1.5 * l.maxDownlinkMemory) / l.maxQueuedBytesPerClient);
    const downSrc = addresses('127.0.1', downCount, 3);
    for (let i = 0; i < downCount; i++)
      open.push(await silentSubscriber(udpPort, downSrc[i]!, `down-${i}`, DOWN_TOPIC));
    // Inbox: 512 sleepers (commands to one device are handed to the inbox one at a time, each waiting
    // for a commit: many devices fill it in a minute).
    const sleepCount = 512;
    const sleepSrc = addresses('127.0.3', sleepCount, 8);
    for (let i = 0; i < sleepCount; i++)
      open.push(await sleeper(udpPort, sleepSrc[i]!, `sleep-${i}`, 36_000));
    // Outbox: 128 publishers, 10 in flight each (max_inflight_per_client).
    const pubSrc = addresses('127.0.2', 128, 4);
    const pubs = [];
    for (let i = 0; i < 128; i++) {
      const p = await publisher(udpPort, pubSrc[i]!, `pub-${i}`, `sensors/pub-${i}/bulk`);
      pubs.push(p);
      open.push(p.client);
    }

    // 1. Session state: kept sessions x long registrations from twice as many addresses as the
    // per-address budget needs to fill the total.
    mark('state flood');
    const floodSources = Math.ceil((2 * l.maxStateBytes) / l.maxStateBytesPerSource);
    report.state = await stateFlood({
      port: udpPort,
      sources: Array.from({ length: floodSources }, (_, i) => `127.0.0.${i + 2}`),
      clientsPerSource: 16,
      registersPerClient: l.maxTopicsPerClient,
      topicBytes: l.maxTopicLength,
    });
    log(`  ${JSON.stringify(report.state)}`);

    // 2. Downlink queues: the broker publishes to every silent subscriber, past what memory holds.
    mark('downlink');
    const jobCost = DOWN_PAYLOAD + DOWN_TOPIC.length + 256;
    const downMsgs = Math.ceil((1.3 * l.maxQueuedBytesPerClient) / jobCost);
    const payload = Buffer.alloc(DOWN_PAYLOAD, 0x64);
    await cloudPublish(
      broker.url,
      Array.from({ length: downMsgs }, () => [DOWN_TOPIC, payload] as [string, Buffer]),
      50,
    );
    await sleep(3000); // the gateway's queues take them in
    const afterDown = await scrape(httpPort);
    report.downlink = {
      devices: downCount,
      published: downMsgs,
      fanOut: downMsgs * downCount,
      queueFullDrops: metricSum(afterDown, 'fieldgate_messages_dropped_total', 'reason="queue_full"'),
    };
    log(`  ${JSON.stringify(report.downlink)}`);

    // 3. Inbox: commands for every sleeper, 1.2 x what the inbox's byte bound holds.
    mark('inbox');
    const i0 = Date.now();
    const perSleeper = Math.ceil((1.2 * l.inboxMaxBytes) / sleepCount / (DOWN_PAYLOAD + 3));
    const cmds: Array<[string, Buffer]> = [];
    for (let k = 0; k < perSleeper; k++)
      for (let i = 0; i < sleepCount; i++) cmds.push([`cmd/gw1/sleep-${i}`, payload]);
    await cloudPublish(broker.url, cmds);
    // The broker has them acked once spooled; wait until the spool handed them all to the adapter
    // (the inbox stops changing), at most 5 minutes.
    let afterInbox = await scrape(httpPort);
    for (let last = -1, still = 0; still < 5 && Date.now() - i0 < 300_000; ) {
      await sleep(1000);
      afterInbox = await scrape(httpPort);
      const rows = metricSum(afterInbox, 'fieldgate_inbox_rows');
      still = rows === last ? still + 1 : 0;
      last = rows;
    }
    report.inbox = {
      sleepers: sleepCount,
      commands: cmds.length,
      inboxFullDrops: metricSum(afterInbox, 'fieldgate_messages_dropped_total', 'reason="inbox_full"'),
      rows: metricSum(afterInbox, 'fieldgate_inbox_rows'),
      ms: Date.now() - i0,
    };
    log(`  ${JSON.stringify(report.inbox)}`);

    // 4. Outbox: the broker goes away; publishers fill the outbox up to max_bytes (or max_rows).
    mark('outbox');
    await broker.stop();
    const upPayload = Buffer.alloc(UP_PAYLOAD, 0x75);
    let outboxFull = false;
    const watch = setInterval(() => {
      scrape(httpPort)
        .then((m) => {
          outboxFull ||=
            metricSum(m, 'fieldgate_outbox_bytes') >= 0.98 * l.outboxMaxBytes ||
            metricSum(m, 'fieldgate_outbox_rows') >= 0.98 * l.outboxMaxRows;
        })
        .catch(() => undefined);
    }, 1000);
    const o0 = Date.now();
    try {
      const sent = await publishPaced(pubs, {
        // Bounded: 1.5 x what max_bytes holds (or max_rows), in case the watch never sees it full.
        total: Math.ceil(1.5 * Math.min(l.outboxMaxRows, l.outboxMaxBytes / UP_PAYLOAD)),
        payload: upPayload,
        rate: 2000,
        keepGoing: () => !outboxFull,
      });
      report.outbox = { sent, ms: Date.now() - o0 };
    } finally {
      clearInterval(watch);
    }
    log(`  ${JSON.stringify(report.outbox)}`);

    // 5. Hold at the limits: the publishers keep going (the outbox drops its oldest rows).
    mark('hold');
    const h0 = Date.now();
    const holding = () => Date.now() - h0 < o.holdS * 1000;
    const [qos0Sent, qos1] = await Promise.all([
      publishPaced(pubs.slice(16), {
        total: Number.MAX_SAFE_INTEGER,
        payload: upPayload,
        rate: 500,
        keepGoing: holding,
      }),
      publishAll(pubs.slice(0, 16), {
        total: Number.MAX_SAFE_INTEGER,
        payload: upPayload,
        window: 1,
        keepGoing: holding,
      }),
    ]);
    report.hold = { qos0Sent, qos1, ms: Date.now() - h0 };
    report.metrics = await scrape(httpPort);
    mark('stop');
    const holdRss = report.timeline.filter(([, , p]) => p === 'hold');
    const low = (lo: number, hi: number) => {
      const part = holdRss.slice(Math.floor(lo * holdRss.length), Math.ceil(hi * holdRss.length));
      return part.length ? Math.min(...part.map(([, kb]) => kb)) : 0;
    };
    report.rssKb.holdLowEarly = low(0.25, 0.5);
    report.rssKb.holdLowLate = low(0.75, 1);
    report.hwmKb = Math.max(report.hwmKb, hwmKb(gw.pid) ?? 0);
    gw.signal('SIGTERM');
    report.exit = await gw.exited(60_000);
  } finally {
    clearInterval(sampler);
    report.stderrTail = gw.stderr.slice(-2000);
    await gw.kill();
    await Promise.all(open.map((c) => c.close()));
    await broker.stop();
  }
  const s = stats(stateDir);
  const inbox = withDb(stateDir, true, (db) => db.prepare('SELECT rows, bytes FROM inbox_totals').get()) as
    | { rows: number; bytes: number }
    | undefined;
  report.stored = {
    outboxRows: s.outbox.rows,
    outboxBytes: s.outbox.bytes,
    inboxRows: inbox?.rows ?? 0,
    inboxBytes: inbox?.bytes ?? 0,
  };
  log(`stored: ${JSON.stringify(report.stored)}`);

  // 6. Restart on that state (the broker still down): it must come up, and stay up.
  const again = start();
  try {
    const r0 = Date.now();
    const listening = await again.waitForLog('mqttsn listening', 120_000);
    await again.waitForLog('fieldgate up', 120_000);
    const upMs = Date.now() - r0;
    await sleep(5000); // a restore that blows the heap aborts while or right after loading
    const m = await scrape(httpPort);
    const restartHwm = hwmKb(again.pid) ?? 0;
    again.signal('SIGTERM');
    const exit = await again.exited(60_000);
    report.restart = {
      restored: Number(listening.restored),
      upMs,
      hwmKb: restartHwm,
      outboxRows: metricSum(m, 'fieldgate_outbox_rows'),
      inboxRows: metricSum(m, 'fieldgate_inbox_rows'),
      exit,
    };
  } finally {
    report.stderrTail += again.stderr.slice(-2000);
    await again.kill();
  }
  return report;
}

/** What must hold; each string is one failure, empty = passed. */
export function allLimitsVerdict(r: AllLimitsReport, memoryMaxKb: number | undefined): string[] {
  const fail: string[] = [];
  const l = r.limits;
  if (!r.state || r.state.congestion === 0) fail.push('the session state budget never refused a REGISTER');
  if (!r.downlink || r.downlink.queueFullDrops === 0)
    fail.push('the downlink queues never refused a message');
  if (!r.inbox || r.inbox.inboxFullDrops === 0) fail.push('the inbox never refused a command');
  const st = r.stored;
  if (!st) fail.push('the store was not read after the stop');
  else {
    // Full: within 2 % of a bound (commands waiting in the spool count against it while they wait).
    if (st.inboxBytes < 0.98 * l.inboxMaxBytes && st.inboxRows < 0.98 * l.inboxMaxRows)
      fail.push(`inbox not full: ${st.inboxRows} rows, ${st.inboxBytes} bytes`);
    if (st.inboxBytes > l.inboxMaxBytes || st.inboxRows > l.inboxMaxRows)
      fail.push(`inbox over its bounds: ${st.inboxRows} rows, ${st.inboxBytes} bytes`);
    if (st.outboxBytes < 0.98 * l.outboxMaxBytes && st.outboxRows < 0.98 * l.outboxMaxRows)
      fail.push(`outbox not full: ${st.outboxRows} rows, ${st.outboxBytes} bytes`);
    if (st.outboxBytes > l.outboxMaxBytes || st.outboxRows > l.outboxMaxRows)
      fail.push(`outbox over its bounds: ${st.outboxRows} rows, ${st.outboxBytes} bytes`);
  }
  if (memoryMaxKb !== undefined && r.hwmKb > memoryMaxKb)
    fail.push(`VmHWM ${r.hwmKb} kB above the unit's MemoryMax= ${memoryMaxKb} kB`);
  const late = Math.max(0, r.rssKb.holdLowLate - r.rssKb.holdLowEarly);
  if (late > RSS_LATE_GROWTH_LIMIT_KB)
    fail.push(`RSS still growing at the limits: +${late} kB from the second to the last quarter of the hold`);
  if (!r.hold || r.hold.qos1.acked === 0 || r.hold.qos1.refused > 0)
    fail.push(`QoS 1 publishes at the limits not acked: ${JSON.stringify(r.hold?.qos1)}`);
  if (r.exit?.code !== 0) fail.push(`gateway did not stop cleanly: ${JSON.stringify(r.exit)}`);
  if (!r.restart) fail.push(`the restart did not come up; stderr: ${r.stderrTail}`);
  else {
    if (r.restart.exit?.code !== 0)
      fail.push(`restarted gateway did not stop cleanly: ${JSON.stringify(r.restart.exit)}`);
    if (memoryMaxKb !== undefined && r.restart.hwmKb > memoryMaxKb)
      fail.push(`restart VmHWM ${r.restart.hwmKb} kB above MemoryMax= ${memoryMaxKb} kB`);
    if (st && r.restart.outboxRows < st.outboxRows)
      fail.push(`restart lost outbox rows: ${r.restart.outboxRows}`);
  }
  if (r.errorLines.length) fail.push(`error log lines: ${JSON.stringify(r.errorLines.slice(0, 3))}`);
  return fail;
}

export function allLimitsSummary(r: AllLimitsReport, memoryMaxKb: number | undefined): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  const l = r.limits;
  return [
    `limits (${r.scale === 1 ? 'the defaults' : `the defaults' totals x ${r.scale}`}): max_state_bytes ${mib(l.maxStateBytes)}, max_downlink_memory ${mib(l.maxDownlinkMemory)}, inbox ${l.inboxMaxRows} rows / ${mib(l.inboxMaxBytes)}, outbox ${l.outboxMaxRows} rows / ${mib(l.outboxMaxBytes)}`,
    `state flood: ${JSON.stringify(r.state)}`,
    `downlink: ${JSON.stringify(r.downlink)}`,
    `inbox: ${JSON.stringify(r.inbox)}`,
    `outbox fill: ${JSON.stringify(r.outbox)}; hold: ${JSON.stringify(r.hold)}`,
    `stored at stop: ${JSON.stringify(r.stored)}`,
    'metrics at the end of the hold:',
    ...r.metrics.map((m) => `  ${m}`),
    `RSS kB: peak ${r.rssKb.peak}; hold lows ${r.rssKb.holdLowEarly} (2nd quarter) -> ${r.rssKb.holdLowLate} (last quarter): late growth ${Math.max(0, r.rssKb.holdLowLate - r.rssKb.holdLowEarly)}`,
    `VmHWM ${r.hwmKb} kB, MemoryMax ${memoryMaxKb ?? 'none'} kB; exit ${JSON.stringify(r.exit)}`,
    `restart: ${JSON.stringify(r.restart)}`,
    `phases (last RSS sample of each, kB): ${JSON.stringify(phaseEnds(r.timeline))}`,
  ].join('\n');
}

function phaseEnds(t: Array<[number, number, string]>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [ms, kb, p] of t) out[p] = [Math.round(ms / 1000), kb];
  return out;
}
