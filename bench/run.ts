/**
 * npm run bench [-- --only drain|cold|mqttsn|wire]; BENCH_QUICK=1 for small N.
 * Prints figures; never asserts timings (they depend on the machine and its load).
 */
import { cleanupTmpDirs } from '../test/harness/tmp.js';
import { coldStartBench } from './cold-start.js';
import { drainBench } from './drain.js';
import { mqttsnBench } from './mqttsn.js';
import { wireBytesBench } from './wire-bytes.js';

const suites: Record<string, () => Promise<void>> = {
  drain: drainBench,
  cold: coldStartBench,
  mqttsn: mqttsnBench,
  wire: wireBytesBench,
};
const i = process.argv.indexOf('--only');
const only = i >= 0 ? process.argv[i + 1]?.split(',') : undefined;
const bad = only?.filter((s) => !(s in suites));
if (bad?.length)
  throw new Error(`unknown suite(s) ${bad.join(', ')}; expected ${Object.keys(suites).join('|')}`);

console.log(
  `fieldgate bench: node ${process.version}, ${process.env.BENCH_QUICK === '1' ? 'quick' : 'full'} run`,
);
try {
  for (const [name, run] of Object.entries(suites)) if (!only || only.includes(name)) await run();
} finally {
  cleanupTmpDirs();
}
