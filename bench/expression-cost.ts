/**
 * What an expression costs per reading: the `transform` shape of docs/configuration.md evaluated N times in a row
 * (as the uplink does, one reading at a time), in this thread with JSONata's own guard versus in
 * the sandbox child process (rules/expression-sandbox.ts), and the child's memory.
 * `node --max-semi-space-size=2 --max-old-space-size=96 --import tsx bench/expression-cost.ts`;
 * env BENCH_EXPR_N (20000).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type jsonata from 'jsonata';
import { ExpressionSandbox } from '../rules/expression-sandbox.js';

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

/** utime + stime of another process, in µs (clock ticks of 10 ms). */
function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function time(
  label: string,
  evaluate: (i: number) => Promise<unknown>,
  child?: () => number | undefined,
): Promise<void> {
  for (let i = 0; i < 2000; i++) await evaluate(i); // warm up (JIT, child start)
  const child0 = cpuOf(child?.());
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await evaluate(i);
  const wall = ((performance.now() - t0) * 1000) / n;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / n;
  const childUs = child ? `, ${((cpuOf(child()) - child0) / n).toFixed(1)} us/reading CPU of the child` : '';
  console.log(
    `${label}: ${wall.toFixed(1)} us/reading wall, ${cpuUs.toFixed(1)} us/reading CPU of the gateway${childUs}`,
  );
}

const require = createRequire(import.meta.url);
const lib = require('jsonata') as typeof jsonata;
const inThread = lib(source, { timeout: 250, stack: 500 } as never);
await time('in thread', (i) => inThread.evaluate(input(i)));
const box = new ExpressionSandbox({ maxMs: 250, maxDepth: 500, heapMb: 32 });
const key = box.register(source);
await time(
  'sandbox (child process)',
  (i) => box.evaluate(key, input(i)),
  () => box.pid,
);
const status = readFileSync(`/proc/${box.pid}/status`, 'utf8');
const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]);
const mib = (k: number) => (k / 1024).toFixed(0);
// RssFile is node's own binary, shared with the gateway's pages (the cgroup charges it once).
console.log(`child: RssAnon ${mib(kb('RssAnon'))} MiB, RssFile ${mib(kb('RssFile'))} MiB (shared)`);
process.exit(0);
