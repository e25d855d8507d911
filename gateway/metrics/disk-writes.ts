import { readFileSync } from 'node:fs';

/**
 * Bytes this process made the disk write (write_bytes of /proc/self/io: the WAL, the database, the
 * -shm and anything else it wrote), or undefined where there is no such file (not Linux, or
 * /proc hidden). Page-granular: a 20-byte reading in a fsync'd commit still costs whole 4 KiB pages.
 */
export function processBytesWritten(file = '/proc/self/io'): number | undefined {
  try {
    const m = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples kept: one a minute, so the rate covers the last hour (a fresh start: since start). */
const SAMPLES = 60;
const SAMPLE_EVERY_MS = 60_000;

/**
 * "Disk writes per day" for the status page: the write rate of the last hour (or since start),
 * scaled to a day. Times from a monotonic clock: a wall-clock step must not fake a rate.
 */
export class DiskWriteRate {
  private readonly samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly read: () => number | undefined = processBytesWritten,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sample();
  }

  /** Bytes written per day at the recent rate; undefined without io counters or before any time passed. */
  perDay(): number | undefined {
    const last = this.samples.at(-1);
    if (last === undefined || this.now() - last.at >= SAMPLE_EVERY_MS) this.sample();
    const bytes = this.read();
    const first = this.samples[0];
    if (bytes === undefined || first === undefined) return undefined;
    const ms = this.now() - first.at;
    if (ms <= 0) return undefined;
    return ((bytes - first.bytes) / ms) * 86_400_000;
  }

  private sample(): void {
    const bytes = this.read();
    if (bytes === undefined) return;
    this.samples.push({ at: this.now(), bytes });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }
}
