/**
 * SD-card wear: bytes the gateway makes the disk write per reading. K MQTT-SN devices each send one
 * QoS 1 reading of a few bytes a second, at random phases, through the real gateway process (the
 * unit's node flags, default store config but for durability) to a real mosquitto. Counted over the
 * measured window: the process's /proc/<pid>/io write_bytes (what it dirtied: WAL, database, -shm,
 * logs) and the sectors written on the block device holding its state dir (/sys/.../stat; shared
 * with every other process of the machine, so indicative only; it includes the filesystem journal).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { tmpDir } from '../test/harness/tmp.js';
import { BenchGateway } from './gateway-proc.js';
import { runLoad } from './procs.js';
import { upstreamOnline } from './rig.js';
import { fmt, percentile, progress, QUICK, table } from './util.js';

/** write_bytes of /proc/<pid>/io. */
export function procWriteBytes(pid: number): number {
  const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no write_bytes in /proc/${pid}/io`);
  return Number(m[1]);
}

/** The /sys stat file of the block device holding `dir`, or undefined (tmpfs, overlay, no /sys). */
function blockStatFile(dir: string): string | undefined {
  const dev = statSync(realpathSync(dir)).dev;
  // Linux dev_t: major in bits 8-19 and 32+, minor in bits 0-7 and 20-31.
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 2 ** 20) & 0xfff) << 8);
  const file = `/sys/dev/block/${major}:${minor}/stat`;
  try {
    readFileSync(file);
    return file;
  } catch {
    return undefined;
  }
}

/** Bytes written to the device so far (field 7, sectors written, is in 512-byte units). */
function deviceWrittenBytes(file: string | undefined): number {
  if (!file) return Number.NaN;
  return Number(readFileSync(file, 'utf8').trim().split(/\s+/)[6]) * 512;
}

interface WearRow {
  durability: string;
  k: number;
  readings: number;
  ms: number;
  perReading: number;
  devPerReading: number;
  p50: number;
  p99: number;
  retries: number;
}

export const wearRows: WearRow[] = [];

async function wearCase(brokerUrl: string, durability: string, k: number, ms: number, warm: number) {
  const stateDir = join(tmpDir('fieldgate-bench-wear-'), 'state');
  const storeExtra = process.env.BENCH_STORE_EXTRA; // e.g. "commit_interval: 1s"
  const gw = await BenchGateway.start({
    brokerUrl,
    inflight: 32,
    durability,
    id: 'wear',
    stateDir,
    ...(storeExtra && { storeExtra }),
  });
  try {
    await upstreamOnline(brokerUrl, 'fieldgate/wear/status');
    const blk = blockStatFile(stateDir);
    let w0 = 0;
    let d0 = 0;
    progress(`wear ${durability} k=${k}`);
    const r = await runLoad(['snwear', String(gw.port), String(k), String(ms), String(warm)], () => {
      w0 = procWriteBytes(gw.pid);
      d0 = deviceWrittenBytes(blk);
    });
    const written = procWriteBytes(gw.pid) - w0;
    const dev = deviceWrittenBytes(blk) - d0;
    const n = Math.max(1, r.acked);
    const row: WearRow = {
      durability,
      k,
      readings: r.acked,
      ms: r.ms,
      perReading: written / n,
      devPerReading: dev / n,
      p50: percentile(r.lat, 50),
      p99: percentile(r.lat, 99),
      retries: r.retries,
    };
    wearRows.push(row);
    return row;
  } finally {
    await gw.stop();
  }
}

/** Targets by readings per second: bytes per reading (write_bytes). */
const TARGET: Record<number, number> = { 1: 5 * 1024, 10: 1.5 * 1024, 100: 500 };

export async function wearBench(): Promise<void> {
  const ms = Number(process.env.BENCH_WEAR_MS ?? (QUICK ? 10_000 : 25_000));
  const warm = Number(process.env.BENCH_WEAR_WARM_MS ?? 3000);
  const ks = (process.env.BENCH_WEAR_K ?? '1,10,100').split(',').map(Number);
  const modes = (process.env.BENCH_WEAR_DURABILITY ?? 'power-loss,process-crash').split(',');
  const broker = await Mosquitto.start();
  const rows = [
    [
      'durability',
      'readings/s',
      'readings',
      'write_bytes/reading',
      'device bytes/reading',
      'per day (write_bytes)',
      'ack p50 ms',
      'ack p99 ms',
      'resent',
      'target',
    ],
  ];
  try {
    for (const durability of modes)
      for (const k of ks) {
        const r = await wearCase(broker.url, durability, k, ms, warm);
        const rate = (r.readings / r.ms) * 1000;
        const target = TARGET[k];
        const verdict =
          target === undefined
            ? ''
            : `${r.perReading <= target && r.p99 <= 1000 ? 'PASS' : 'MISS'} <= ${fmt(target)} B, p99 <= 1 s`;
        rows.push([
          durability,
          fmt(rate, 1),
          String(r.readings),
          fmt(r.perReading),
          fmt(r.devPerReading),
          `${fmt((r.perReading * rate * 86400) / 2 ** 30, 2)} GiB`,
          fmt(r.p50, 1),
          fmt(r.p99, 1),
          String(r.retries),
          verdict,
        ]);
      }
  } finally {
    await broker.stop();
  }
  table(
    `SD-card wear: K devices, one QoS 1 reading of a few bytes a second each at random phases, ${ms / 1000} s after ${warm / 1000} s warm-up; a fresh gateway and state dir per row`,
    rows,
  );
  console.log(
    '  write_bytes: the gateway process, /proc/<pid>/io. device bytes: sectors written on the block device of its state dir',
  );
  console.log(
    '  (the whole device, shared with every other process here, so indicative only; includes the ext4 journal).',
  );
}
