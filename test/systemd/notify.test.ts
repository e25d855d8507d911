import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SystemdNotifier } from '../../gateway/systemd/notify.js';
import { sleep, waitFor } from '../harness/wait.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

/** A fake systemd-notify first on PATH: appends its argv (one call per line) to calls.log. */
function fakeSystemd(env: Record<string, string> = {}) {
  const dir = tmpDir('fieldgate-notify-');
  const log = join(dir, 'calls.log');
  const script = join(dir, 'systemd-notify');
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\n`);
  chmodSync(script, 0o755);
  const calls = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  const fullEnv = { PATH: `${dir}:${process.env.PATH}`, NOTIFY_SOCKET: '/run/systemd/notify', ...env };
  return { env: fullEnv, calls };
}

function recordingLogger() {
  const warns: string[] = [];
  return { warns, logger: { warn: (_o: object, msg?: string) => warns.push(msg ?? ''), debug: () => {} } };
}

const notifiers: SystemdNotifier[] = [];
const make = (...args: ConstructorParameters<typeof SystemdNotifier>) => {
  const n = new SystemdNotifier(...args);
  notifiers.push(n);
  return n;
};
afterEach(() => {
  for (const n of notifiers.splice(0)) n.stop();
});

describe('SystemdNotifier', () => {
  it('sends READY (with status), STATUS and STOPPING through systemd-notify', async () => {
    const sd = fakeSystemd();
    const n = make({ env: sd.env });
    expect(n.enabled).toBe(true);
    await n.ready('listening on 1884');
    await n.status('outbox 12 rows');
    await n.stopping();
    expect(sd.calls()).toEqual([
      '--ready --status=listening on 1884',
      '--status=outbox 12 rows',
      'STOPPING=1',
    ]);
    await n.ready();
    expect(sd.calls().at(-1)).toBe('--ready');
  });

  it('pings WATCHDOG=1 every WATCHDOG_USEC/2 while healthy, none while unhealthy', async () => {
    const sd = fakeSystemd({ WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) });
    let healthy = true;
    const n = make({ env: sd.env });
    expect(n.watchdogIntervalMs()).toBe(100);
    expect(n.startWatchdog(() => healthy)).toBe(true);
    await waitFor(() => sd.calls().filter((c) => c === 'WATCHDOG=1').length >= 3, '3 watchdog pings', 5000);

    healthy = false;
    await sleep(250); // let a ping already spawned land
    const frozen = sd.calls().length;
    await sleep(400); // 4 intervals
    expect(sd.calls().length).toBe(frozen);

    healthy = true;
    await waitFor(() => sd.calls().length > frozen, 'pings to resume', 5000);
    await n.stopping();
    await sleep(250);
    const afterStop = sd.calls().length;
    await sleep(300);
    expect(sd.calls().length).toBe(afterStop);
    expect(sd.calls()).toContain('STOPPING=1');
  });

  it('a verdict with a status text: STATUS= is sent when the text changes, once per change', async () => {
    const sd = fakeSystemd({ WATCHDOG_USEC: '100000' });
    let verdict = { healthy: true, status: 'serving' };
    const n = make({ env: sd.env });
    n.startWatchdog(() => verdict);
    await waitFor(() => sd.calls().filter((c) => c === 'WATCHDOG=1').length >= 3, '3 pings', 5000);
    verdict = { healthy: false, status: 'unavailable: store unusable: SQLITE_FULL' };
    await waitFor(
      () => sd.calls().includes('--status=unavailable: store unusable: SQLITE_FULL'),
      'status text',
      5000,
    );
    verdict = { healthy: true, status: 'serving' };
    await waitFor(() => sd.calls().filter((c) => c === '--status=serving').length === 2, 'status back', 5000);
    const pings = sd.calls().filter((c) => c === 'WATCHDOG=1').length;
    await waitFor(() => sd.calls().filter((c) => c === 'WATCHDOG=1').length >= pings + 3, 'more pings', 5000);
    // The same text is not sent again on every beat.
    expect(sd.calls().filter((c) => c.startsWith('--status=')).length).toBe(3);
  });

  it('a blocked event loop stops the pings (so systemd would restart us)', async () => {
    const sd = fakeSystemd({ WATCHDOG_USEC: '200000' });
    const n = make({ env: sd.env });
    n.startWatchdog(() => true);
    await waitFor(() => sd.calls().length >= 2, 'pings before the block', 5000);
    const before = sd.calls().length;
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      // busy: the event loop is hung, as in a runaway synchronous loop
    }
    await sleep(100); // the last child spawned before the block lands
    const during = sd.calls().length;
    await waitFor(() => sd.calls().length >= during + 2, 'pings after the block', 5000);
    // 1.5 s at 100 ms per ping would be ~15 pings; only a child already spawned
    // and the single late timer tick may land.
    expect(during - before).toBeLessThanOrEqual(2);
  });

  it('a health check that throws counts as unhealthy (no ping, no crash)', async () => {
    const sd = fakeSystemd({ WATCHDOG_USEC: '100000' });
    const { warns, logger } = recordingLogger();
    const n = make({ env: sd.env, logger });
    n.startWatchdog(() => {
      throw new Error('store gone');
    });
    await waitFor(() => warns.length >= 2, 'health warnings', 5000);
    expect(sd.calls()).toEqual([]);
  });

  it('no watchdog when WatchdogSec is off or the watchdog is meant for another pid', () => {
    const sd = fakeSystemd();
    expect(make({ env: sd.env }).startWatchdog(() => true)).toBe(false);
    const other = fakeSystemd({ WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' });
    expect(make({ env: other.env, pid: 4242 }).watchdogIntervalMs()).toBeNull();
  });

  it('does nothing at all without NOTIFY_SOCKET', async () => {
    const sd = fakeSystemd({ WATCHDOG_USEC: '100000' });
    const { NOTIFY_SOCKET: _, ...env } = sd.env;
    const n = make({ env });
    expect(n.enabled).toBe(false);
    await n.ready('x');
    await n.status('y');
    expect(n.startWatchdog(() => true)).toBe(false);
    await n.stopping();
    await sleep(300);
    expect(sd.calls()).toEqual([]);
  });

  it('a missing systemd-notify never throws and warns once', async () => {
    const { warns, logger } = recordingLogger();
    const n = make({ env: { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/nonexistent' }, logger });
    await expect(n.ready()).resolves.toBeUndefined();
    await expect(n.status('x')).resolves.toBeUndefined();
    await expect(n.stopping()).resolves.toBeUndefined();
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain('systemd-notify not found');
  });
});
