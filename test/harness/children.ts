import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let hooked = false;

/**
 * Remember a spawned helper process (mosquitto, socat, a gateway) so that it
 * dies with the test worker even when a failed assertion skipped its cleanup.
 */
export function trackChild(proc: ChildProcess): ChildProcess {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  return proc;
}
