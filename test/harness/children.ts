import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let hooked = false;

/**
 * Remember a spawned helper process (mosquitto, socat, a gateway) so that it
 * dies with the test file even when a failed assertion skipped its cleanup.
 */
export function trackChild(proc: ChildProcess): ChildProcess {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  if (!hooked) {
    hooked = true;
    process.once('exit', killTrackedChildren);
  }
  return proc;
}

/**
 * SIGKILL every tracked child still running. Run after each test file (test/harness/setup.ts):
 * vitest ends its fork workers with a signal, which skips process 'exit' handlers, so a failed
 * test used to leave its mosquitto running.
 */
export function killTrackedChildren(): number {
  let killed = 0;
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')) killed++;
    children.delete(c);
  }
  return killed;
}
