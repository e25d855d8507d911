import { afterAll, describe, expect, it } from 'vitest';
import { killAllGateways } from '../harness/gateway-process.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { runStateFlood } from './state-flood.js';
import { unitLimits } from './unit-limits.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

const unit = unitLimits();

describe('MQTT-SN stateful flood through the real UDP socket (`npm run fuzz -- --state` is the long one)', () => {
  it('40 source addresses x 8 kept sessions x up to 1,024 registrations of 128 bytes: every state budget full, the gateway stays under MemoryMax and restarts', async () => {
    const r = await runStateFlood({
      sources: 40,
      clientsPerSource: 8,
      registersPerClient: 1024,
      topicBytes: 128,
      // The unit's V8 heap caps; through tsx (no build in `npm test`), whose loader adds to RSS.
      node: { flags: unit.nodeFlags, env: unit.env },
      log: (l) => console.log(l),
    });
    console.log(
      `state flood: ${r.flood.registered} registrations in ${r.flood.connects} sessions kept, ` +
        `${r.flood.connectRefused} sessions refused; VmHWM ${r.hwmKb} kB, after restart ${r.restartHwmKb} kB ` +
        `(MemoryMax ${unit.memoryMaxKb} kB)`,
    );
    // The total budget (16 MiB by default) is what stopped it: within ~5 % of it, never above.
    const kept = r.flood.registered * (128 + 160) + r.flood.connects * 1024;
    expect(kept).toBeLessThanOrEqual(16 * 2 ** 20);
    expect(kept).toBeGreaterThan(0.95 * 16 * 2 ** 20);
    expect(r.flood.connectRefused).toBeGreaterThan(0);
    expect(r.exit).toEqual({ code: 0, signal: null });
    expect(r.hwmKb).toBeLessThan(unit.memoryMaxKb!);
    // Every kept session comes back (one whose CONNACK was lost on the way may be among them).
    expect(r.restoredAfterRestart).toBeGreaterThanOrEqual(r.flood.connects);
    expect(r.restoredAfterRestart).toBeLessThanOrEqual(r.flood.connects + r.flood.connectUnanswered);
    expect(r.restartHwmKb).toBeLessThan(unit.memoryMaxKb!);
    expect(r.restartExit).toEqual({ code: 0, signal: null });
  }, 120_000);
});
