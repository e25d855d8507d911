import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { clockTrust, continueWaitingClock, waitingNow } from '../../contracts/clock.js';
import type { KvState } from '../../contracts/store.js';

const NAMESPACE = 'clock';
const KEY = 'waiting';

/** The waiting clock as last saved: where it stood, at what wall time, and whether that was synchronized. */
export interface SavedClock {
  /** Waiting-clock ms. */
  w: number;
  /** Wall ms since epoch at the same moment. */
  wall: number;
  synced: boolean;
  /** clockTrust.syncedSince and linkedSince at that moment. */
  syncedSince: number | null;
  linkedSince?: number;
}

export interface ClockResume {
  /** Downtime counted into the waiting clock (ms); 0 when it could not be trusted. */
  countedMs: number;
  /** Why the downtime was not counted, when it was not. */
  notCounted?: string;
  saved?: SavedClock;
}

/**
 * Continues the waiting clock from what the last run saved, before anything reads an age. The time
 * the gateway was down is measured with the wall clock, so it is counted only when that clock was
 * synchronized both when the last run saved and now; else it counts as zero (rows and commands wait
 * a little longer than their limits rather than being dropped by a clock that was wrong).
 * Up to one save period of the last run is lost that way after a crash.
 */
export function resumeWaitingClock(kv: KvState, syncedNow: boolean, logger: Logger): ClockResume {
  const saved = kv.get<SavedClock>(NAMESPACE, KEY);
  if (!saved || typeof saved.w !== 'number' || typeof saved.wall !== 'number') {
    // First start: the scale starts at today's wall time, so rows of older versions (wall times) fit it.
    clockTrust.syncedSince = syncedNow ? 0 : null;
    clockTrust.linkedSince = 0;
    return { countedMs: 0 };
  }
  const down = Date.now() - saved.wall;
  let notCounted: string | undefined;
  if (!saved.synced) notCounted = 'the wall clock was not synchronized when the gateway last ran';
  else if (!syncedNow) notCounted = 'the wall clock is not synchronized now';
  else if (down < 0) notCounted = 'the wall clock is behind the time the gateway last ran';
  const countedMs = notCounted === undefined ? down : 0;
  continueWaitingClock(saved.w + countedMs);
  if (notCounted === undefined) {
    clockTrust.syncedSince = saved.syncedSince ?? waitingNow();
    clockTrust.linkedSince = saved.linkedSince ?? 0;
  } else {
    clockTrust.syncedSince = syncedNow ? waitingNow() : null;
    clockTrust.linkedSince = waitingNow();
  }
  if (notCounted !== undefined)
    logger.warn(
      { lastRunWall: new Date(saved.wall).toISOString(), wallNow: new Date().toISOString(), wallGapMs: down },
      `downtime not counted in ages and deadlines: ${notCounted}`,
    );
  return { countedMs, saved, ...(notCounted !== undefined && { notCounted }) };
}

/** Saves where the waiting clock stands (periodically, after a step, and at stop). */
export function saveWaitingClock(kv: KvState, synced: boolean): Promise<void> {
  const value: SavedClock = {
    w: waitingNow(),
    wall: Date.now(),
    synced,
    syncedSince: clockTrust.syncedSince,
    linkedSince: clockTrust.linkedSince,
  };
  return kv.put(NAMESPACE, KEY, value);
}

/**
 * The running gateway's waiting time as another process (the CLI) can best tell it: the last save
 * plus the wall time since, when the wall clock moved forward; else the last save itself.
 */
export function estimateWaitingNow(db: Database): number {
  const row = db.prepare('SELECT value FROM kv WHERE namespace = ? AND key = ?').get(NAMESPACE, KEY) as
    | { value: string }
    | undefined;
  if (!row) return Date.now();
  try {
    const saved = JSON.parse(row.value) as SavedClock;
    return saved.w + Math.max(0, Date.now() - saved.wall);
  } catch {
    return Date.now();
  }
}
