import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown when another live fieldgate already owns the state directory. */
export class StateDirBusyError extends Error {
  override readonly name = 'StateDirBusyError';
}

/**
 * One gateway per state directory: two processes draining one outbox would
 * publish every message twice. A pid file, not an OS lock, so `fieldgate
 * queue` can still read the database beside a running gateway; a pid file
 * left by a killed process is taken over (its pid is gone, or is not fieldgate).
 */
export function lockStateDir(dir: string, pid = process.pid): () => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'fieldgate.pid');
  const other = readPid(file);
  if (other !== null && other !== pid && isFieldgate(other)) {
    throw new StateDirBusyError(`state directory ${dir} is in use by fieldgate pid ${other}; stop it first`);
  }
  writeFileSync(file, `${pid}\n`);
  return () => {
    if (readPid(file) === pid) rmSync(file, { force: true });
  };
}

function readPid(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function isFieldgate(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's: assume busy
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fieldgate');
  } catch {
    return true; // alive but unreadable (no /proc): err on the side of not running twice
  }
}
