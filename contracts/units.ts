import { z } from 'zod';

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const MS_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** "256MiB", "10 MB", 1048576 -> bytes. */
export function parseBytes(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m && BYTE_UNITS[m[2]!.toLowerCase()];
  return m && unit ? Math.round(Number(m[1]) * unit) : undefined;
}

/** "7d", "90s", "250ms", "1h30m" -> milliseconds. A bare number is seconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  const s = v.replace(/\s+/g, '');
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/i.test(s)) return undefined;
  let total = 0;
  for (const [, n, u] of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gi))
    total += Number(n) * MS_UNITS[u!.toLowerCase()]!;
  return total;
}

/** zod: byte size as number or string with unit, output in bytes. */
export const bytes = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseBytes(v);
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size like 256MiB, 10MB or a number of bytes, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return n;
  });

/** zod: duration as seconds (number) or string like 7d / 90s / 250ms, output in ms. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseDuration(v);
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like 30s, 5m, 7d or a number of seconds, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return n;
  });

/** zod: "host:port" / "[::1]:port" listen address. */
export const listenAddress = () =>
  z.string().transform((v, ctx) => {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) {
      ctx.addIssue({
        code: 'custom',
        message: `expected host:port like 127.0.0.1:1884 or [::1]:1884, got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return { host: (m[1] ?? m[2])!, port };
  });
