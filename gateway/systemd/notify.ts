import { type ExecFileException, execFile } from 'node:child_process';

/** The part of a pino logger the notifier uses. */
export interface NotifyLogger {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SystemdNotifierOptions {
  /** Defaults to process.env: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and PATH are read from it. */
  env?: NodeJS.ProcessEnv;
  logger?: NotifyLogger;
  /** The helper binary; found on env.PATH. */
  command?: string;
  /** Our pid, compared with WATCHDOG_PID (tests pass another). */
  pid?: number;
}

/** What the watchdog asks each beat: feed it or not, and (optionally) the text for `systemctl status`. */
export type WatchdogVerdict = boolean | { healthy: boolean; status?: string };

/** A systemd-notify call that has not answered by then is abandoned (and killed). */
const CALL_TIMEOUT_MS = 5000;

/**
 * sd_notify(3) without a native addon. Node cannot open AF_UNIX datagram
 * sockets, so each message is a `systemd-notify` child process; the unit
 * needs NotifyAccess=all for systemd to accept it. Every method is a no-op
 * when NOTIFY_SOCKET is unset (not under systemd, or Type=simple), and none
 * of them throws or rejects: a missing helper is logged once at warn.
 */
export class SystemdNotifier {
  readonly enabled: boolean;
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: string;
  private readonly logger: NotifyLogger | undefined;
  private readonly pid: number;
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private warned = false;
  private lastStatus: string | undefined;

  constructor(opts: SystemdNotifierOptions = {}) {
    this.env = opts.env ?? process.env;
    this.command = opts.command ?? 'systemd-notify';
    this.logger = opts.logger;
    this.pid = opts.pid ?? process.pid;
    this.enabled = Boolean(this.env.NOTIFY_SOCKET);
  }

  /** Startup finished: listeners bound, store open. */
  ready(status?: string): Promise<void> {
    return this.send(status === undefined ? ['--ready'] : ['--ready', `--status=${status}`]);
  }

  /** Shutdown began: systemd stops counting watchdog timeouts and shows "deactivating". */
  stopping(): Promise<void> {
    this.stopWatchdog();
    return this.send(['STOPPING=1']);
  }

  /** Free text shown by `systemctl status fieldgate`. */
  status(text: string): Promise<void> {
    return this.send([`--status=${text}`]);
  }

  /**
   * Watchdog interval from WATCHDOG_USEC (WatchdogSec=), or null when systemd
   * expects no pings from this process.
   */
  watchdogIntervalMs(): number | null {
    if (!this.enabled) return null;
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    const wpid = this.env.WATCHDOG_PID;
    if (wpid !== undefined && wpid !== '' && Number(wpid) !== this.pid) return null;
    return Math.max(1, Math.floor(usec / 1000 / 2));
  }

  /**
   * Ping WATCHDOG=1 every WATCHDOG_USEC/2 from a timer on the event loop,
   * only while isHealthy() is true. A blocked event loop or an unhealthy
   * gateway stops the pings and systemd restarts the service. A verdict with
   * a `status` also updates STATUS= whenever that text changes (so `systemctl
   * status` says why pings stopped). Returns whether pinging started.
   */
  startWatchdog(isHealthy: () => WatchdogVerdict): boolean {
    const every = this.watchdogIntervalMs();
    if (every === null || this.timer) return false;
    this.timer = setInterval(() => this.tick(isHealthy), every);
    // The watchdog alone must not keep the process alive during shutdown.
    this.timer.unref();
    return true;
  }

  /** Stop pinging (idempotent). Call on shutdown; stopping() does it too. */
  stop(): void {
    this.stopWatchdog();
  }

  private stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(isHealthy: () => WatchdogVerdict): void {
    let healthy = false;
    try {
      const v = isHealthy();
      healthy = typeof v === 'boolean' ? v : v.healthy;
      const status = typeof v === 'boolean' ? undefined : v.status;
      if (status !== undefined && status !== this.lastStatus) {
        this.lastStatus = status;
        void this.status(status);
      }
    } catch (err) {
      this.logger?.warn({ err }, 'watchdog health check threw; not pinging');
    }
    // Skip a beat rather than pile up children if systemd-notify is slow.
    if (!healthy || this.pinging) return;
    this.pinging = true;
    void this.send(['WATCHDOG=1']).finally(() => {
      this.pinging = false;
    });
  }

  private send(args: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      execFile(this.command, args, { env: this.env, timeout: CALL_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err) this.failed(args, err, stderr);
        resolve();
      });
    });
  }

  /** The first failure is logged at warn (an operator must see it), later ones at debug. */
  private failed(args: string[], err: ExecFileException, stderr: string): void {
    const detail = { command: this.command, args, err: err.message, stderr: stderr.trim() || undefined };
    if (this.warned) {
      this.logger?.debug(detail, 'systemd-notify failed');
      return;
    }
    this.warned = true;
    const msg =
      err.code === 'ENOENT'
        ? 'systemd-notify not found: readiness and watchdog pings are not sent (install systemd, or use Type=simple without WatchdogSec)'
        : 'systemd-notify failed: systemd may not see readiness or watchdog pings';
    this.logger?.warn(detail, msg);
  }
}
