/** Default gap after which a partial frame is stale, at common baud rates. */
export const DEFAULT_FRAME_TIMEOUT_MS = 300;
/** At slow baud rates the default is stretched to this many character times. */
export const FRAME_TIMEOUT_CHARS = 32;
/** An explicit frame_timeout must leave room for this many character times (else frames are cut). */
export const MIN_FRAME_TIMEOUT_CHARS = 3;
export const MIN_FRAME_TIMEOUT_MS = 10;

/** The port's line settings (as in its config; structural, so config.ts can use this file). */
interface LineSettings {
  baud: number;
  data_bits: number;
  parity: string;
  stop_bits: number;
}

/** Time on the wire for one character: start bit, data bits, parity bit if any, stop bits. */
export function characterTimeMs(c: LineSettings): number {
  const bits = 1 + c.data_bits + (c.parity === 'none' ? 0 : 1) + c.stop_bits;
  return (bits * 1000) / c.baud;
}

/** frame_timeout as configured, else 300 ms or 32 character times, whichever is longer. */
export function frameTimeoutMs(c: LineSettings & { frame_timeout?: number | undefined }): number {
  return (
    c.frame_timeout ?? Math.max(DEFAULT_FRAME_TIMEOUT_MS, Math.ceil(FRAME_TIMEOUT_CHARS * characterTimeMs(c)))
  );
}
