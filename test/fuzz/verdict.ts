import type { FuzzReport } from './scenario.js';

/**
 * RSS bound for the gateway during and after the barrage, above its own baseline (measured after
 * start-up and a first round of clean devices). See README.md in this folder for why this value.
 */
export const RSS_GROWTH_LIMIT_KB = 160 * 1024;

/** Growth allowed from the second quarter of the barrage to the last (see lateGrowthKb). */
export const RSS_LATE_GROWTH_LIMIT_KB = 32 * 1024;

/**
 * Lowest RSS in the last quarter of the barrage minus lowest RSS in its second quarter. Lows, not
 * peaks or single samples: right after a major GC the RSS is closest to what is live, so the GC's
 * sawtooth (40+ MB at 20,000 datagrams/s) does not count as growth, and a leak does (100 bytes a
 * datagram over the last half of 1,000,000 datagrams is 48 MiB).
 */
export function lateGrowthKb(r: FuzzReport): number {
  const n = r.barrage?.sent ?? 0;
  const low = (lo: number, hi: number) => {
    const kbs = r.rssTimeline.filter(([s, kb]) => kb > 0 && s >= lo * n && s < hi * n).map(([, kb]) => kb);
    return kbs.length ? Math.min(...kbs) : 0;
  };
  return Math.max(0, low(0.75, 1.01) - low(0.25, 0.5));
}

/** Sum of fieldgate_messages_dropped_total{source="mqttsn",...} over every reason. */
export function mqttsnDrops(metrics: string[]): number {
  let n = 0;
  for (const l of metrics) {
    const m = /^fieldgate_messages_dropped_total\{[^}]*source="mqttsn"[^}]*\} (\d+)/.exec(l);
    if (m) n += Number(m[1]);
  }
  return n;
}

/** What must hold after a fuzz run; each string is one failure, empty = passed. */
export function verdict(r: FuzzReport): string[] {
  const fail: string[] = [];
  if (r.exit) fail.push(`gateway exited during the run: ${JSON.stringify(r.exit)}; stderr: ${r.stderrTail}`);
  if (r.barrage?.stoppedEarly) fail.push(`barrage stopped early at ${r.barrage.sent} datagrams`);
  // Guard against a vacuous pass (datagrams that never reached the gateway): it must have answered
  // the devices and counted most of the garbage as drops (about 15 % and 80 % measured).
  const sent = r.barrage?.sent ?? 0;
  if (r.barrage && r.barrage.replies < sent / 100)
    fail.push(`only ${r.barrage.replies} replies to ${sent} datagrams: did the barrage reach the gateway?`);
  const drops = mqttsnDrops(r.metrics);
  if (r.barrage && drops < sent / 4)
    fail.push(
      `only ${drops} MQTT-SN drops counted for ${sent} datagrams: did the barrage reach the gateway?`,
    );
  const limit = r.rssKb.baseline + RSS_GROWTH_LIMIT_KB;
  if (r.rssKb.peak > limit)
    fail.push(
      `peak RSS ${r.rssKb.peak} kB above ${limit} kB (baseline ${r.rssKb.baseline} + ${RSS_GROWTH_LIMIT_KB})`,
    );
  if (r.rssKb.after > limit) fail.push(`RSS after ${r.rssKb.after} kB above ${limit} kB`);
  // The unit's cap: above MemoryMax= the kernel OOM-kills the service and systemd restarts it, so a
  // flood the gateway survives here would become a restart loop there. VmHWM counts file-backed
  // pages too (the node binary's), which the cgroup could reclaim: a stricter check than the kernel's.
  if (r.memoryMaxKb !== undefined && r.hwmKb > r.memoryMaxKb)
    fail.push(`peak RSS (VmHWM) ${r.hwmKb} kB above the unit's MemoryMax= ${r.memoryMaxKb} kB`);
  const late = lateGrowthKb(r);
  if (late > RSS_LATE_GROWTH_LIMIT_KB)
    fail.push(`RSS still growing: +${late} kB from the second to the last quarter of the barrage`);
  if (!r.before || r.before.errors.length)
    fail.push(`clean devices failed BEFORE the barrage (setup): ${JSON.stringify(r.before)}`);
  if (!r.after) fail.push('clean devices did not run after the barrage');
  else {
    if (r.after.connected !== r.after.devices)
      fail.push(`after: ${r.after.connected}/${r.after.devices} clean devices connected`);
    if (r.after.acked !== r.after.expected)
      fail.push(`after: ${r.after.acked}/${r.after.expected} QoS 1 messages acknowledged`);
    if (r.after.delivered !== r.after.expected)
      fail.push(`after: ${r.after.delivered}/${r.after.expected} QoS 1 messages reached the subscriber`);
    for (const e of r.after.errors) fail.push(`after: ${e}`);
  }
  const fatal = r.errorLines.filter((l) => Number(l.level) >= 60);
  if (fatal.length) fail.push(`fatal log lines: ${JSON.stringify(fatal.slice(0, 3))}`);
  return fail;
}

/** A human-readable summary of a run (the fuzz CLI prints it; the test prints it on failure). */
export function summary(r: FuzzReport): string {
  const b = r.barrage;
  const lines = [`seed ${r.seed} (rerun: npm run fuzz -- --seed ${r.seed}${b ? ` --count ${b.sent}` : ''})`];
  if (b)
    lines.push(
      `sent ${b.sent} datagrams (${(b.bytes / 1e6).toFixed(1)} MB) in ${(b.ms / 1000).toFixed(1)} s = ${Math.round((b.sent / b.ms) * 1000)}/s; send errors ${b.sendErrors}; replies ${b.replies}`,
      `kinds: ${JSON.stringify(b.kinds)}`,
      `dropped by the kernel (gateway's receive buffer full): ${r.kernelDrops}; reached the gateway: ~${b.sent - r.kernelDrops}`,
    );
  lines.push(
    `RSS kB: baseline ${r.rssKb.baseline}, peak ${r.rssKb.peak}, after ${r.rssKb.after}, late growth ${lateGrowthKb(r)} (${r.rssKb.samples} samples)`,
    `VmHWM ${r.hwmKb} kB, MemoryMax ${r.memoryMaxKb ?? 'none'} kB; gateway ${r.node.built ? 'bin/fieldgate.js' : 'tsx'} ${r.node.flags.join(' ') || '(no node flags)'}`,
    `clean devices before: ${JSON.stringify(r.before)}`,
    `clean devices after:  ${JSON.stringify(r.after)}`,
    `gateway log lines by level: ${JSON.stringify(r.logCounts)}`,
    ...Object.entries(r.warnings).map(([m, n]) => `  ${n} x ${m}`),
    'first of each:',
    ...r.examples.slice(0, 20).map((l) => `  ${JSON.stringify(l).slice(0, 600)}`),
    'broker log (by kind):',
    ...r.brokerLog.slice(0, 10).map((l) => `  ${l}`),
    'oldest outbox rows at the end:',
    ...r.outboxHead.map((l) => `  ${l}`),
    'metrics:',
    ...r.metrics.map((m) => `  ${m}`),
  );
  if (r.exit || b?.stoppedEarly)
    lines.push(
      `gateway exit: ${JSON.stringify(r.exit)}`,
      `stderr tail: ${r.stderrTail}`,
      'last datagrams sent (seq, source port, hex):',
      ...(b?.last ?? []).map((d) => `  ${d.seq} ${d.srcPort} ${d.hex.slice(0, 400)}`),
    );
  return lines.join('\n');
}
