/** What the bus reports for metrics: every request with its round trip, every failure by reason. */
export type ModbusStat =
  | { type: 'request'; bus: string; device: string; ok: boolean; ms: number }
  | { type: 'error'; bus: string; device: string; reason: string };

/** Monotonic counters (the status page and tests read them). */
export interface ModbusCounters {
  requests: number;
  errors: Record<string, number>;
  polls: number;
  readings: number;
  writes: { delivered: number; queued: number; rejected: number; drained: number };
  link: { opens: number; lost: number; openFailures: number };
}

export function newCounters(): ModbusCounters {
  return {
    requests: 0,
    errors: {},
    polls: 0,
    readings: 0,
    writes: { delivered: 0, queued: 0, rejected: 0, drained: 0 },
    link: { opens: 0, lost: 0, openFailures: 0 },
  };
}
