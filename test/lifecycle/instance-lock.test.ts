import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockStateDir, StateDirBusyError } from '../../gateway/lifecycle/instance-lock.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

describe('one gateway per state directory', () => {
  it('refuses a second owner while the first lives, and frees the directory on release', async () => {
    const dir = tmpDir();
    // A live process whose command line says fieldgate stands in for a running gateway.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)', 'fieldgate'], {
      stdio: 'ignore',
    });
    try {
      writeFileSync(join(dir, 'fieldgate.pid'), `${other.pid}\n`);
      expect(() => lockStateDir(dir)).toThrow(StateDirBusyError);
    } finally {
      const gone = new Promise((r) => other.once('exit', r));
      other.kill('SIGKILL');
      await gone;
    }
    const release = lockStateDir(dir);
    expect(existsSync(join(dir, 'fieldgate.pid'))).toBe(true);
    release();
    expect(existsSync(join(dir, 'fieldgate.pid'))).toBe(false);
  });

  it('takes over a pid file left by a killed gateway (pid gone, or reused by something else)', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'fieldgate.pid'), '999999\n'); // no such process
    expect(() => lockStateDir(dir)()).not.toThrow();
    writeFileSync(join(dir, 'fieldgate.pid'), '1\n'); // init: alive, but not fieldgate
    expect(() => lockStateDir(dir)()).not.toThrow();
  });
});
