import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { floodGatewayConfig, stateFlood } from '../fuzz/state-flood.js';
import { hwmKb } from '../fuzz/proc.js';
import { unitLimits } from '../fuzz/unit-limits.js';
import { GatewayProcess, killAllGateways, runCli } from '../harness/gateway-process.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

const unit = unitLimits();

/**
 * The REGISTER flood of a hostile LAN host against the real gateway process with the unit's node
 * flags: kept sessions under the recommended ACL, each REGISTERing as many long topics as it is let.
 * What it may make the gateway keep is bounded in bytes; a restart loads it back without crashing;
 * stored state over a (lowered) budget is dropped at start; `fieldgate sessions` lists and purges it.
 */
describe('mqttsn: a REGISTER flood cannot exhaust memory or crash-loop the gateway', () => {
  it('4 KB topics are refused, long ones stop at the source budget, and restarts come up', async () => {
    const dir = tmpDir('fieldgate-regflood-');
    const udpPort = await freeUdpPort();
    const file = join(dir, 'fieldgate.yaml');
    const config = (mqttsn = '') => floodGatewayConfig({ udpPort, stateDir: join(dir, 'state'), mqttsn });
    writeFileSync(file, config());
    const start = () =>
      GatewayProcess.start(['run', '-c', file, '-l', 'info'], unit.env, { flags: unit.nodeFlags });

    const gw = start();
    await gw.waitForLog('mqttsn listening', 30_000);
    // The attack: 4 KB topic names. Each is refused for good ("not supported"), nothing kept.
    const big = await stateFlood({
      port: udpPort,
      sources: ['127.0.0.1'],
      clientsPerSource: 4,
      registersPerClient: 64,
      topicBytes: 4000,
      prefix: 'big',
    });
    expect(big).toMatchObject({ connects: 4, registered: 0, notSupported: 256, connectUnanswered: 0 });
    // Then the longest allowed names (128 bytes), ids invented until the address is refused.
    const long = await stateFlood({
      port: udpPort,
      sources: ['127.0.0.1'],
      clientsPerSource: 16,
      registersPerClient: 1024,
      topicBytes: 128,
    });
    // 512 KiB for one source address: each registration costs its name + 160, a session 1024.
    const kept = long.registered * (128 + 160) + (4 + long.connects) * 1024;
    expect(kept).toBeLessThanOrEqual(512 * 1024);
    expect(kept).toBeGreaterThan(400 * 1024);
    expect(long.connectRefused).toBeGreaterThan(0); // the source's budget refuses new sessions too
    expect(long.connectUnanswered).toBe(0); // one client at a time: nothing lost on loopback
    expect(long.congestion).toBeGreaterThan(0);
    expect(hwmKb(gw.pid)).toBeLessThan(unit.memoryMaxKb!);
    gw.signal('SIGTERM');
    expect(await gw.exited(30_000)).toEqual({ code: 0, signal: null });

    // A restart loads every kept session back and stays up.
    const again = start();
    const up = await again.waitForLog('mqttsn listening', 30_000);
    expect(up.restored).toBe(4 + long.connects);
    await new Promise((r) => setTimeout(r, 500));
    again.signal('SIGTERM');
    expect(await again.exited(30_000)).toEqual({ code: 0, signal: null });

    // Budgets lowered (or state stored by an older version): what would not fit is dropped at load.
    writeFileSync(file, config('  max_state_bytes_per_source: 128KiB\n'));
    const lowered = start();
    const warn = await lowered.waitForLog(/over the state budget dropped at start/, 30_000);
    expect(warn.dropped).toBeGreaterThan(0);
    const up2 = await lowered.waitForLog('mqttsn listening', 30_000);
    expect(Number(up2.restored) + Number(warn.dropped)).toBe(4 + long.connects);
    lowered.signal('SIGTERM');
    expect(await lowered.exited(30_000)).toEqual({ code: 0, signal: null });

    // What is left, and the operator's way out.
    const list = await runCli(['sessions', 'list', '-c', file, '--json']);
    expect(list.code).toBe(0);
    const rows = list.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { clientId: string; address: string; topics: number });
    expect(rows).toHaveLength(Number(up2.restored));
    expect(rows.every((r) => r.address === '127.0.0.1')).toBe(true);
    const refused = await runCli(['sessions', 'purge', '-c', file, '--source', '127.0.0.1']);
    expect(refused.code).toBe(1); // no TTY, no --yes
    const one = await runCli(['sessions', 'purge', '-c', file, '--id', rows[0]!.clientId, '--yes']);
    expect(one.out).toMatch(/purged 1 stored session/);
    const rest = await runCli(['sessions', 'purge', '-c', file, '--source', '127.0.0.1', '--yes']);
    expect(rest.out).toMatch(new RegExp(`purged ${rows.length - 1} stored session`));
    expect((await runCli(['sessions', 'list', '-c', file])).out).toMatch(/0 stored sessions/);
  }, 120_000);

  it('sessions purge refuses while the gateway runs (it would write its sessions back)', async () => {
    const dir = tmpDir('fieldgate-regflood-');
    const udpPort = await freeUdpPort();
    const file = join(dir, 'fieldgate.yaml');
    writeFileSync(file, floodGatewayConfig({ udpPort, stateDir: join(dir, 'state') }));
    const gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('mqttsn listening', 30_000);
    const r = await runCli(['sessions', 'purge', '-c', file, '--id', 'x', '--yes']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/in use by fieldgate pid .*stop it first/);
    gw.signal('SIGTERM');
    await gw.exited();
  }, 60_000);
});
