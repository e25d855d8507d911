/**
 * npm run bench [-- --only mqttsn,drain,cold,wire,wear] (or BENCH_CASES=wear); BENCH_QUICK=1 for small N.
 * Prints figures and the performance targets as PASS/MISS lines; never asserts timings (they depend on the
 * machine and its load). The MQTT-SN and drain suites measure one gateway process (bench/rig.ts) run
 * with the node flags and environment of systemd/fieldgate.service.
 */
import { relative } from 'node:path';
import { cleanupTmpDirs } from '../test/harness/tmp.js';
import { coldStartBench } from './cold-start.js';
import { drainBench } from './drain.js';
import { ROOT } from './dist-fresh.js';
import { UNIT_FILE, unitSettings } from './gateway-proc.js';
import { mqttsnBench } from './mqttsn.js';
import { DURABILITY, type Rig, startRig, stopRig } from './rig.js';
import { printTargets, results } from './targets.js';
import { fmt, progress, QUICK, sleep } from './util.js';
import { wearBench } from './wear.js';
import { wireBytesBench } from './wire-bytes.js';

/** In this order, through the one gateway process of the rig. */
const rigSuites: Record<string, (rig: Rig) => Promise<void>> = { mqttsn: mqttsnBench, drain: drainBench };
/** Each with a setup of its own (cold start spawns its own gateway process, wire bytes runs the client in-process). */
const plainSuites: Record<string, () => Promise<void>> = {
  cold: coldStartBench,
  wire: wireBytesBench,
  wear: wearBench,
};
const suites = { ...rigSuites, ...plainSuites };
const i = process.argv.indexOf('--only');
const only = (i >= 0 ? process.argv[i + 1] : process.env.BENCH_CASES)?.split(',');
const bad = only?.filter((s) => !(s in suites));
if (bad?.length)
  throw new Error(`unknown suite(s) ${bad.join(', ')}; expected ${Object.keys(suites).join('|')}`);
const wanted = Object.keys(suites).filter((s) => !only || only.includes(s));

console.log(`fieldgate bench: node ${process.version}, ${QUICK ? 'quick' : 'full'} run`);
const unit = unitSettings();
const env = Object.entries(unit.env).map(([k, v]) => `${k}=${v}`);
console.log(
  `gateway process: node ${unit.nodeFlags.join(' ') || '(no flags)'} bin/fieldgate.js run -c <bench config>` +
    `\n  from ${UNIT_FILE.startsWith(ROOT) ? relative(ROOT, UNIT_FILE) : UNIT_FILE}: ExecStart node flags ${unit.nodeFlags.length ? unit.nodeFlags.join(' ') : '(none)'};` +
    ` Environment ${env.join(' ') || '(none)'}; MemoryMax=${unit.memoryMaxText ?? '(none)'}`,
);
results.durability = DURABILITY;
results.memoryMax = unit.memoryMax;
results.memoryMaxText = unit.memoryMaxText;

try {
  const rigWanted = wanted.filter((s) => s in rigSuites);
  if (rigWanted.length) {
    const inflight = Number((process.env.BENCH_WINDOWS ?? '32').split(',')[0]);
    const rig = await startRig(inflight);
    await sleep(5000); // settle: what an idle gateway holds, not its start-up transients
    const idle = rig.gw.rss();
    results.idleMiB = idle.rss;
    console.log(
      `\ngateway idle (5 s after start, upstream connected, no devices): VmRSS ${fmt(idle.rss, 1)} MiB, VmHWM ${fmt(idle.hwm, 1)} MiB`,
    );
    try {
      for (const s of rigWanted) await rigSuites[s]!(rig);
      const { hwm } = rig.gw.rss();
      // Only a run through every case and the full drain is the peak the memory target is about.
      if (rigWanted.length === Object.keys(rigSuites).length) results.peakMiB = hwm;
      const cap = unit.memoryMax
        ? ` of MemoryMax ${fmt(unit.memoryMax / 2 ** 20)} MiB`
        : ' (no MemoryMax in unit)';
      console.log(
        `\ngateway peak RSS (VmHWM of the one process through ${rigWanted.join(' and ')}): ${fmt(hwm, 1)} MiB${cap}`,
      );
    } finally {
      await stopRig(rig);
      progress('rig stopped');
    }
  }
  for (const s of wanted) await plainSuites[s]?.();
  printTargets();
} finally {
  cleanupTmpDirs();
  // Backstop only: every suite closes what it opened, so nothing should hold the event loop now. If
  // something does, say what (so it gets fixed) and exit rather than hang; unref'd, so a clean run
  // exits at once without it firing.
  setTimeout(() => {
    const held = process.getActiveResourcesInfo().join(', '); // this timer is one of them
    console.error(`bench: the event loop is still held by: ${held}`);
    process.exit(process.exitCode ?? 1);
  }, 2000).unref();
}
