import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * JSONata evaluation off the main thread, with hard limits. An expression is data-driven: a payload
 * can make it recurse, loop or allocate without bound, and a single built-in call (a regex that
 * backtracks, a huge $sort) never yields, so no in-thread check can stop it. In a worker a timer on
 * the main thread can (terminate), and V8's heap limit for the worker ends only the worker. Either
 * way the evaluation fails, the gateway carries on, and the next evaluation gets a fresh worker.
 */
export interface SandboxLimits {
  /** Wall time for one evaluation; JSONata's own guard fails it at this point inside the worker. */
  maxMs: number;
  /** Evaluation depth (nested steps, recursion) at which JSONata's guard fails it. */
  maxDepth: number;
  /** The worker's old-generation heap. */
  heapMb: number;
}

interface Job {
  key: number;
  input: unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

type Reply = { ready: true } | { value: unknown } | { error: string };

/** Extra wall time past maxMs before the worker is killed: JSONata's guard normally fails it first. */
const KILL_GRACE_MS = 100;

/**
 * The worker's code, evaluated as a script (not a module file): the same text runs under tsx, vitest
 * and the built package alike. It only compiles and evaluates; the source was checked at load.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const jsonata = require(workerData.jsonata);
const options = { timeout: workerData.maxMs, stack: workerData.maxDepth };
const compiled = [];
// Results go back by structured clone; functions and JSONata lambdas (objects that refer to their
// environment) cannot, so they are left out, as JSON would leave out a function.
const isFunction = (x) =>
  typeof x === 'function' || (x !== null && typeof x === 'object' && (x._jsonata_lambda || x._jsonata_function));
const plain = (v) => {
  const s = JSON.stringify(v, (_k, x) => (isFunction(x) ? undefined : x));
  return s === undefined ? undefined : JSON.parse(s);
};
let chain = Promise.resolve();
parentPort.on('message', (m) => {
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
        err && err.code === 'D1011' ? 'expression too deep (over ' + workerData.maxDepth + ' levels)'
        : err && err.code === 'D1012' ? 'expression took over ' + workerData.maxMs + ' ms'
        : String((err && err.message) || err);
      parentPort.postMessage({ error });
      return;
    }
    try {
      parentPort.postMessage({ value });
    } catch {
      try {
        parentPort.postMessage({ value: plain(value) });
      } catch (err) {
        parentPort.postMessage({ error: 'expression result cannot be passed on: ' + err.message });
      }
    }
  });
});
parentPort.postMessage({ ready: true });
`;

export class ExpressionSandbox {
  private readonly keys = new Map<string, number>();
  private readonly sources: string[] = [];
  private readonly queue: Job[] = [];
  private worker: Worker | undefined;
  private ready = false;
  private active: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Workers ended by a limit (time or memory), for tests and the log. */
  restarts = 0;

  constructor(private readonly limits: SandboxLimits) {}

  /** A handle for `source` (compiled in the worker once per worker, whatever the number of rules using it). */
  register(source: string): number {
    let key = this.keys.get(source);
    if (key === undefined) {
      key = this.sources.length;
      this.sources.push(source);
      this.keys.set(source, key);
      if (this.worker) this.worker.postMessage({ key, source });
    }
    return key;
  }

  evaluate(key: number, input: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, input, resolve, reject });
      this.pump();
    });
  }

  /** One evaluation at a time: when the worker has to be killed, the one running is the culprit. */
  private pump(): void {
    if (this.active || this.queue.length === 0) return;
    const worker = this.worker ?? this.spawn();
    worker.ref(); // an evaluation waiting keeps the process alive (`fieldgate rules test`)
    if (!this.ready) return;
    const job = this.queue.shift()!;
    this.active = job;
    try {
      worker.postMessage({ key: job.key, input: job.input });
    } catch (err) {
      this.finish(undefined, new Error(`expression input cannot be passed on: ${(err as Error).message}`));
      return;
    }
    this.timer = setTimeout(
      () => this.kill(`expression took over ${this.limits.maxMs} ms`),
      this.limits.maxMs + KILL_GRACE_MS,
    );
  }

  private spawn(): Worker {
    const require = createRequire(import.meta.url);
    const worker = new Worker(WORKER_CODE, {
      eval: true,
      workerData: {
        jsonata: require.resolve('jsonata'),
        maxMs: this.limits.maxMs,
        maxDepth: this.limits.maxDepth,
      },
      resourceLimits: {
        maxOldGenerationSizeMb: this.limits.heapMb,
        maxYoungGenerationSizeMb: 4,
        stackSizeMb: 4,
      },
      // Not the main process's V8 flags (heap sizes): resourceLimits are the worker's.
      execArgv: [],
      stdout: false,
      stderr: false,
    });
    this.worker = worker;
    this.ready = false;
    this.sources.forEach((source, key) => {
      worker.postMessage({ key, source });
    });
    worker.on('message', (m: Reply) => {
      if (worker !== this.worker) return;
      if ('ready' in m) {
        this.ready = true;
        this.pump();
      } else if ('error' in m) this.finish(undefined, new Error(m.error));
      else this.finish(m.value);
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (worker !== this.worker) return;
      this.drop(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `expression exceeded its ${this.limits.heapMb} MiB memory limit`
          : `expression worker failed: ${err.message}`,
      );
    });
    worker.on('exit', () => {
      if (worker === this.worker) this.drop('expression worker exited');
    });
    worker.unref();
    return worker;
  }

  private finish(value: unknown, error?: Error): void {
    const job = this.active;
    if (!job) return;
    clearTimeout(this.timer);
    this.active = undefined;
    if (this.queue.length === 0) this.worker?.unref();
    if (error) job.reject(error);
    else job.resolve(value);
    this.pump();
  }

  /** Over time: the running evaluation fails, the worker goes, the queue moves to a new one. */
  private kill(reason: string): void {
    const worker = this.worker;
    this.drop(reason);
    void worker?.terminate();
  }

  /** The worker is gone (killed, out of memory, crashed): fail what ran in it, start over for the rest. */
  private drop(reason: string): void {
    this.worker = undefined;
    this.ready = false;
    if (!this.active) {
      this.pump();
      return;
    }
    this.restarts++;
    this.finish(undefined, new Error(reason));
  }
}
