import { execFileSync } from 'node:child_process';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { allLimitsSummary, allLimitsVerdict, runAllLimits } from './all-limits.js';
import { randomSeed } from './prng.js';
import { runFuzz } from './scenario.js';
import { runStateFlood } from './state-flood.js';
import { unitLimits } from './unit-limits.js';
import { summary, verdict } from './verdict.js';

/**
 * `npm run fuzz [-- --seed N --count N --rate N --sockets N]`: the long MQTT-SN fuzz run against a
 * real gateway process (defaults: 1,000,000 datagrams at 8,000/s from 256 source ports).
 * `--tame` leaves out topics the broker refuses, to explore past the known uplink stall.
 * The gateway runs as the service does: the compiled CLI (built first) with the node flags of
 * systemd/fieldgate.service, and its peak RSS must stay under the unit's MemoryMax=.
 * `--tsx` runs gateway/cli/main.ts through tsx instead (no build; tsx adds its own loader heap).
 * Exit code 0 when every check in verdict.ts held, 1 otherwise.
 */
function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number, got ${process.argv[i + 1]}`);
  return v;
}

if (process.argv.includes('--all-limits')) {
  // Every store full at once (all-limits.ts): session state, downlink queues, inbox, outbox.
  const built = !process.argv.includes('--tsx');
  if (built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  const unit = unitLimits();
  const scaleArg = process.argv.indexOf('--scale');
  const scale = scaleArg < 0 ? 1 : Number(process.argv[scaleArg + 1]);
  if (!(scale > 0 && scale <= 1))
    throw new Error(`--scale wants a number in (0, 1], got ${process.argv[scaleArg + 1]}`);
  const r = await runAllLimits({
    scale,
    holdS: arg('hold', 60),
    node: { flags: unit.nodeFlags, env: unit.env, built },
    log: (l) => console.log(l),
  });
  if (!process.env.FUZZ_KEEP) cleanupTmpDirs();
  console.log(allLimitsSummary(r, unit.memoryMaxKb));
  const failures = allLimitsVerdict(r, unit.memoryMaxKb);
  for (const f of failures) console.log(`FAIL: ${f}`);
  console.log(failures.length ? 'FAILED' : 'PASSED');
  process.exit(failures.length ? 1 : 0);
}

if (process.argv.includes('--state')) {
  // The stateful attack instead: kept sessions x long registrations from many source addresses.
  const built = !process.argv.includes('--tsx');
  if (built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  const unit = unitLimits();
  const r = await runStateFlood({
    sources: arg('sources', 64),
    clientsPerSource: arg('clients', 16),
    registersPerClient: arg('registers', 1024),
    topicBytes: arg('topic-bytes', 128),
    node: { flags: unit.nodeFlags, env: unit.env, built },
    log: (l) => console.log(l),
  });
  if (!process.env.FUZZ_KEEP) cleanupTmpDirs();
  console.log(JSON.stringify(r, null, 2));
  const ok =
    r.exit?.code === 0 &&
    r.restartExit?.code === 0 &&
    r.hwmKb < (unit.memoryMaxKb ?? Number.POSITIVE_INFINITY) &&
    r.restartHwmKb < (unit.memoryMaxKb ?? Number.POSITIVE_INFINITY) &&
    r.restoredAfterRestart !== undefined &&
    r.restoredAfterRestart >= r.flood.connects &&
    r.restoredAfterRestart <= r.flood.connects + r.flood.connectUnanswered;
  console.log(
    `${ok ? 'PASSED' : 'FAILED'}: VmHWM ${r.hwmKb} kB, after restart ${r.restartHwmKb} kB, MemoryMax ${unit.memoryMaxKb} kB`,
  );
  process.exit(ok ? 0 : 1);
}

const seed = arg('seed', randomSeed()) >>> 0;
console.log(`fieldgate MQTT-SN fuzz, seed ${seed}`);
const built = !process.argv.includes('--tsx');
if (built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
const unit = unitLimits();
const report = await runFuzz({
  seed,
  count: arg('count', 1_000_000),
  rate: arg('rate', 8000),
  sockets: arg('sockets', 256),
  tame: process.argv.includes('--tame'),
  legitDevices: arg('devices', 4),
  legitMessages: arg('messages', 25),
  legitDeadlineMs: arg('deadline', 60_000),
  // FUZZ_NODE_FLAGS adds flags for a diagnosis, e.g. --heapsnapshot-signal=SIGUSR2 (snapshots land in the cwd).
  node: {
    flags: [...unit.nodeFlags, ...(process.env.FUZZ_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])],
    env: unit.env,
    built,
  },
  memoryMaxKb: unit.memoryMaxKb,
  log: (l) => console.log(l),
});
// FUZZ_KEEP=1 keeps the state dir (printed at start) for `fieldgate queue peek --dead -c <dir>/gw.yaml`.
if (!process.env.FUZZ_KEEP) cleanupTmpDirs();
console.log(summary(report));
const failures = verdict(report);
for (const f of failures) console.log(`FAIL: ${f}`);
console.log(failures.length ? `FAILED (seed ${seed})` : `PASSED (seed ${seed})`);
process.exit(failures.length ? 1 : 0);
