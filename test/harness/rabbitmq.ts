import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackChild } from './children.js';
import { canConnect, freePort } from './ports.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

/** Debian's rabbitmq-server keeps its real start script here (the one in sbin switches user). */
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** Whether Debian's rabbitmq-server (with its rabbitmq_mqtt plugin) is installed. */
export function rabbitmqInstalled(): boolean {
  return existsSync(SERVER);
}

/**
 * A real RabbitMQ with the rabbitmq_mqtt plugin (MQTT 3.1.1 only in 3.x), started on free
 * loopback ports with its own node name, its own epmd, and every directory in a temp dir, so it
 * meets neither the system's RabbitMQ nor another test's. Killed (its whole process group) after.
 */
export class RabbitMq {
  private server: ChildProcess | null = null;
  private epmd: ChildProcess | null = null;
  private out = '';
  readonly dir = tmpDir('fieldgate-rabbit-');
  /** How long the last start took until the MQTT listener accepted connections (ms). */
  startMs = 0;

  private constructor(
    readonly mqttPort: number,
    private readonly ports: { amqp: number; dist: number; epmd: number },
  ) {}

  /** `mqttPort`: the MQTT listener's port (a free one by default). */
  static async start(mqttPort?: number): Promise<RabbitMq> {
    const r = new RabbitMq(mqttPort ?? (await freePort()), {
      amqp: await freePort(),
      dist: await freePort(),
      epmd: await freePort(),
    });
    await r.launch();
    return r;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  /** The broker's console output and its log file, for a failure message. */
  get output(): string {
    const log = join(this.dir, 'log', `${this.nodeName}.log`);
    return `${this.out}\n${existsSync(log) ? readFileSync(log, 'utf8') : ''}`;
  }

  private get nodeName(): string {
    return `fg-test-${this.mqttPort}@localhost`;
  }

  private async launch(): Promise<void> {
    const d = this.dir;
    for (const sub of ['home', 'mnesia', 'log', 'plugins']) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
    writeFileSync(
      join(d, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${this.ports.amqp}`,
        `mqtt.listeners.tcp.default = 127.0.0.1:${this.mqttPort}`,
        'mqtt.allow_anonymous = true',
        // A nearly full test disk must not block publishers (RabbitMQ's default alarm is at 50 MB).
        'disk_free_limit.absolute = 1MB',
        'log.console = true',
        'log.console.level = warning',
        'log.file.level = info',
        '',
      ].join('\n'),
    );
    const env = {
      ...process.env,
      HOME: join(d, 'home'), // the Erlang cookie goes here
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.ports.amqp),
      RABBITMQ_DIST_PORT: String(this.ports.dist),
      ERL_EPMD_PORT: String(this.ports.epmd),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(d, 'plugins'),
      RABBITMQ_PID_FILE: join(d, 'rabbitmq.pid'),
    };
    const t0 = Date.now();
    // Our own epmd on its own port, in the foreground so it is ours to stop.
    this.epmd = this.spawnGroup('epmd', ['-port', String(this.ports.epmd), '-address', '127.0.0.1'], env);
    await waitFor(() => canConnect(this.ports.epmd), `epmd on port ${this.ports.epmd}`, 10_000);
    const server = this.spawnGroup(SERVER, [], env);
    this.server = server;
    let exited = false;
    server.once('exit', () => {
      exited = true;
    });
    await waitFor(
      async () => {
        if (exited) throw new Error(`rabbitmq-server exited at start:\n${this.output}`);
        return canConnect(this.mqttPort);
      },
      `RabbitMQ MQTT listener on port ${this.mqttPort}`,
      90_000,
    );
    this.startMs = Date.now() - t0;
  }

  /** Detached: its own process group, so stop() ends the server script, beam.smp and its helpers. */
  private spawnGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const p = trackChild(spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
    const append = (b: Buffer) => {
      if (this.out.length < 200_000) this.out += b.toString();
    };
    p.stdout?.on('data', append);
    p.stderr?.on('data', append);
    groups.add(p);
    p.once('exit', () => groups.delete(p));
    return p;
  }

  /** Kill the broker and its epmd (SIGKILL to each process group: nothing here is worth keeping). */
  async stop(): Promise<void> {
    for (const p of [this.server, this.epmd]) if (p) await killGroup(p);
    this.server = null;
    this.epmd = null;
  }
}

/** Process groups started here and not yet gone: killed when the test process exits. */
const groups = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of groups) signalGroup(p, 'SIGKILL');
});

function signalGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    // already gone
  }
}

async function killGroup(p: ChildProcess): Promise<void> {
  const gone =
    p.exitCode !== null || p.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => p.once('exit', () => r()));
  // The leader may have exited while beam.smp (same group) still runs: signal the group anyway.
  signalGroup(p, 'SIGKILL');
  await gone;
}
