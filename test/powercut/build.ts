import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../harness/tmp.js';

const SOURCE = fileURLToPath(new URL('./shim.c', import.meta.url));
let built: string | undefined;

/**
 * Compiles shim.c with the system C compiler (cc; Debian: gcc + libc6-dev) into a temp dir, once per
 * process (again after cleanupTmpDirs()). The .so is never committed: every machine that runs the
 * tests builds it from source.
 */
export function buildShim(): string {
  if (built && existsSync(built)) return built;
  const out = join(tmpDir('fieldgate-powercut-shim-'), 'powercut.so'); // removed by cleanupTmpDirs()
  try {
    execFileSync(
      'cc',
      ['-O2', '-Wall', '-Wno-format-truncation', '-shared', '-fPIC', '-o', out, SOURCE, '-ldl', '-lpthread'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(
      `cannot build the power-cut shim (needs cc: apt-get install gcc libc6-dev): ${e.stderr?.toString() ?? e.message}`,
    );
  }
  built = out;
  return out;
}
