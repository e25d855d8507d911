/** Forks bench/child.ts (through tsx) for the subscriber and the load generators. */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from '../test/harness/children.js';
import type { LoadResult } from './child.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Tracked: killed when the bench exits, also when a failure skipped its stop(). */
function spawnChild(args: string[]): ChildProcess {
  return trackChild(
    fork(CHILD, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
}

function nextMessage<T>(p: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`bench child exited with ${code}`));
    p.once('exit', onExit);
    p.once('message', (m) => {
      p.off('exit', onExit);
      resolve(m as T);
    });
  });
}

/** A counting QoS 1 subscriber in its own process. */
export class CountingSubscriber {
  private constructor(private readonly p: ChildProcess) {}

  /** `persistent`: clean: false and reconnecting, for a broker restarted with persistence. */
  static async start(url: string, filter: string, persistent = false): Promise<CountingSubscriber> {
    const p = spawnChild(['sub', url, filter, ...(persistent ? ['persistent'] : [])]);
    await nextMessage(p);
    return new CountingSubscriber(p);
  }

  async count(): Promise<number> {
    const m = nextMessage<{ count: number }>(this.p);
    this.p.send('count');
    return (await m).count;
  }

  async reset(): Promise<void> {
    const m = nextMessage(this.p);
    this.p.send('reset');
    await m;
  }

  /** Poll until the count reaches n (or stops growing for `idleMs`); returns the last count. */
  async waitFor(n: number, idleMs = 3000): Promise<number> {
    let last = -1;
    let since = performance.now();
    for (;;) {
      const c = await this.count();
      if (c >= n) return c;
      if (c !== last) {
        last = c;
        since = performance.now();
      } else if (performance.now() - since > idleMs) return c;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const gone = new Promise((r) => this.p.once('exit', r));
    this.p.send('stop');
    await gone;
  }
}

/** Runs one load generator to completion; `onMeasuring` runs when its warm-up ends. */
export async function runLoad(args: string[], onMeasuring?: () => void): Promise<LoadResult> {
  const p = spawnChild(args);
  const first = await nextMessage<LoadResult | { measuring: true }>(p);
  if (!('measuring' in first)) return first;
  onMeasuring?.();
  return nextMessage<LoadResult>(p);
}
