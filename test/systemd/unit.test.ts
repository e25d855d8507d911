import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseUnitLimits } from '../fuzz/unit-limits.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

const UNIT = 'systemd/fieldgate.service';
/** The V8 heap sizes the unit ships (see the comment above ExecStart for what was measured). */
const HEAP_FLAGS = '--max-semi-space-size=2 --max-old-space-size=96';
const ANALYZE = '/usr/bin/systemd-analyze';
const has = existsSync(ANALYZE);
if (!has) console.warn(`SKIP systemd-analyze verify: ${ANALYZE} not installed (Debian package systemd)`);

afterAll(cleanupTmpDirs);

/** Directive values of the [Service] section (repeated keys collected). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

describe('fieldgate.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const d = directives(text);

  it('runs the installed CLI as an unprivileged user with notify + watchdog', () => {
    expect(d.get('ExecStart')).toEqual([
      `/usr/bin/node ${HEAP_FLAGS} /opt/fieldgate/bin/fieldgate.js run -c /etc/fieldgate/fieldgate.yaml`,
    ]);
    expect(d.get('Type')).toEqual(['notify']);
    expect(d.get('NotifyAccess')).toEqual(['all']);
    expect(d.get('WatchdogSec')).toEqual(['30']);
    expect(d.get('Restart')).toEqual(['on-failure']);
    expect(d.get('RestartSec')).toEqual(['5']);
    expect(d.get('User')).toEqual(['fieldgate']);
    expect(d.get('SupplementaryGroups')).toEqual(['dialout']);
    expect(d.get('StateDirectory')).toEqual(['fieldgate']);
  });

  it('never gives up restarting: no start limit, and RestartSec paces a crash loop', () => {
    // systemd's default (5 starts in 10 s) or any StartLimitBurst ends a crash loop in "failed" for good.
    expect(d.get('StartLimitIntervalSec')).toEqual(['0']);
    expect(d.get('StartLimitBurst') ?? []).toEqual([]);
    expect(d.get('StartLimitAction') ?? []).toEqual([]);
    expect(['on-failure', 'always']).toContain(d.get('Restart')?.at(-1));
    expect(Number(d.get('RestartSec')?.at(-1))).toBeGreaterThanOrEqual(1);
  });

  it('is hardened without hiding the ttys or breaking the V8 JIT', () => {
    for (const [k, v] of [
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['DevicePolicy', 'closed'],
      ['CapabilityBoundingSet', ''],
      ['UMask', '0077'],
      ['SystemCallArchitectures', 'native'],
      ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX AF_NETLINK'],
      ['ProtectProc', 'invisible'],
      ['ProcSubset', 'pid'], // test/systemd/proc-subset.test.ts runs the gateway that way
    ] as const) {
      expect(d.get(k), k).toEqual([v]);
    }
    expect(d.get('DeviceAllow')).toEqual([
      'char-ttyUSB rw',
      'char-ttyACM rw',
      'char-ttyAMA rw',
      'char-ttyS rw',
    ]);
    expect(d.has('PrivateDevices')).toBe(false);
    expect(d.has('MemoryDenyWriteExecute')).toBe(false);
    expect(d.has('PrivateUsers')).toBe(false);
  });

  it('caps the V8 heap with flags node accepts, well below MemoryMax and MemoryHigh', () => {
    const unit = parseUnitLimits(text);
    expect(unit.nodeFlags.join(' ')).toBe(HEAP_FLAGS);
    // Node refuses to start on a flag it does not know: the service would never come up.
    const r = spawnSync(
      process.execPath,
      [...unit.nodeFlags, '-p', "require('v8').getHeapStatistics().heap_size_limit"],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const heapKb = Number(r.stdout) / 1024;
    const oldKb = Number(/--max-old-space-size=(\d+)/.exec(HEAP_FLAGS)?.[1]) * 1024;
    // The flag took: the limit is the old space plus the young generation, not V8's default (GiBs).
    expect(heapKb).toBeGreaterThanOrEqual(oldKb);
    expect(heapKb).toBeLessThan(oldKb * 1.25);
    // Room above the heap for node itself (~40 MiB of binary), SQLite's cache and socket buffers.
    expect(unit.memoryHighKb).toBeDefined();
    expect(unit.memoryMaxKb).toBeDefined();
    expect(heapKb + 40 * 1024).toBeLessThan(unit.memoryHighKb!);
    expect(unit.memoryHighKb!).toBeLessThan(unit.memoryMaxKb!);
  });

  it('reads MemoryHigh and MemoryMax in kB beside the node flags (bench/unit-file.ts parses the rest)', () => {
    const u = parseUnitLimits(
      '[Service]\nExecStart=/x/node --a=1 /opt/fieldgate/bin/fieldgate.js run\nMemoryHigh=192M\nMemoryMax=1G\n',
    );
    expect(u).toEqual({ nodeFlags: ['--a=1'], env: {}, memoryMaxKb: 1024 * 1024, memoryHighKb: 192 * 1024 });
    expect(parseUnitLimits('[Service]\nExecStart=/x/node /x/y.js\n').memoryHighKb).toBeUndefined();
  });

  // Skipped only when the binary is absent (non-systemd CI image); the reason is printed above.
  it.skipIf(!has)('passes systemd-analyze verify with no warnings', () => {
    // A copy whose ExecStart points at binaries that exist here, so the only
    // possible complaint (missing executable) cannot hide a real one.
    const dir = tmpDir();
    const copy = join(dir, 'fieldgate.service');
    writeFileSync(
      copy,
      text.replace(
        /^ExecStart=\S+ (?:--\S+ )*\S+/m,
        `ExecStart=${process.execPath} ${join(process.cwd(), 'bin/fieldgate.js')}`,
      ),
    );
    const r = spawnSync(ANALYZE, ['verify', copy], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!has)('the verify check does catch mistakes (unknown key, missing binary)', () => {
    const dir = tmpDir();
    const copy = join(dir, 'fieldgate.service');
    writeFileSync(
      copy,
      text
        .replace('UMask=0077', 'UMask=0077\nProtectEverything=yes')
        .replace(/^ExecStart=\/usr\/bin\/node/m, 'ExecStart=/nonexistent/node'),
    );
    const r = spawnSync(ANALYZE, ['verify', copy], { encoding: 'utf8', timeout: 20_000 });
    const out = r.stdout + r.stderr;
    expect(out).toContain("Unknown key 'ProtectEverything'");
    expect(out).toContain('/nonexistent/node');
    expect(r.status).not.toBe(0);
  });

  it.skipIf(!has)('its suggested network and port allow-lists verify once uncommented (a drop-in)', () => {
    // Site-specific (devices' subnet, broker, listen ports), so shipped commented; they must be right.
    const suggested = text
      .split('\n')
      .filter((l) => /^#(IPAddress(Deny|Allow)|SocketBind(Deny|Allow))=/.test(l));
    expect(suggested.map((l) => l.slice(1).split('=')[0])).toEqual([
      'IPAddressDeny',
      'IPAddressAllow',
      'SocketBindDeny',
      'SocketBindAllow',
      'SocketBindAllow',
    ]);
    const dir = tmpDir();
    const copy = join(dir, 'fieldgate.service');
    writeFileSync(
      copy,
      text
        .replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `)
        .replace(/^#(IPAddress|SocketBind)/gm, '$1'),
    );
    const r = spawnSync(ANALYZE, ['verify', copy], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(directives(readFileSync(copy, 'utf8')).get('SocketBindAllow')).toEqual(['udp:1884', 'tcp:9464']);
  });

  it.skipIf(!has)('the installed unit (node path rewritten) also verifies', () => {
    // Same sed as install.sh, for a node that is not /usr/bin/node.
    const dir = tmpDir();
    const copy = join(dir, 'fieldgate.service');
    writeFileSync(copy, text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    const r = spawnSync(ANALYZE, ['verify', copy], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
