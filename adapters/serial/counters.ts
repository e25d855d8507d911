import { DROP_REASONS, type DropReason } from './framing/types.js';

/** Monotonic counters for metrics (the gateway reads them; nothing here resets). */
export interface SerialCounters {
  port: { opens: number; disconnects: number; openFailures: number; bytesIn: number; bytesOut: number };
  frames: number;
  readings: number;
  dropped: Record<DropReason, number>;
  /** Undecodable bytes (dropped as too_long, crc, framing, stale_partial, unparsable) and bursts of them. */
  noise: { bytes: number; bursts: number };
  acks: { written: number; withheld: number; failed: number };
  commands: {
    delivered: number;
    queued: number;
    drained: number;
    expired: number;
    replies: number;
    replyTimeouts: number;
  };
}

export function newCounters(): SerialCounters {
  return {
    port: { opens: 0, disconnects: 0, openFailures: 0, bytesIn: 0, bytesOut: 0 },
    frames: 0,
    readings: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    noise: { bytes: 0, bursts: 0 },
    acks: { written: 0, withheld: 0, failed: 0 },
    commands: { delivered: 0, queued: 0, drained: 0, expired: 0, replies: 0, replyTimeouts: 0 },
  };
}
