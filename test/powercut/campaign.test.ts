import { afterAll, describe, expect, it } from 'vitest';
import { killAllGateways } from '../harness/gateway-process.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { runCampaign, summary } from './campaign.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

// The short campaign (npm run powercut runs the long one). Each cut is a simulated power cut of the
// gateway's state directory (see disk.ts), not just a SIGKILL.
describe('power cuts (simulated: unsynced writes are lost)', () => {
  it('power-loss: every acknowledged message reaches the subscriber, QoS 2 exactly once, no corruption', async () => {
    const r = await runCampaign({
      mode: 'power-loss',
      cuts: 5,
      kinds: ['wal-fsync', 'checkpoint-write', 'link-down', 'drain', 'checkpoint-fsync'],
      aliveMs: [400, 900],
      torn: true,
    });
    console.log(summary(r));
    expect(r.cuts).toBe(5);
    expect(r.acked).toBeGreaterThan(200); // the stream really flowed across the cuts
    expect(r.ackedQos2).toBeGreaterThan(50);
    expect(r.walFsyncs).toBeGreaterThan(50); // the simulator saw the gateway's own fdatasyncs
    expect(r.integrityFailures).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.duplicatedQos2).toBe(0);
    expect(r.outOfOrder).toBe(0);
  }, 60_000);

  it('catches the loss when the WAL fsync is removed (FIELDGATE_TEST_SKIP_WAL_FSYNC): the check can fail', async () => {
    // With the broker unreachable the acknowledged messages wait in the outbox, unsynced, until the cut.
    const r = await runCampaign({
      mode: 'power-loss-no-fsync',
      cuts: 1,
      kinds: ['link-down'],
      aliveMs: [800, 1200],
    });
    console.log(summary(r));
    expect(r.acked).toBeGreaterThan(50);
    expect(r.lost).toBeGreaterThan(0);
  }, 45_000);

  it('process-crash: a power cut loses the acknowledged messages still queued since the last checkpoint', async () => {
    const r = await runCampaign({
      mode: 'process-crash',
      cuts: 1,
      kinds: ['link-down'],
      aliveMs: [800, 1200],
    });
    console.log(summary(r));
    expect(r.integrityFailures).toBe(0); // SQLite itself survives; only the recent commits are gone
    expect(r.lost).toBeGreaterThan(0);
  }, 45_000);
});
