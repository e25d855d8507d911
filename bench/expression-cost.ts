/**
 * What an expression costs per reading: the README's `transform` shape evaluated N times in a row
 * (as the uplink does, one reading at a time), in this thread with JSONata's own guard versus in
 * the sandbox worker (rules/expression-sandbox.ts). `node --import tsx bench/expression-cost.ts`;
 * env BENCH_EXPR_N (20000).
 */
import { createRequire } from 'node:module';
import type jsonata from 'jsonata';
import { compileExpression } from '../rules/expression.js';

const n = Number(process.env.BENCH_EXPR_N ?? 20_000);
const source = "{ 'c': payload, 'dev': device, 'hot': payload > 30 }";
const input = (i: number) => ({
  topic: 'sensors/dev-1/temp',
  device: 'dev-1',
  source: 'mqttsn',
  gateway: 'gw1',
  qos: 1,
  retain: false,
  receivedAt: 1_700_000_000_000 + i,
  payload: 20 + (i % 15),
  fields: {},
  captures: { device: 'dev-1' },
});

async function time(label: string, evaluate: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2000; i++) await evaluate(i); // warm up (JIT, worker start)
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await evaluate(i);
  const wall = ((performance.now() - t0) * 1000) / n;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / n;
  console.log(`${label}: ${wall.toFixed(1)} us/reading wall, ${cpuUs.toFixed(1)} us/reading CPU (process)`);
}

const require = createRequire(import.meta.url);
const lib = require('jsonata') as typeof jsonata;
const inThread = lib(source, { timeout: 250, stack: 500 } as never);
await time('in thread', (i) => inThread.evaluate(input(i)));
const before = process.memoryUsage().rss;
const problems = { list: [] as unknown[], add: () => undefined };
const boxed = compileExpression(source, problems as never, ['bench'])!;
await time('sandbox worker', (i) => boxed.evaluate(input(i)));
const mib = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(`rss ${mib(before)} MiB before the worker, ${mib(process.memoryUsage().rss)} MiB with it`);
