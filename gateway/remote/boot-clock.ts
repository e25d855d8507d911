/**
 * Milliseconds since the machine booted (CLOCK_MONOTONIC on Linux starts at boot and never steps).
 * A confirmation deadline is kept on this scale, not on the wall clock: a Pi has no RTC, and NTP
 * may step its wall clock by days while a change awaits confirmation.
 */
export function bootMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
