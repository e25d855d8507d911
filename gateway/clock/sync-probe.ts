import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Whether the kernel's wall clock is synchronized (NTP), as cheaply as Node can tell: it has no
 * adjtimex(2). Modes (gateway.clock_sync):
 * - auto: systemd-timesyncd's flag file (gateway.clock_sync_file) exists -> yes; else
 *   `timedatectl show -p NTPSynchronized --value` (the kernel's STA_UNSYNC flag through timedated,
 *   so it also covers chrony and ntpd); when neither can tell (no systemd), `unknown`.
 * - file: the flag file alone decides (its existence means synchronized).
 * - always / never: an RTC that is trusted, or a clock that never is.
 */
export type ClockSyncMode = 'auto' | 'file' | 'always' | 'never';
export type SyncState = 'synchronized' | 'unsynchronized' | 'unknown';

const TIMEDATECTL_TIMEOUT_MS = 3000;

export class SyncProbe {
  private last: SyncState = 'unknown';

  constructor(
    private readonly mode: ClockSyncMode,
    private readonly flagFile: string,
    private readonly timedatectl = 'timedatectl',
  ) {}

  /** The state found by the last probe(). */
  get state(): SyncState {
    return this.last;
  }

  /**
   * Trusted for counting downtime: synchronized, or `unknown` (a machine without systemd gives no
   * answer; the wall clock is then taken as it is, which is what fieldgate did before it could tell).
   */
  get trusted(): boolean {
    return this.last !== 'unsynchronized';
  }

  async probe(): Promise<SyncState> {
    this.last = await this.find();
    return this.last;
  }

  private async find(): Promise<SyncState> {
    if (this.mode === 'always') return 'synchronized';
    if (this.mode === 'never') return 'unsynchronized';
    if (existsSync(this.flagFile)) return 'synchronized';
    if (this.mode === 'file') return 'unsynchronized';
    return askTimedatectl(this.timedatectl);
  }
}

function askTimedatectl(command: string): Promise<SyncState> {
  return new Promise((resolve) => {
    execFile(
      command,
      ['show', '-p', 'NTPSynchronized', '--value'],
      { timeout: TIMEDATECTL_TIMEOUT_MS },
      (err, stdout) => {
        const v = String(stdout).trim();
        if (err || (v !== 'yes' && v !== 'no')) resolve('unknown');
        else resolve(v === 'yes' ? 'synchronized' : 'unsynchronized');
      },
    );
  });
}
