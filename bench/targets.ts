/**
 * The performance targets as PASS/MISS lines, beside quoted reference figures (Paho's C++
 * MQTT-SN gateway, measured elsewhere, not here). The suites fill `results`; run.ts prints them last.
 */
import { fmt } from './util.js';

export const results: {
  durability?: string;
  idleMiB?: number;
  /** VmHWM of the gateway process that ran every MQTT-SN case and the drain. */
  peakMiB?: number;
  /** Rows in the drain the peak covers. */
  drainN?: number;
  memoryMax?: number;
  memoryMaxText?: string;
  /** MQTT-SN QoS 1 gateway CPU µs/msg and gw/direct ratio, by K. */
  cpuQos1: Map<number, number>;
  ratioQos1: Map<number, number>;
} = { cpuQos1: new Map(), ratioQos1: new Map() };

const MiB = (n: number) => `${fmt(n, 1)} MiB`;

function line(ok: boolean | undefined, what: string, got: string, target: string): string {
  const verdict = ok === undefined ? 'n/a ' : ok ? 'PASS' : 'MISS';
  return `  ${verdict}  ${what}: ${got} (target ${target})`;
}

export function printTargets(): void {
  const r = results;
  const powerLoss = r.durability === 'power-loss';
  const notHere = 'not measured in this run';
  const check = (v: number | undefined, ok: (v: number) => boolean, show: (v: number) => string) =>
    v === undefined || Number.isNaN(v) ? ([undefined, notHere] as const) : ([ok(v), show(v)] as const);
  const pl = (v: number | undefined) => (powerLoss ? v : undefined);

  console.log('\nPerformance targets (this run; power-loss cases only)');
  const out: string[] = [];
  let [ok, got] = check(
    pl(r.cpuQos1.get(20)),
    (v) => v <= 50,
    (v) => `${fmt(v, 1)} µs`,
  );
  out.push(line(ok, 'gateway CPU per message, K=20 QoS 1', got, '<= 50 µs'));
  [ok, got] = check(
    pl(r.ratioQos1.get(20)),
    (v) => v >= 0.6,
    (v) => fmt(v, 2),
  );
  out.push(line(ok, 'gw/direct K=20 QoS 1', got, '>= 0.6'));
  [ok, got] = check(
    pl(r.ratioQos1.get(200)),
    (v) => v >= 0.9,
    (v) => fmt(v, 2),
  );
  out.push(line(ok, 'gw/direct K=200 QoS 1', got, '>= 0.9'));
  [ok, got] = check(r.idleMiB, (v) => v <= 60, MiB);
  out.push(line(ok, 'idle RSS (VmRSS 5 s after start)', got, '<= 60 MiB'));
  [ok, got] = check(r.peakMiB, (v) => v <= 100, MiB);
  const through = `VmHWM through every case and a ${fmt(r.drainN ?? Number.NaN)}-row drain`;
  out.push(line(ok, `peak RSS (${through})`, got, '<= 100 MiB'));
  if (r.memoryMax === undefined) out.push('  MISS  peak < MemoryMax: no MemoryMax in the unit');
  else {
    [ok, got] = check(r.peakMiB, (v) => v * 2 ** 20 < r.memoryMax!, MiB);
    out.push(line(ok, 'peak RSS below the unit cap', got, `< MemoryMax=${r.memoryMaxText}`));
  }
  for (const l of out) console.log(l);
  if (!powerLoss) console.log(`  (durability ${r.durability}: the CPU and ratio targets are for power-loss)`);

  console.log(
    '\nReference, QUOTED (not measured here): Eclipse Paho MQTT-SN gateway (C++, keeps nothing on disk),',
  );
  console.log('same 2-core box, 20 devices, one QoS 1 message outstanding each:');
  console.log(
    '  19.6k-21.3k msg/s, gw/direct 0.56-0.73, 51-54 µs CPU per message, 5 MB peak RSS; K=200 gw/direct 0.80',
  );
}
