import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * JSONata evaluation in a child process, with hard limits. An expression is data-driven: a payload
 * can make it recurse, loop or allocate without bound, and a single built-in call (a regex that
 * backtracks, a huge $pad) never yields, so no in-thread check can stop it. A timer in the gateway
 * can (SIGKILL), and the child's own V8 heap limit ends only the child. Either way the evaluation
 * fails, the gateway carries on, and the next evaluation gets a fresh child.
 *
 * A process, not a worker thread: a worker's `resourceLimits` give V8 only 16 MiB of headroom to
 * stop in, so one large allocation (`$pad("", 200000000)`) aborted the whole gateway.
 */
export interface SandboxLimits {
  /** Wall time for one evaluation; JSONata's own guard fails it at this point inside the child. */
  maxMs: number;
  /** Evaluation depth (nested steps, recursion) at which JSONata's guard fails it. */
  maxDepth: number;
  /** The child's old-generation heap (V8 flag). */
  heapMb: number;
}

interface Job {
  key: number;
  input: unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

type Reply = { ready: true } | { value: unknown } | { error: string };

/** Extra wall time past maxMs before the child is killed: JSONata's guard normally fails it first. */
const KILL_GRACE_MS = 100;

/**
 * The child's code (`node -e`): the same text runs under tsx, vitest and the built package alike.
 * It only compiles and evaluates; every source was checked at load in the gateway.
 */
const CHILD_CODE = `
const [jsonataPath, maxMs, maxDepth] = process.argv.slice(1);
const jsonata = require(jsonataPath);
const options = { timeout: Number(maxMs), stack: Number(maxDepth) };
const compiled = [];
// Results go back as JSON; functions and JSONata lambdas (objects that refer to their
// environment) are left out, as JSON leaves out a function.
const isFunction = (x) =>
  typeof x === 'function' || (x !== null && typeof x === 'object' && (x._jsonata_lambda || x._jsonata_function));
const plain = (v) => {
  const s = JSON.stringify(v, (_k, x) => (isFunction(x) ? undefined : x));
  return s === undefined ? undefined : JSON.parse(s);
};
const send = (m) => process.send(m);
let chain = Promise.resolve();
process.on('message', (m) => {
  if (m.source !== undefined) {
    compiled[m.key] = jsonata(m.source, options);
    return;
  }
  chain = chain.then(async () => {
    let value;
    try {
      value = await compiled[m.key].evaluate(m.input);
    } catch (err) {
      const error =
        err && err.code === 'D1011' ? 'expression too deep (over ' + maxDepth + ' levels)'
        : err && err.code === 'D1012' ? 'expression took over ' + maxMs + ' ms'
        : String((err && err.message) || err);
      send({ error });
      return;
    }
    try {
      send({ value: plain(value) });
    } catch (err) {
      send({ error: 'expression result cannot be passed on: ' + err.message });
    }
  });
});
// The gateway went away (stopped, crashed): so does this.
process.on('disconnect', () => process.exit(0));
send({ ready: true });
`;

export class ExpressionSandbox {
  private readonly keys = new Map<string, number>();
  private readonly sources: string[] = [];
  private readonly queue: Job[] = [];
  private child: ChildProcess | undefined;
  private ready = false;
  private active: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Children ended by a limit (time or memory) or a crash, for tests. */
  restarts = 0;

  constructor(private readonly limits: SandboxLimits) {}

  /** The child's pid while it runs (bench: its memory). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** A handle for `source` (compiled in the child once per child, whatever the number of rules using it). */
  register(source: string): number {
    let key = this.keys.get(source);
    if (key === undefined) {
      key = this.sources.length;
      this.sources.push(source);
      this.keys.set(source, key);
      if (this.child?.connected) this.child.send({ key, source });
    }
    return key;
  }

  evaluate(key: number, input: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, input, resolve, reject });
      this.pump();
    });
  }

  /** One evaluation at a time: when the child has to be killed, the one running is the culprit. */
  private pump(): void {
    if (this.active || this.queue.length === 0) return;
    const child = this.child ?? this.spawn();
    hold(child, true); // an evaluation waiting keeps the process alive (`fieldgate rules test`)
    if (!this.ready) return;
    const job = this.queue.shift()!;
    this.active = job;
    try {
      child.send({ key: job.key, input: job.input });
    } catch (err) {
      this.finish(undefined, new Error(`expression input cannot be passed on: ${(err as Error).message}`));
      return;
    }
    this.timer = setTimeout(
      () => this.kill(`expression took over ${this.limits.maxMs} ms`),
      this.limits.maxMs + KILL_GRACE_MS,
    );
  }

  private spawn(): ChildProcess {
    const require = createRequire(import.meta.url);
    const { maxMs, maxDepth, heapMb } = this.limits;
    const child = spawn(
      process.execPath,
      [
        `--max-old-space-size=${heapMb}`,
        '--max-semi-space-size=1',
        '-e',
        CHILD_CODE,
        require.resolve('jsonata'),
        String(maxMs),
        String(maxDepth),
      ],
      // V8's out-of-memory report would go to the journal on every attack; the result says it.
      { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'json' },
    );
    this.child = child;
    this.ready = false;
    this.sources.forEach((source, key) => {
      child.send({ key, source });
    });
    child.on('message', (m: Reply) => {
      if (child !== this.child) return;
      if ('ready' in m) {
        this.ready = true;
        this.pump();
      } else if ('error' in m) this.finish(undefined, new Error(m.error));
      else this.finish(m.value);
    });
    child.on('error', (err) => {
      if (child === this.child) this.drop(`expression process failed: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      if (child !== this.child) return;
      // V8 aborts (SIGABRT, or 134 through a shell) when the heap limit is reached.
      const oom = signal === 'SIGABRT' || code === 134;
      this.drop(
        oom
          ? `expression exceeded its ${heapMb} MiB memory limit`
          : `expression process exited (${signal ?? code})`,
      );
    });
    hold(child, false);
    return child;
  }

  private finish(value: unknown, error?: Error): void {
    const job = this.active;
    if (!job) return;
    clearTimeout(this.timer);
    this.active = undefined;
    if (this.queue.length === 0 && this.child) hold(this.child, false);
    if (error) job.reject(error);
    else job.resolve(value);
    this.pump();
  }

  /** Over time: the running evaluation fails, the child goes, the queue moves to a new one. */
  private kill(reason: string): void {
    const child = this.child;
    this.drop(reason);
    child?.kill('SIGKILL');
  }

  /** The child is gone (killed, out of memory, crashed): fail what ran in it, start over for the rest. */
  private drop(reason: string): void {
    this.child = undefined;
    this.ready = false;
    if (!this.active) {
      this.pump();
      return;
    }
    this.restarts++;
    this.finish(undefined, new Error(reason));
  }
}

/** An idle child (and its IPC channel) must not keep the gateway's event loop alive. */
function hold(child: ChildProcess, on: boolean): void {
  const channel = child.channel as { ref(): void; unref(): void } | undefined;
  if (on) {
    child.ref();
    channel?.ref();
  } else {
    child.unref();
    channel?.unref();
  }
}
