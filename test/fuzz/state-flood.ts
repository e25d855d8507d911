import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReturnCode } from '../../adapters/mqttsn/codec/index.js';
import { GatewayProcess } from '../harness/gateway-process.js';
import { freeUdpPort } from '../harness/ports.js';
import { tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { hwmKb } from './proc.js';

/**
 * The stateful attack: many source addresses (127.0.0.x: loopback answers the whole /8, so each is
 * another host to the gateway), each opening clean-session=false sessions that REGISTER as many long
 * topics as they are let, under the recommended ACL of docs/security.md. What the gateway keeps is bounded by
 * its state budgets; the process must stay under the unit's MemoryMax= and come up again on restart.
 */

export interface FloodCounts {
  connects: number;
  connectRefused: number;
  /** CONNECTs that got no CONNACK in time (the gateway may still have made the session). */
  connectUnanswered: number;
  registered: number;
  /** REGACK "congestion": a state budget (or the registry) is full. */
  congestion: number;
  /** REGACK "not supported": longer than max_topic_length (or refused otherwise for good). */
  notSupported: number;
  /** REGISTERs that got no REGACK in time. */
  unanswered: number;
}

export interface FloodPlan {
  port: number;
  /** Source addresses, e.g. 127.0.0.2 … */
  sources: string[];
  clientsPerSource: number;
  registersPerClient: number;
  /** Bytes of each topic name (`sensors/<client>/` plus padding). */
  topicBytes: number;
  /** REGISTERs in flight per client. */
  window?: number;
  /** Client id prefix (a second flood must not reuse the first one's ids). */
  prefix?: string;
}

const topicOf = (client: string, i: number, bytes: number) => {
  const head = `sensors/${client}/${i}/`;
  return head + 'x'.repeat(Math.max(1, bytes - head.length));
};

/**
 * One client: CONNECT (kept session), then REGISTERs in windows until every one is answered. Its
 * socket stays open until the whole flood ends: a later client on the same port would otherwise end
 * this session (a new id on an address means the old device is gone) and let it be evicted.
 */
async function floodClient(
  plan: FloodPlan,
  source: string,
  client: string,
  n: FloodCounts,
  open: SnClient[],
): Promise<void> {
  const c = await SnClient.open(plan.port, undefined, source);
  open.push(c);
  {
    const ack = await c.connect(client, { cleanSession: false, duration: 600 }).catch(() => undefined);
    if (!ack) n.connectUnanswered++;
    if (ack?.returnCode !== ReturnCode.ACCEPTED) {
      if (ack) n.connectRefused++;
      return;
    }
    n.connects++;
    const window = plan.window ?? 8;
    for (let first = 0; first < plan.registersPerClient; first += window) {
      const ids: number[] = [];
      for (let i = first; i < Math.min(first + window, plan.registersPerClient); i++) {
        const msgId = i + 1;
        ids.push(msgId);
        await c.send({ type: 'register', topicId: 0, msgId, topicName: topicOf(client, i, plan.topicBytes) });
      }
      let full = false;
      const deadline = Date.now() + 3000; // per window: a lost datagram costs one wait, not one each
      for (const msgId of ids) {
        const left = Math.max(1, deadline - Date.now());
        const r = await c.expect('regack', left, (a) => a.msgId === msgId).catch(() => undefined);
        if (!r) n.unanswered++;
        else if (r.returnCode === ReturnCode.ACCEPTED) n.registered++;
        else if (r.returnCode === ReturnCode.CONGESTION) {
          n.congestion++;
          full = true;
        } else n.notSupported++;
      }
      if (full) return; // as a device would: stop at "congestion" (the attacker moves to the next id)
      c.inbox.length = 0;
    }
  }
}

/** Every source at once, its clients one after another (an attacker inventing ids). */
export async function stateFlood(plan: FloodPlan): Promise<FloodCounts> {
  const n: FloodCounts = {
    connects: 0,
    connectRefused: 0,
    connectUnanswered: 0,
    registered: 0,
    congestion: 0,
    notSupported: 0,
    unanswered: 0,
  };
  const prefix = plan.prefix ?? 'flood';
  const open: SnClient[] = [];
  try {
    await Promise.all(
      plan.sources.map(async (source, si) => {
        for (let k = 0; k < plan.clientsPerSource; k++)
          await floodClient(plan, source, `${prefix}${si}-${k}`, n, open);
      }),
    );
  } finally {
    await Promise.all(open.map((c) => c.close()));
  }
  return n;
}

/** The recommended ACL of docs/security.md, and room for the flood. */
export function floodGatewayConfig(o: { udpPort: number; stateDir: string; mqttsn?: string }): string {
  return `gateway: { id: gw1, state_dir: ${o.stateDir}, stop_grace: 5s }
upstream: { url: "mqtt://127.0.0.1:1", reconnect: { min: 1s, max: 5s } }
store: { durability: process-crash }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${o.udpPort}"
  acl:
    rules:
      - { clients: ["*"], publish: ["sensors/{client}/#"], subscribe: ["cmd/{client}/#"] }
${o.mqttsn ?? ''}http: { enabled: false }
`;
}

export interface StateFloodReport {
  flood: FloodCounts;
  /** Peak RSS of the gateway during the flood, kB. */
  hwmKb: number;
  /** The drops the gateway logged (warn lines by reason), for the record. */
  restoredAfterRestart: number | undefined;
  /** Peak RSS of the restarted gateway once it has loaded the sessions, kB. */
  restartHwmKb: number;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  restartExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Floods a gateway process, stops it (SIGTERM), starts it again on the same store, reports. */
export async function runStateFlood(o: {
  sources: number;
  clientsPerSource: number;
  registersPerClient: number;
  topicBytes: number;
  node: { flags?: string[]; built?: boolean; env?: Record<string, string> };
  log?: (line: string) => void;
}): Promise<StateFloodReport> {
  const log = o.log ?? (() => undefined);
  const dir = tmpDir('fieldgate-stateflood-');
  const udpPort = await freeUdpPort();
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(file, floodGatewayConfig({ udpPort, stateDir: join(dir, 'state') }));
  const start = () => GatewayProcess.start(['run', '-c', file, '-l', 'info'], o.node.env ?? {}, o.node);
  const report: StateFloodReport = {
    flood: undefined as unknown as FloodCounts,
    hwmKb: 0,
    restoredAfterRestart: undefined,
    restartHwmKb: 0,
    exit: undefined,
    restartExit: undefined,
  };
  const gw = start();
  try {
    await gw.waitForLog('mqttsn listening', 30_000);
    const sources = Array.from({ length: o.sources }, (_, i) => `127.0.0.${i + 2}`);
    const t0 = Date.now();
    report.flood = await stateFlood({
      port: udpPort,
      sources,
      clientsPerSource: o.clientsPerSource,
      registersPerClient: o.registersPerClient,
      topicBytes: o.topicBytes,
    });
    log(`flood: ${JSON.stringify(report.flood)} in ${Date.now() - t0} ms`);
    report.hwmKb = hwmKb(gw.pid) ?? 0;
    gw.signal('SIGTERM');
    report.exit = await gw.exited(30_000);
  } finally {
    await gw.kill();
  }
  const again = start();
  try {
    const line = await again.waitForLog('mqttsn listening', 60_000);
    report.restoredAfterRestart = Number(line.restored);
    // Alive a moment later (a restore that blows the heap aborts while or right after loading).
    await new Promise((r) => setTimeout(r, 1000));
    await waitFor(() => hwmKb(again.pid), 'restarted gateway alive', 2000);
    report.restartHwmKb = hwmKb(again.pid) ?? 0;
    again.signal('SIGTERM');
    report.restartExit = await again.exited(30_000);
  } finally {
    await again.kill();
  }
  return report;
}
