import { type ChildProcess, spawn } from 'node:child_process';
import { trackChild } from './children.js';
import { waitFor } from './wait.js';

/** Log lines are pino JSON; `msg` is what tests wait for. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

const running = new Set<GatewayProcess>();

/** SIGKILL every gateway a test started and left running (a failed assertion skips its cleanup). */
export async function killAllGateways(): Promise<void> {
  await Promise.all([...running].map((g) => g.kill()));
}

/**
 * `fieldgate <args>` as a real child process (through tsx, so no build is
 * needed), with its JSON log lines collected.
 */
export class GatewayProcess {
  readonly lines: LogLine[] = [];
  /** Everything written to stdout, as is (CLI output that is not log lines). */
  stdout = '';
  stderr = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout?.on('data', (b: Buffer) => {
      this.stdout += b.toString();
      buf += b.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
        i = buf.indexOf('\n');
      }
    });
    proc.stderr?.on('data', (b: Buffer) => {
      this.stderr += b.toString();
    });
    this.exit = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
    running.add(this);
  }

  /**
   * `node` options: V8 flags go before the script (e.g. the systemd unit's heap sizes); `built` runs
   * the compiled CLI (bin/fieldgate.js, needs `npm run build`) as the service does, without tsx's
   * loader thread in the process (it would add its own heap to every RSS figure).
   */
  static start(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    node: { flags?: string[]; built?: boolean } = {},
  ): GatewayProcess {
    const script = node.built ? ['bin/fieldgate.js'] : ['--import', 'tsx', 'gateway/cli/main.ts'];
    const proc = trackChild(
      spawn(process.execPath, [...(node.flags ?? []), ...script, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      }),
    );
    return new GatewayProcess(proc);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  async waitForLog(msg: string | RegExp, timeoutMs = 15_000): Promise<LogLine> {
    return waitFor(
      () => this.lines.find((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))),
      `log line ${msg} (stderr: ${this.stderr.slice(-500)})`,
      timeoutMs,
    );
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  /** Resolves with the exit status; kills the process if it outlives `timeoutMs`. */
  async exited(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exit;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exit;
  }
}

/** Run a one-shot CLI command (check, queue, ports...) to completion: exit code and all it printed. */
export async function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = GatewayProcess.start(args);
  const { code } = await p.exited();
  return { code, out: `${p.stdout}\n${p.stderr}` };
}
