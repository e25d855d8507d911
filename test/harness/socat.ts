import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { trackChild } from './children.js';
import { tmpDir } from './tmp.js';
import { sleep, waitFor } from './wait.js';

/**
 * A real pseudo-terminal pair made by socat: `device` is what fieldgate opens
 * (as it would a USB adapter), `sensor` is the other end the test writes/reads.
 * Closing the pair is "unplugging"; open() again at the same paths is "replugging".
 */
export class PtyPair {
  private proc: ChildProcess | null = null;

  private constructor(
    readonly device: string,
    readonly sensor: string,
  ) {}

  static async open(dir = tmpDir('fieldgate-pty-')): Promise<PtyPair> {
    const pair = new PtyPair(join(dir, 'ttyDEVICE'), join(dir, 'ttySENSOR'));
    await pair.plug();
    return pair;
  }

  async plug(): Promise<void> {
    if (this.proc) return;
    const proc = trackChild(
      spawn(
        'socat',
        ['-d', '-d', `pty,raw,echo=0,link=${this.device}`, `pty,raw,echo=0,link=${this.sensor}`],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      ),
    );
    this.proc = proc;
    let err = '';
    proc.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`socat exited: ${err}`);
        return (
          existsSync(this.device) && existsSync(this.sensor) && err.includes('starting data transfer loop')
        );
      },
      'socat pty pair',
      5000,
    );
  }

  /** Kill socat: both ends vanish, as when a USB adapter is pulled. */
  async unplug(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    await Promise.race([gone, sleep(3000).then(() => proc.kill('SIGKILL'))]);
    await gone;
    await waitFor(() => !existsSync(this.device), 'pty links removed', 3000);
  }

  close(): Promise<void> {
    return this.unplug();
  }
}
