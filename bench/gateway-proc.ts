/**
 * The gateway under test as its own process: the built CLI (`node <unit flags> bin/fieldgate.js run`)
 * with the node flags and Environment= of systemd/fieldgate.service, so its CPU and RSS are the
 * gateway's alone (not the bench's, nor tsx's) and the unit's V8 settings apply.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../adapters/mqttsn/codec/index.js';
import { trackChild } from '../test/harness/children.js';
import { freeUdpPort } from '../test/harness/ports.js';
import { tmpDir } from '../test/harness/tmp.js';
import { ensureBuilt, ROOT } from './dist-fresh.js';
import { procCpuS, procRssMiB } from './proc-stat.js';
import { parseUnit, type UnitSettings } from './unit-file.js';

/** BENCH_UNIT: another unit file to take the settings from (to try V8 or memory settings before shipping them). */
export const UNIT_FILE = process.env.BENCH_UNIT ?? join(ROOT, 'systemd', 'fieldgate.service');

let unit: UnitSettings | undefined;
/** The unit's settings, read once (and the build checked once) per bench run. */
export function unitSettings(): UnitSettings {
  if (!unit) {
    unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'), totalmem());
    ensureBuilt();
  }
  return unit;
}

export interface GatewayOptions {
  brokerUrl: string;
  /** upstream.inflight */
  inflight: number;
  durability: string;
  id?: string;
  /** gateway.state_dir (default: a fresh temp dir). */
  stateDir?: string;
  /** Extra keys inside the store: { } mapping, e.g. "max_rows: 10000000". */
  storeExtra?: string;
  /** Extra keys inside the mqttsn: { } mapping, e.g. "predefined_topics: { 7: a/b }". */
  mqttsnExtra?: string;
}

/**
 * Sends SEARCHGW every 10 ms until GWINFO comes back (true), the process exits or `ms` pass (false):
 * resolves within about 10 ms of the gateway's MQTT-SN socket being up (the cold-start figure).
 */
async function searchAnswered(port: number, proc: ChildProcess, ms: number): Promise<boolean> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const search = encode({ type: 'searchgw', radius: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<boolean>((res) => {
      s.on('message', (b) => {
        const r = decode(b);
        if (r.ok && r.packet.type === 'gwinfo') res(true);
      });
      const t0 = performance.now();
      const tick = () => {
        if (proc.exitCode !== null || performance.now() - t0 > ms) return res(false);
        s.send(search, port, '127.0.0.1');
        timer = setTimeout(tick, 10);
      };
      tick();
    });
  } finally {
    clearTimeout(timer);
    s.close();
  }
}

export class BenchGateway {
  /** The last lines the process wrote (pino JSON at warn and above), shown when it fails. */
  private out: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {
    const keep = (b: Buffer) => {
      this.out.push(...b.toString().split('\n').filter(Boolean));
      if (this.out.length > 200) this.out = this.out.slice(-100);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  }

  /** Starts the gateway and resolves once it answers SEARCHGW (the MQTT-SN side is up). */
  static async start(o: GatewayOptions): Promise<BenchGateway> {
    const u = unitSettings();
    const port = await freeUdpPort();
    const file = join(tmpDir('fieldgate-bench-gw-'), 'fieldgate.yaml');
    // reconnect.max 250 ms: the drain starts when the restarted broker is up, not after a backoff
    // grown while it was down (the product default grows to 60 s).
    writeFileSync(
      file,
      `gateway: { id: ${o.id ?? 'bench'}, state_dir: ${o.stateDir ?? 'state'}, log_level: warn }
upstream: { url: ${o.brokerUrl}, inflight: ${o.inflight}, reconnect: { min: 100ms, max: 250ms } }
store: { durability: ${o.durability}${o.storeExtra ? `, ${o.storeExtra}` : ''} }
mqttsn: { enabled: true, listen: 127.0.0.1:${port}${o.mqttsnExtra ? `, ${o.mqttsnExtra}` : ''} }
http: { enabled: false }
`,
    );
    // The unit's environment replaces the bench's NODE_OPTIONS (tsx's), as under systemd.
    const { NODE_OPTIONS: _, ...env } = process.env;
    const proc = trackChild(
      spawn(process.execPath, [...u.nodeFlags, join(ROOT, 'bin', 'fieldgate.js'), 'run', '-c', file], {
        cwd: ROOT,
        env: { ...env, ...u.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const gw = new BenchGateway(proc, port);
    if (!(await searchAnswered(port, proc, 30_000))) {
      proc.kill('SIGKILL');
      throw new Error(`gateway did not answer SEARCHGW within 30 s (exit ${proc.exitCode}):\n${gw.tail()}`);
    }
    return gw;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** CPU seconds (user + system, all threads) since the process started. */
  cpuS(): number {
    this.alive();
    return procCpuS(this.pid);
  }

  /** Resident MiB now, and the peak since the process started (VmHWM). */
  rss(): { rss: number; hwm: number } {
    this.alive();
    return procRssMiB(this.pid);
  }

  private alive(): void {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null)
      throw new Error(`gateway exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.tail()}`);
  }

  tail(n = 20): string {
    return this.out.slice(-n).join('\n');
  }

  /** SIGTERM and wait (the product's graceful stop); throws on a non-zero exit. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) throw new Error(`gateway had exited with ${this.proc.exitCode}`);
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    const code = await this.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`gateway exited with ${code} after SIGTERM:\n${this.tail()}`);
  }
}
