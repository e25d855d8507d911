import { describe, expect, it } from 'vitest';
import type { FuzzReport } from './scenario.js';
import { verdict } from './verdict.js';

/** A run that passed every check; each test changes one figure. */
function passing(): FuzzReport {
  const clean = { devices: 4, connected: 4, acked: 100, expected: 100, delivered: 100, ms: 50, errors: [] };
  return {
    seed: 1,
    barrage: {
      sent: 1000,
      bytes: 50_000,
      sendErrors: 0,
      replies: 200,
      kinds: {} as never,
      ms: 1000,
      stoppedEarly: false,
      last: [],
    },
    exit: undefined,
    kernelDrops: 0,
    rssKb: { baseline: 80_000, peak: 120_000, after: 110_000, samples: 10 },
    hwmKb: 150_000,
    memoryMaxKb: 256 * 1024,
    node: { flags: ['--max-old-space-size=96'], built: true },
    rssTimeline: [],
    before: clean,
    after: clean,
    logCounts: {},
    warnings: {},
    examples: [],
    errorLines: [],
    stderrTail: '',
    brokerLog: [],
    outboxHead: [],
    metrics: ['fieldgate_messages_dropped_total{source="mqttsn",reason="malformed"} 900'],
  };
}

describe('fuzz verdict: the unit MemoryMax check', () => {
  it('passes a run whose peak RSS (VmHWM) stays under the MemoryMax of the unit', () => {
    expect(verdict(passing())).toEqual([]);
  });

  it('fails a run whose VmHWM went over MemoryMax, even when every sample was under it', () => {
    // VmHWM is the kernel's peak, so a spike between two 100 ms samples still counts.
    const r = { ...passing(), hwmKb: 256 * 1024 + 1 };
    expect(verdict(r)).toEqual([
      `peak RSS (VmHWM) ${256 * 1024 + 1} kB above the unit's MemoryMax= ${256 * 1024} kB`,
    ]);
  });

  it('has no MemoryMax bound when the unit sets none', () => {
    expect(verdict({ ...passing(), hwmKb: 10 ** 9, memoryMaxKb: undefined })).toEqual([]);
  });
});
