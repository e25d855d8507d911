import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackChild } from './children.js';
import { canConnect, freePort } from './ports.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface MosquittoOptions {
  /** Require these users (username -> password); anonymous is refused. */
  users?: Record<string, string>;
  /** TLS listener with these PEM files (server cert/key, and CA to verify client certs if requireCert). */
  tls?: { cert: string; key: string; ca?: string; requireCert?: boolean };
  /** Keep sessions/queued messages on disk across restart() (persistence true). */
  persistence?: boolean;
  /** An ACL file's text (mosquitto's acl_file format): who may read and write which topics. */
  acl?: string;
  /** Extra mosquitto.conf lines. */
  extra?: string[];
}

/** A real mosquitto on a free loopback port, with its own temp config. */
export class Mosquitto {
  private proc: ChildProcess | null = null;
  private log = '';
  readonly dir = tmpDir('fieldgate-mosq-');

  private constructor(
    readonly port: number,
    private readonly opts: MosquittoOptions,
  ) {}

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const m = new Mosquitto(await freePort(), opts);
    m.writeConfig();
    await m.launch();
    return m;
  }

  get url(): string {
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get output(): string {
    return this.log;
  }

  private writeConfig(): void {
    const { users, tls, persistence, acl, extra = [] } = this.opts;
    // As root, mosquitto drops to its own user, which cannot read our 0700 temp dir: stay root (ignored otherwise).
    const lines = [
      'user root',
      `listener ${this.port} 127.0.0.1`,
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
    ];
    lines.push('max_queued_messages 0', 'max_inflight_messages 0', 'set_tcp_nodelay true');
    if (persistence)
      lines.push('persistence true', `persistence_location ${this.dir}/`, 'autosave_interval 1');
    if (users) {
      const pwfile = join(this.dir, 'passwd');
      writeFileSync(pwfile, '');
      for (const [u, p] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', pwfile, u, p]);
      lines.push('allow_anonymous false', `password_file ${pwfile}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (acl !== undefined) {
      const aclFile = join(this.dir, 'acl');
      writeFileSync(aclFile, acl);
      lines.push(`acl_file ${aclFile}`);
    }
    if (tls) {
      lines.push(`certfile ${tls.cert}`, `keyfile ${tls.key}`);
      if (tls.ca) lines.push(`cafile ${tls.ca}`);
      if (tls.requireCert) lines.push('require_certificate true');
    }
    writeFileSync(join(this.dir, 'mosquitto.conf'), [...lines, ...extra, ''].join('\n'));
  }

  private async launch(): Promise<void> {
    const proc = trackChild(
      spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    this.proc = proc;
    const append = (b: Buffer) => {
      this.log += b.toString();
    };
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    await waitFor(
      async () => {
        if (exited) throw new Error(`mosquitto exited at start:\n${this.log}`);
        return canConnect(this.port);
      },
      `mosquitto on port ${this.port}`,
      10_000,
    );
  }

  /** Stop (SIGTERM, wait for exit). With persistence, state is saved for restart(). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    // Cleared once it exits: a pending 5 s timer would hold the caller's event loop (npm run bench).
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(kill);
  }

  /** Start again on the same port with the same config. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Freeze (SIGSTOP) or thaw (SIGCONT) the broker: TCP stays up, nothing answers. */
  freeze(frozen: boolean): void {
    this.proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }
}
