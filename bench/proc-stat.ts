/** CPU time and memory of another process, from /proc (Linux): what the bench reads of the gateway. */
import { readFileSync } from 'node:fs';

const HZ = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** utime + stime of every thread of `pid`, in seconds (10 ms resolution). */
export function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After comm, state is index 0, so utime (field 14) is index 11 and stime (15) index 12.
  return (Number(f[11]) + Number(f[12])) / HZ;
}

/** VmRSS (resident now) and VmHWM (peak resident since start) of `pid`, in MiB. */
export function procRssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
    return Number(m[1]) / 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}
