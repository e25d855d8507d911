import type { Logger } from 'pino';
import { type ClockStep, clockTrust, StepDetector, waitingNow, wallOf } from '../../contracts/clock.js';
import type { KvState } from '../../contracts/store.js';
import { saveWaitingClock } from '../store/clock-state.js';
import type { SyncProbe, SyncState } from './sync-probe.js';

/** The clock as /api/status and the status page show it. */
export interface ClockStatus {
  synchronized: SyncState;
  /** Steps seen since start. */
  steps: number;
  last_step: { from: string; to: string; step_s: number; at: number } | null;
}

/** How often the step check runs (a step is seen within this). */
const CHECK_MS = 1000;
/**
 * How often the waiting clock is saved and the sync state probed. After a crash with an
 * unsynchronized clock, up to this much of the last run is not counted (rows wait that much longer).
 */
export const SAVE_MS = 60_000;
/**
 * While synchronized, a save only keeps the stored wall/waiting pair from drifting (NTP slews the
 * wall clock, at most 0.5 ms/s): the downtime is measured from that pair, so an older one is as good.
 * Steps and sync changes are saved at once anyway. Fewer commits: the SD card is written less.
 */
const SYNCED_SAVE_MS = 10 * 60_000;

export interface ClockWatchDeps {
  probe: SyncProbe;
  kv: KvState;
  logger: Logger;
  onStep: (direction: 'forward' | 'backward') => void;
}

/**
 * Sees wall-clock steps (logs each once, counts it, saves the waiting clock at once), follows the
 * sync state, and saves the waiting clock periodically and at stop.
 */
export class ClockWatch {
  private readonly detector = new StepDetector();
  private timers: NodeJS.Timeout[] = [];
  private steps = 0;
  private lastStep: (ClockStep & { at: number }) | null = null;
  private probing: Promise<void> | undefined;
  private saved: { at: number; trusted: boolean } | undefined;

  constructor(private readonly deps: ClockWatchDeps) {}

  start(): void {
    if (!this.deps.probe.trusted)
      this.deps.logger.warn(
        {},
        'wall clock not synchronized (NTP): times in messages may be wrong until it is; ages and deadlines are not affected',
      );
    this.follow(this.deps.probe.state);
    const check = setInterval(() => this.check(), CHECK_MS);
    const save = setInterval(() => void this.refresh(), SAVE_MS);
    check.unref();
    save.unref();
    this.timers.push(check, save);
    void this.save();
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.probing;
    await this.save();
  }

  status(): ClockStatus {
    const s = this.lastStep;
    return {
      synchronized: this.deps.probe.state,
      steps: this.steps,
      last_step: s && {
        from: new Date(s.from).toISOString(),
        to: new Date(s.to).toISOString(),
        step_s: Math.round(s.stepMs / 100) / 10,
        at: wallOf(s.at),
      },
    };
  }

  /** Runs the step check now (tests; the timer does it every second). */
  check(): void {
    const step = this.detector.check();
    if (!step) return;
    this.steps++;
    this.lastStep = { ...step, at: waitingNow() };
    const direction = step.stepMs > 0 ? 'forward' : 'backward';
    this.deps.onStep(direction);
    this.deps.logger.warn(
      {
        from: new Date(step.from).toISOString(),
        to: new Date(step.to).toISOString(),
        stepS: Math.round(step.stepMs / 100) / 10,
        direction,
      },
      'wall clock stepped: ages, deadlines and timers are not affected; times shown from now on use the new clock',
    );
    // A step is how NTP's first synchronization looks: learn the new state and save it at once.
    this.saved = undefined;
    void this.refresh();
  }

  private refresh(): Promise<void> {
    this.probing ??= this.deps.probe
      .probe()
      .then((state) => {
        this.follow(state);
        const last = this.saved;
        const trusted = this.deps.probe.trusted;
        if (last && trusted && last.trusted && waitingNow() - last.at < SYNCED_SAVE_MS) return;
        return this.save();
      })
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'clock state not saved'))
      .finally(() => {
        this.probing = undefined;
      });
    return this.probing;
  }

  /** Times written for readings before a synchronization cannot be vouched for; from it on they can. */
  private follow(state: SyncState): void {
    const trusted = state !== 'unsynchronized';
    if (trusted && clockTrust.syncedSince === null) {
      clockTrust.syncedSince = waitingNow();
      this.deps.logger.info({ state }, 'wall clock synchronized');
    } else if (!trusted && clockTrust.syncedSince !== null) {
      clockTrust.syncedSince = null;
      this.deps.logger.warn(
        {},
        'wall clock not synchronized (NTP): times in messages may be wrong until it is; ages and deadlines are not affected',
      );
    }
  }

  private save(): Promise<void> {
    const trusted = this.deps.probe.trusted;
    return saveWaitingClock(this.deps.kv, trusted).then(
      () => {
        this.saved = { at: waitingNow(), trusted };
      },
      (err: unknown) => this.deps.logger.warn({ err }, 'clock state not saved'),
    );
  }
}
