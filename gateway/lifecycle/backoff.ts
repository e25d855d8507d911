/** Exponential backoff with full jitter, capped: the delay before attempt n (0-based). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs, Math.round(random() * ceiling));
}
