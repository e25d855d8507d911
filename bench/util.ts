/** Shared bench helpers: quiet logger, RSS sampling, CPU time, percentiles, a compact table. */
import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export const QUICK = process.env.BENCH_QUICK === '1';

export const silent: Logger = pino({ level: 'silent' });

/** Samples process RSS every 100 ms; peak() is the highest seen (MiB). */
export class RssSampler {
  private max = process.memoryUsage().rss;
  // unref: a sampler nobody stopped (a phase restarted) must not keep the bench from exiting.
  private readonly timer = setInterval(() => {
    this.max = Math.max(this.max, process.memoryUsage().rss);
  }, 100).unref();

  peak(): number {
    clearInterval(this.timer);
    this.max = Math.max(this.max, process.memoryUsage().rss);
    return this.max / 2 ** 20;
  }
}

/** Wall time, CPU seconds and peak RSS of one measured phase. */
export interface Phase {
  ms: number;
  cpuS: number;
  rssMiB: number;
}

export function startPhase(): () => Phase {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const rss = new RssSampler();
  return () => {
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuS: (c.user + c.system) / 1e6, rssMiB: rss.peak() };
  };
}

/**
 * CPU seconds the whole machine (every core, every process) spent busy since the call, read from
 * /proc/stat; NaN where there is none. On a shared box this is what bounds a ratio: load, broker,
 * subscriber and gateway all draw on the same cores.
 */
export function machineCpu(): () => number {
  const read = (): [busy: number, all: number] | undefined => {
    try {
      const f = readFileSync('/proc/stat', 'utf8')
        .split('\n', 1)[0]!
        .trim()
        .split(/\s+/)
        .slice(1)
        .map(Number);
      const all = f.reduce((a, b) => a + b, 0);
      return [all - f[3]! - f[4]!, all];
    } catch {
      return undefined;
    }
  };
  const t0 = read();
  const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
  return () => {
    const t1 = read();
    return t0 && t1 ? (t1[0] - t0[0]) / hz : Number.NaN;
  };
}

/** Nearest-rank percentile of an unsorted array (sorted in place). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints rows as an aligned table (first row is the header). */
export function table(title: string, rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(rows[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** BENCH_VERBOSE=1: timestamps of suite steps on stderr (to see where time goes). */
export function progress(what: string): void {
  if (process.env.BENCH_VERBOSE === '1') console.error(`[${(performance.now() / 1000).toFixed(2)}s] ${what}`);
}
