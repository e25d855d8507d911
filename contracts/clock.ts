/**
 * The waiting clock: milliseconds on a scale that never steps, for every age, deadline and timer
 * comparison (outbox max_age, MQTT 5 message expiry, command TTLs, subscription_ttl, MQTT-SN
 * session_expiry, keep-alives, "last seen").
 *
 * A Pi has no battery-backed clock: it boots with an old wall time and NTP steps it later, often by
 * days. Within a process this clock is the monotonic clock (performance.now(): CLOCK_MONOTONIC on
 * Linux, which NTP slews but never steps; it does not count a suspend, which a Pi running a gateway
 * does not do). Its zero is chosen so that it reads the wall time at the gateway's first start; the
 * store keeps it going across restarts (gateway/store/clock-state.ts), adding the downtime only
 * when the wall clock was synchronized both at the stop and at the start.
 *
 * So its values look like ms since epoch, and on a machine whose clock never stepped they are. After
 * a step they are not: show or publish a time with wallOf(), never the raw value.
 */

/** Set so that the scale reads the wall clock at load (timeOrigin alone may be a millisecond off). */
let shift = Date.now() - (performance.timeOrigin + performance.now());

function exactNow(): number {
  return performance.timeOrigin + performance.now() + shift;
}

/** Waiting-clock ms now (an integer, never decreasing). */
export function waitingNow(): number {
  return Math.floor(exactNow());
}

/** The offset last taken (see wallOffset). */
let offset = 0;

/**
 * Wall minus waiting time (ms): it moves only when the wall clock steps (or slews a little).
 * Date.now() is whole milliseconds and the monotonic clock is not, so the raw difference flickers by
 * one; a change of one millisecond is not taken, so a time shown twice reads the same.
 */
export function wallOffset(): number {
  const raw = Math.round(Date.now() - exactNow());
  if (Math.abs(raw - offset) > 1) offset = raw;
  return offset;
}

/** The wall time (ms since epoch) of waiting-clock time `w`, by today's offset between the two. */
export function wallOf(w: number): number {
  return w + wallOffset();
}

/** Continue the scale from a stored value: waitingNow() reads `w` now. Only the gateway's start calls it. */
export function continueWaitingClock(w: number): void {
  shift += w - exactNow();
  offset = Math.round(Date.now() - exactNow());
}

/** What the gateway knows about its wall clock, for marking times it cannot vouch for. */
export const clockTrust = {
  /**
   * Waiting-clock time since which the wall clock has been known right (synchronized, and not
   * broken by an unsynchronized restart); null while it is not synchronized. A time written into a
   * message for a reading taken before it may be wrong (time_quality "unsynchronized").
   */
  syncedSince: 0 as number | null,
  /**
   * Waiting-clock time since which it maps to true time by today's offset: the start of the first
   * run of an unbroken chain (each restart's downtime counted). A reading before it, from a run
   * whose downtime could not be counted, cannot be corrected.
   */
  linkedSince: 0,
};

/** Whether a wall time written (now or earlier) for a reading taken at waiting time `w` can be vouched for. */
export function timeTrusted(w: number): boolean {
  const since = clockTrust.syncedSince;
  return since !== null && w >= since;
}

/** Whether the wall time of a reading taken at waiting time `w`, written now (wallOf(w)), is right. */
export function timeCorrectable(w: number): boolean {
  return clockTrust.syncedSince !== null && w >= clockTrust.linkedSince;
}

export interface ClockStep {
  /** The wall time now, on the scale before and after the step (ms since epoch). */
  from: number;
  to: number;
  /** to - from (ms; < 0: backwards). */
  stepMs: number;
}

/** A step: wall minus monotonic time moved by more than this between two looks. */
export const STEP_THRESHOLD_MS = 1000;

/** Looks at the offset between wall and waiting time; reports each step once. */
export class StepDetector {
  private lastOffset = wallOffset();

  constructor(private readonly thresholdMs = STEP_THRESHOLD_MS) {}

  check(): ClockStep | undefined {
    const offset = wallOffset();
    const wall = Date.now();
    const stepMs = offset - this.lastOffset;
    // Slew (at most 0.5 ms/s) accumulates into the offset without ever being reported.
    if (Math.abs(stepMs) <= this.thresholdMs) {
      if (Math.abs(stepMs) > 0) this.lastOffset = offset;
      return undefined;
    }
    this.lastOffset = offset;
    return { from: wall - stepMs, to: wall, stepMs };
  }
}
