import { afterAll, describe, expect, it } from 'vitest';
import { killAllGateways } from '../harness/gateway-process.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { randomSeed } from './prng.js';
import { runFuzz } from './scenario.js';
import { unitLimits } from './unit-limits.js';
import { summary, verdict } from './verdict.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

/** FUZZ_SEED=<n> reruns a failed seed; otherwise a fresh one each run (printed). */
const unit = unitLimits();
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomSeed();

describe('MQTT-SN fuzz through the real UDP socket (short run; `npm run fuzz` is the long one)', () => {
  it(`20,000 random and mutated datagrams from 64 source ports: the gateway lives, its RSS stays bounded, clean devices still deliver everything (seed ${seed})`, async () => {
    console.log(`MQTT-SN fuzz seed ${seed} (rerun: FUZZ_SEED=${seed} npx vitest run test/fuzz)`);
    const report = await runFuzz({
      seed,
      count: 20_000,
      rate: 5000,
      sockets: 64,
      legitDevices: 3,
      legitMessages: 10,
      legitDeadlineMs: 10_000,
      // The unit's V8 heap caps, so a cap the flood outgrows fails here, not in the field.
      // Through tsx (no build in `npm test`): its loader thread adds to RSS, a stricter check.
      node: { flags: unit.nodeFlags, env: unit.env },
      memoryMaxKb: unit.memoryMaxKb,
    });
    const failures = verdict(report);
    if (failures.length) console.log(summary(report));
    expect(failures).toEqual([]);
  }, 60_000);
});
