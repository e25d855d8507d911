import { EXIT } from './exit-codes.js';
import { waitingNow } from '../../../contracts/clock.js';

/** A message on the gateway's change topic (docs/remote-management.md, "Change states"). */
export interface ChangeState {
  change_id?: string;
  state?: string;
  reason?: string;
}

/** Print each state of our change as it comes; the exit code of its final one. */
export async function awaitOutcome(
  gateway: string,
  changeId: string | undefined,
  changes: ChangeState[],
  waitMs: number,
): Promise<number> {
  const deadline = waitingNow() + waitMs;
  let seen = 0;
  let last = 'pending';
  // Ctrl-C stops the waiting, not the change: say where its outcome will show.
  let interrupted = false;
  const interrupt = () => {
    interrupted = true;
  };
  process.once('SIGINT', interrupt);
  try {
    while (waitingNow() < deadline && !interrupted) {
      for (; seen < changes.length; seen++) {
        const c = changes[seen]!;
        if (changeId !== undefined && c.change_id !== changeId) continue;
        if (c.state === last) continue;
        last = c.state ?? '?';
        if (c.state === 'confirmed') {
          console.log(`confirmed: ${gateway} is connected and its adapters are up`);
          return EXIT.ok;
        }
        if (c.state === 'rolled_back' || c.state === 'failed') {
          console.log(`${c.state}: ${c.reason ?? 'no reason given'}`);
          return EXIT.rolledBack;
        }
        console.log(`${last}${c.reason ? `: ${c.reason}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    process.off('SIGINT', interrupt);
  }
  console.log(
    interrupted
      ? `stopped waiting: the change goes on on ${gateway}; \`fieldgate remote status ${gateway}\` shows its outcome (last_change)`
      : `no outcome: ${gateway} published neither confirmed nor rolled_back within ${Math.round(waitMs / 1000)} s`,
  );
  return EXIT.noAnswer;
}
