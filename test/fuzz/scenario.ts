import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peek } from '../../gateway/store/inspect.js';
import { GatewayProcess, type LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { tmpDir } from '../harness/tmp.js';
import { type BarrageResult, barrage } from './barrage.js';
import { fuzzGatewayConfig } from './gateway-config.js';
import { type LegitResult, legitRound } from './legit.js';
import { hwmKb, rssKb, udpRcvbufErrors } from './proc.js';

export interface FuzzOptions {
  seed: number;
  count: number;
  rate: number;
  sockets: number;
  /** Clean devices and QoS 1 messages each, before and after the barrage. */
  /** See Pools: leave out topics the broker refuses. */
  tame?: boolean;
  legitDevices: number;
  legitMessages: number;
  /** How long the clean devices get, after the barrage, to connect and deliver everything. */
  legitDeadlineMs: number;
  /**
   * How the gateway process runs: node/V8 flags (the systemd unit's, see unit-limits.ts) and the
   * compiled CLI instead of tsx. Default: tsx, no flags.
   */
  node?: { flags?: string[]; built?: boolean; env?: Record<string, string> };
  /** The unit's MemoryMax= in kB: the gateway's peak RSS (VmHWM) must stay under it. */
  memoryMaxKb?: number;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  barrage: BarrageResult | undefined;
  /** Exit of the gateway, if it ended (it must not). */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /**
   * Datagrams the kernel dropped during the barrage because the gateway's receive buffer was
   * full (system-wide counter, so other traffic on the box adds to it): sent minus this reached it.
   */
  kernelDrops: number;
  rssKb: { baseline: number; peak: number; after: number; samples: number };
  /**
   * The kernel's VmHWM at the end (peak RSS over the whole life of the process, start-up
   * included, so no peak falls between two samples), and the MemoryMax= it must stay under.
   */
  hwmKb: number;
  memoryMaxKb: number | undefined;
  /** The node flags the gateway ran with, and whether it was the compiled CLI. */
  node: { flags: string[]; built: boolean };
  /** RSS over the barrage: [datagrams sent, kB], about every 100 ms. */
  rssTimeline: [number, number][];
  before: LegitResult | undefined;
  after: LegitResult | undefined;
  logCounts: Record<string, number>;
  /** Info, warning and error log lines by message (the first warning/error of each kept in `examples`). */
  warnings: Record<string, number>;
  examples: LogLine[];
  /** Error/fatal log lines (first few) and the tail of stderr. */
  errorLines: LogLine[];
  stderrTail: string;
  /** Broker log lines that are not routine connects (why it closed the gateway's connection). */
  brokerLog: string[];
  /** The oldest outbox rows when the run ended (the head is what the uplink is stuck on, if it is). */
  outboxHead: string[];
  metrics: string[];
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * The whole fuzz run: a real mosquitto, a counting subscriber, the gateway as a child process
 * (MQTT-SN on, QoS -1 on, downlink commands on), clean devices before, the barrage, clean devices
 * after. Never throws for what the gateway did: the report says it, the caller asserts.
 */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.log ?? (() => undefined);
  const report: FuzzReport = {
    seed: o.seed,
    barrage: undefined,
    exit: undefined,
    kernelDrops: 0,
    rssKb: { baseline: 0, peak: 0, after: 0, samples: 0 },
    hwmKb: 0,
    memoryMaxKb: o.memoryMaxKb,
    node: { flags: o.node?.flags ?? [], built: o.node?.built === true },
    rssTimeline: [],
    before: undefined,
    after: undefined,
    logCounts: {},
    warnings: {},
    examples: [],
    errorLines: [],
    stderrTail: '',
    brokerLog: [],
    outboxHead: [],
    metrics: [],
  };
  const broker = await Mosquitto.start();
  const sub = await Subscriber.connect(broker.url, 'legit/#', { qos: 1 });
  const udpPort = await freeUdpPort();
  const httpPort = await freePort();
  const dir = tmpDir('fieldgate-fuzz-');
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(
    file,
    fuzzGatewayConfig({ brokerUrl: broker.url, udpPort, httpPort, stateDir: join(dir, 'state') }),
  );
  o.log?.(`state: ${dir}`);
  const gw = GatewayProcess.start(['run', '-c', file, '-l', 'info'], o.node?.env ?? {}, report.node);
  log(
    `gateway: ${report.node.built ? 'bin/fieldgate.js' : 'tsx gateway/cli/main.ts'} ${report.node.flags.join(' ')}`,
  );
  let exited = false;
  let stopping = false;
  void gw.exited(2_000_000_000).then((e) => {
    exited = true;
    if (!stopping) report.exit = e;
  });
  // The harness keeps every log line; count them by level and keep only errors, so a flood of
  // log lines (itself worth reporting) does not fill the test's own memory.
  const drain = () => {
    for (const l of gw.lines.splice(0)) {
      const lv = LEVELS[Number(l.level)] ?? 'other';
      report.logCounts[lv] = (report.logCounts[lv] ?? 0) + 1;
      if ((lv === 'error' || lv === 'fatal') && report.errorLines.length < 20) report.errorLines.push(l);
      if (Number(l.level) >= 30) {
        const key = `${lv}: ${String(l.msg)}`;
        if (!report.warnings[key] && Number(l.level) >= 40) report.examples.push(l);
        report.warnings[key] = (report.warnings[key] ?? 0) + 1;
      }
    }
    if (gw.stderr.length > 100_000) gw.stderr = gw.stderr.slice(-20_000);
  };
  const sample = () => {
    const kb = rssKb(gw.pid);
    if (kb === undefined) return;
    report.rssKb.samples++;
    report.rssKb.peak = Math.max(report.rssKb.peak, kb);
    report.hwmKb = Math.max(report.hwmKb, hwmKb(gw.pid) ?? 0);
  };
  try {
    await gw.waitForLog('fieldgate up', 30_000);
    log(`gateway pid ${gw.pid} up; MQTT-SN on 127.0.0.1:${udpPort}, broker ${broker.url}`);
    report.before = await legitRound(udpPort, sub, 'before', o.legitDevices, o.legitMessages, 15_000);
    log(`clean devices before the barrage: ${JSON.stringify(report.before)}`);
    drain();
    report.rssKb.baseline = rssKb(gw.pid) ?? 0;
    report.rssKb.peak = report.rssKb.baseline;
    log(`seed ${o.seed}: ${o.count} datagrams at ${o.rate}/s from ${o.sockets} source ports`);
    let lastLog = 0;
    const dropsBefore = udpRcvbufErrors();
    report.barrage = await barrage({
      port: udpPort,
      seed: o.seed,
      count: o.count,
      rate: o.rate,
      sockets: o.sockets,
      tame: o.tame,
      onTick: (sent) => {
        sample();
        report.rssTimeline.push([sent, rssKb(gw.pid) ?? 0]);
        drain();
        if (sent - lastLog >= 100_000) {
          lastLog = sent;
          log(`  ${sent} sent, RSS ${rssKb(gw.pid) ?? '-'} kB (peak ${report.rssKb.peak} kB)`);
        }
        return !exited;
      },
    });
    report.kernelDrops = udpRcvbufErrors() - dropsBefore;
    log(`barrage done: ${report.barrage.sent} in ${report.barrage.ms} ms, ${report.barrage.replies} replies`);
    if (!exited) {
      report.after = await legitRound(
        udpPort,
        sub,
        'after',
        o.legitDevices,
        o.legitMessages,
        o.legitDeadlineMs,
        () => {
          sample();
          drain();
        },
      );
      log(`clean devices after the barrage: ${JSON.stringify(report.after)}`);
    }
    sample();
    report.rssKb.after = rssKb(gw.pid) ?? 0;
    report.hwmKb = Math.max(report.hwmKb, hwmKb(gw.pid) ?? 0);
    try {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      report.metrics = text
        .split('\n')
        .filter((l) =>
          /^fieldgate_(mqttsn|messages_dropped|readings|outbox|upstream_(connected|published))/.test(l),
        );
    } catch (e) {
      report.metrics = [`metrics unavailable: ${String(e)}`];
    }
  } finally {
    drain();
    report.stderrTail = gw.stderr.slice(-2000);
    stopping = true;
    await gw.kill();
    try {
      report.outboxHead = peek(join(dir, 'state'), { limit: 3, from: 'outbox' }).map(
        (m) =>
          `#${m.id} qos ${m.qos} topic ${JSON.stringify(m.topic.slice(0, 80))}${m.topic.length > 80 ? ` (${m.topic.length} chars)` : ''} (hex ${Buffer.from(m.topic).toString('hex').slice(0, 120)})`,
      );
    } catch (e) {
      report.outboxHead = [`cannot read the outbox: ${String(e)}`];
    }
    await sub.close();
    await broker.stop();
    const seen = new Map<string, number>();
    for (const line of broker.output.split('\n')) {
      if (!/disconnect|error|warn|malformed|protocol/i.test(line)) continue;
      const key = line.replace(/^\d+: /, '').replace(/[0-9a-f]{8,}|\d+/g, '#');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    report.brokerLog = [...seen].map(([k, n]) => `${n} x ${k}`);
  }
  return report;
}
