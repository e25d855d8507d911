import { waitingNow } from '../../contracts/clock.js';
import type { DropReason } from './framing/types.js';

/** Drops that mean bytes arrived that make no frame: line noise, or a baud rate the device does not use. */
const NOISE_REASONS: ReadonlySet<DropReason> = new Set([
  'too_long',
  'crc',
  'framing',
  'stale_partial',
  'unparsable',
]);

/** A burst: at least this many such drops and bytes within one window. */
export const NOISE_WINDOW_MS = 10_000;
export const NOISE_MIN_DROPS = 3;
export const NOISE_MIN_BYTES = 256;

export interface NoiseBurst {
  drops: number;
  bytes: number;
  windowMs: number;
}

/**
 * Counts undecodable bytes and reports a burst once per window in which they pass the threshold.
 * Several drops are needed, so one over-long line (a boot banner) is not called noise.
 */
export function createNoiseMeter(
  onBytes: (n: number) => void,
  onBurst: (burst: NoiseBurst) => void,
  now: () => number = waitingNow,
) {
  let windowStart = Number.NEGATIVE_INFINITY;
  let drops = 0;
  let bytes = 0;
  let reported = false;
  return (reason: DropReason, consumed: number): void => {
    if (!NOISE_REASONS.has(reason)) return;
    onBytes(consumed);
    const t = now();
    if (t - windowStart >= NOISE_WINDOW_MS) {
      windowStart = t;
      drops = 0;
      bytes = 0;
      reported = false;
    }
    drops++;
    bytes += consumed;
    if (reported || drops < NOISE_MIN_DROPS || bytes < NOISE_MIN_BYTES) return;
    reported = true;
    onBurst({ drops, bytes, windowMs: NOISE_WINDOW_MS });
  };
}
