import { readFileSync } from 'node:fs';

/* What the fuzz run reads from Linux's /proc about the gateway and the UDP stack. */

/** Linux's count of UDP datagrams dropped for a full receive buffer (system-wide). */
export function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const [names, values] = lines.map((l) => l.split(/\s+/));
    return Number(values?.[names?.indexOf('RcvbufErrors') ?? -1] ?? 0);
  } catch {
    return 0;
  }
}

/** VmRSS of a process in kB, or undefined when it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** VmHWM (peak RSS since the process started) in kB, or undefined when it is gone. */
export function hwmKb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
