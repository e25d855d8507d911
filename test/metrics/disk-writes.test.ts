import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskWriteRate, processBytesWritten } from '../../gateway/metrics/disk-writes.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

describe('disk writes per day', () => {
  it('reads write_bytes from an io file, and nothing from a missing one', () => {
    const file = join(tmpDir(), 'io');
    writeFileSync(file, 'rchar: 10\nwchar: 20\nwrite_bytes: 123456\ncancelled_write_bytes: 0\n');
    expect(processBytesWritten(file)).toBe(123_456);
    expect(processBytesWritten(join(tmpDir(), 'none'))).toBeUndefined();
  });

  it('scales the rate since the oldest sample of the last hour to a day, on a monotonic clock', () => {
    let now = 0;
    let bytes = 1_000_000;
    const rate = new DiskWriteRate(
      () => bytes,
      () => now,
    );
    expect(rate.perDay()).toBeUndefined(); // no time has passed
    now = 60_000;
    bytes += 60 * 4096; // a 4 KiB commit a second for a minute
    expect(rate.perDay()).toBeCloseTo(4096 * 86_400, -3);
    // Two hours on at a tenth of the rate: the first hour's samples have aged out.
    for (let m = 0; m < 120; m++) {
      now += 60_000;
      bytes += 6 * 4096;
      rate.perDay();
    }
    expect(rate.perDay()).toBeCloseTo(((6 * 4096) / 60) * 86_400, -4);
  });

  it('is unknown without io counters', () => {
    expect(new DiskWriteRate(() => undefined).perDay()).toBeUndefined();
  });
});
