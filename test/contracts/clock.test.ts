import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  clockTrust,
  continueWaitingClock,
  StepDetector,
  timeTrusted,
  waitingNow,
  wallOf,
} from '../../contracts/clock.js';
import type { OutboxRow } from '../../contracts/store.js';
import { SyncProbe } from '../../gateway/clock/sync-probe.js';
import { ClockWatch } from '../../gateway/clock/watch.js';
import { waitFor } from '../harness/wait.js';
import { resumeWaitingClock, saveWaitingClock } from '../../gateway/store/clock-state.js';
import { stats, wallOffsetEstimate } from '../../gateway/store/inspect.js';
import { PublishEncoder } from '../../gateway/upstream/publish-packet.js';
import { describeError } from '../../gateway/upstream/reasons.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { engine, reading } from '../rules/helpers.js';
import { captureLogger, open } from '../store/helpers.js';

const DAY = 86400e3;

afterEach(() => {
  vi.restoreAllMocks();
  clockTrust.syncedSince = 0;
  cleanupTmpDirs();
});

/** The wall clock as seen by this process, moved by `ms` (pure logic: the real step is in test/clock). */
function stepWall(ms: number): void {
  const real = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => real() + ms);
}

describe('the waiting clock', () => {
  it('reads the wall clock until it steps, never goes back, and converts its times to the wall clock of now', () => {
    const w0 = waitingNow();
    expect(Math.abs(w0 - Date.now())).toBeLessThanOrEqual(5);
    stepWall(-35 * DAY);
    const w1 = waitingNow();
    expect(w1).toBeGreaterThanOrEqual(w0);
    expect(w1 - w0).toBeLessThan(1000);
    // A time taken before the step shows on the stepped clock (monotonic time + new offset).
    expect(Math.abs(wallOf(w0) - (w0 - 35 * DAY))).toBeLessThanOrEqual(5);
  });

  it('a step is wall minus monotonic time moving by more than a second, reported once, either way', () => {
    const d = new StepDetector();
    expect(d.check()).toBeUndefined();
    stepWall(800); // under the threshold: slew-sized, not a step
    expect(d.check()).toBeUndefined();
    vi.restoreAllMocks();
    stepWall(35 * DAY);
    const step = d.check()!;
    expect(step.stepMs).toBeGreaterThan(35 * DAY - 1000);
    expect(step.stepMs).toBeLessThan(35 * DAY + 1000);
    expect(step.to - step.from).toBe(step.stepMs);
    expect(d.check()).toBeUndefined(); // once
    vi.restoreAllMocks();
    expect(d.check()!.stepMs).toBeLessThan(-35 * DAY + 1000);
  });
});

describe('continued across restarts (the store keeps it)', () => {
  it('adds the downtime only when the clock was synchronized at the stop and at the start; else logs once', async () => {
    const dir = tmpDir();
    let { store } = open(dir);
    continueWaitingClock(Date.now());
    clockTrust.syncedSince = 0;
    await saveWaitingClock(store.state, true);
    const saved = waitingNow();
    store.close();

    // Synchronized at both ends, one hour "down" by the wall clock: counted.
    stepWall(3600e3);
    ({ store } = open(dir));
    let { logger, lines } = captureLogger();
    const counted = resumeWaitingClock(store.state, true, logger);
    expect(counted.countedMs).toBeGreaterThan(3600e3 - 1000);
    expect(waitingNow() - saved).toBeGreaterThan(3600e3 - 1000);
    expect(clockTrust.syncedSince).toBe(0); // the mapping to true time still holds
    expect(lines).toEqual([]);
    await saveWaitingClock(store.state, false); // this run ends unsynchronized
    const before = waitingNow();
    store.close();

    // Stopped unsynchronized, started 35 days "later": not counted, said once, times before now unvouched.
    vi.restoreAllMocks();
    stepWall(3600e3 + 35 * DAY);
    ({ store } = open(dir));
    ({ logger, lines } = captureLogger());
    const notCounted = resumeWaitingClock(store.state, true, logger);
    expect(notCounted.countedMs).toBe(0);
    expect(waitingNow() - before).toBeLessThan(1000);
    expect(lines.map((l) => l.msg)).toEqual([
      'downtime not counted in ages and deadlines: the wall clock was not synchronized when the gateway last ran',
    ]);
    expect(timeTrusted(before - 1000)).toBe(false); // a reading of the earlier run
    expect(timeTrusted(waitingNow())).toBe(true);

    // Synchronized at the stop, unsynchronized now: not counted either, nothing vouched for.
    await saveWaitingClock(store.state, true);
    store.close();
    ({ store } = open(dir));
    ({ logger, lines } = captureLogger());
    expect(resumeWaitingClock(store.state, false, logger).notCounted).toBe(
      'the wall clock is not synchronized now',
    );
    expect(clockTrust.syncedSince).toBeNull();
    store.close();
  });
});

describe('the clock watch', () => {
  it('logs and counts a step once, saves the clock at once, and says what it saw', async () => {
    const { store } = open(tmpDir());
    const probe = new SyncProbe('always', '/nonexistent');
    await probe.probe();
    const { logger, lines } = captureLogger();
    const steps: string[] = [];
    const watch = new ClockWatch({ probe, kv: store.state, logger, onStep: (d) => steps.push(d) });
    watch.start();
    const saved = () => store.state.get<{ w: number; wall: number; synced: boolean }>('clock', 'waiting');
    await waitFor(() => saved(), 'the first save');
    expect(saved()!.synced).toBe(true);
    stepWall(35 * DAY);
    watch.check();
    watch.check();
    expect(steps).toEqual(['forward']);
    const logged = lines.filter((l) => /^wall clock stepped/.test(l.msg));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ direction: 'forward' });
    expect(Number(logged[0]!.stepS)).toBeCloseTo(35 * 86400, -1);
    await waitFor(() => saved()!.wall > Date.now() - 5000, 'saved with the new wall time');
    const status = watch.status();
    expect(status).toMatchObject({ synchronized: 'synchronized', steps: 1 });
    expect(status.last_step!.step_s).toBeCloseTo(35 * 86400, -1);
    await watch.stop();
    store.close();
  });
});

describe('the queue CLI beside a gateway whose waiting clock is behind the wall clock', () => {
  it("takes ages on the gateway's scale and shows times on the wall clock", async () => {
    const dir = tmpDir();
    const { store } = open(dir);
    // The gateway ran unsynchronized 35 days behind, then NTP stepped the clock: its scale stayed.
    await store.state.put('clock', 'waiting', {
      w: Date.now() - 35 * DAY,
      wall: Date.now(),
      synced: true,
      syncedSince: 0,
    });
    continueWaitingClock(Date.now() - 35 * DAY - 5000);
    await store.outbox.enqueue([
      {
        source: 's',
        device: 'd',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 1,
        retain: false,
        receivedAt: waitingNow(),
      },
    ]);
    store.close();
    expect(Math.abs(wallOffsetEstimate(dir) - 35 * DAY)).toBeLessThan(1000);
    const age = stats(dir).outbox.oldestAgeMs!;
    expect(age).toBeGreaterThan(4000);
    expect(age).toBeLessThan(7000);
  });
});

describe('the sync probe', () => {
  it('file: the flag file decides; auto: then timedatectl; unknown when nothing can tell', async () => {
    const dir = tmpDir();
    const flag = join(dir, 'synchronized');
    const file = new SyncProbe('file', flag);
    expect(await file.probe()).toBe('unsynchronized');
    writeFileSync(flag, '');
    expect(await file.probe()).toBe('synchronized');

    const fake = (answer: string, code = 0) => {
      const script = join(dir, `timedatectl-${answer}-${code}`);
      writeFileSync(script, `#!/bin/sh\necho ${answer}\nexit ${code}\n`);
      chmodSync(script, 0o755);
      return script;
    };
    const absent = join(dir, 'absent');
    expect(await new SyncProbe('auto', flag, fake('no')).probe()).toBe('synchronized'); // the flag file first
    expect(await new SyncProbe('auto', absent, fake('yes')).probe()).toBe('synchronized');
    const no = new SyncProbe('auto', absent, fake('no'));
    expect(await no.probe()).toBe('unsynchronized');
    expect(no.trusted).toBe(false);
    const broken = new SyncProbe('auto', absent, fake('whatever', 1));
    expect(await broken.probe()).toBe('unknown');
    expect(broken.trusted).toBe(true);
    expect(await new SyncProbe('auto', absent, join(dir, 'no-such-command')).probe()).toBe('unknown');
    expect(await new SyncProbe('never', flag).probe()).toBe('unsynchronized');
    expect(await new SyncProbe('always', absent).probe()).toBe('synchronized');
  });
});

describe('what the clock changes upstream', () => {
  const row = (receivedAt: number): OutboxRow => ({
    id: 1,
    source: 'mqttsn',
    device: 'd',
    topic: 't',
    payload: Buffer.from('x'),
    qos: 1,
    retain: false,
    receivedAt,
    state: 'queued',
    packetId: null,
  });
  const decode = (buf: Buffer) => {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let out: mqttPacket.IPublishPacket | undefined;
    parser.on('packet', (p) => {
      out = p as mqttPacket.IPublishPacket;
    });
    parser.parse(buf);
    return out!;
  };

  it('MQTT 5: expiry counts waiting time; a reading from before the clock was synchronized is marked', () => {
    const enc = new PublishEncoder(5, 60_000, 0);
    const now = waitingNow();
    clockTrust.syncedSince = now - 5000;
    const fresh = decode(enc.encode([{ row: row(now - 2000), packetId: 1 }], false));
    expect(fresh.properties?.messageExpiryInterval).toBe(58);
    expect(fresh.properties?.userProperties).toBeUndefined();
    const old = decode(enc.encode([{ row: row(now - 10_000), packetId: 2 }], false));
    expect(old.properties?.messageExpiryInterval).toBe(50);
    expect(old.properties?.userProperties).toEqual({ time_quality: 'unsynchronized' });
    clockTrust.syncedSince = null; // still not synchronized: nothing can be vouched for
    expect(decode(enc.encode([{ row: row(now), packetId: 3 }], false)).properties?.userProperties).toEqual({
      time_quality: 'unsynchronized',
    });
  });

  it("rule expressions see a reading's time on the wall clock of now, and whether it can be vouched for", async () => {
    const e = engine({
      rules: [{ match: 'sensors/#', transform: '{"at": receivedAt, "ok": timeSynchronized}' }],
    });
    const w = waitingNow() - 60_000; // read a minute ago
    stepWall(-35 * DAY); // and the clock stepped since
    clockTrust.syncedSince = w - 1;
    const run = await e.uplink(reading({ receivedAt: w }), waitingNow());
    const body = JSON.parse(run.messages[0]!.payload.toString()) as { at: number; ok: boolean };
    expect(Math.abs(body.at - (Date.now() - 60_000))).toBeLessThan(1000);
    expect(body.ok).toBe(true);
    clockTrust.syncedSince = null;
    const marked = await e.uplink(reading({ receivedAt: w }), waitingNow());
    expect((JSON.parse(marked.messages[0]!.payload.toString()) as { ok: boolean }).ok).toBe(false);
  });

  it('a certificate "expired" or "not yet valid" while unsynchronized is logged as the clock, with a hint', () => {
    const err = Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' });
    expect(describeError(err).reason).toBe('TLS: certificate has expired (CERT_HAS_EXPIRED)');
    clockTrust.syncedSince = null;
    const d = describeError(err);
    expect(d.tls).toBe(true);
    expect(d.reason).toMatch(
      /^TLS: broker certificate expired by this machine's clock .* not synchronized \(NTP\)/,
    );
    expect(d.reason).toMatch(/fake-hwclock/);
    const early = Object.assign(new Error('certificate is not yet valid'), { code: 'CERT_NOT_YET_VALID' });
    expect(describeError(early).reason).toMatch(
      /^TLS: broker certificate not yet valid by this machine's clock/,
    );
  });
});
