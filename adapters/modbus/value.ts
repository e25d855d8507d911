import type { RawValue } from './codec.js';
import type { PointType } from './config.js';

/** A point's published value: what rules see (`fields`) and its exact text (payloads). */
export interface PointValue {
  value: number | boolean | string;
  /** Decimal text without float noise (123456 x 0.01 -> "1234.56"); exact for 64-bit integers. */
  text: string;
  /** How it goes into a JSON payload: a number as its text (exact beyond 2^53 too), else as JSON. */
  kind: 'number' | 'boolean' | 'string';
}

export interface Scaling {
  scale: number;
  offset: number;
  decimals?: number | undefined;
}

/**
 * Raw -> engineering value: raw * scale + offset, printed without float noise. A float32 is first
 * reduced to the shortest decimal that reads back as the same float32 (230.1, not 230.10000610351562);
 * the product is then rounded to the decimals its factors can carry (123456 * 0.01 has 2).
 */
export function toValue(raw: RawValue, type: PointType, s: Scaling): PointValue {
  if (typeof raw === 'boolean') return { value: raw, text: raw ? 'true' : 'false', kind: 'boolean' };
  if (typeof raw === 'string') return { value: raw, text: raw, kind: 'string' };
  if (typeof raw === 'bigint' && s.scale === 1 && s.offset === 0 && s.decimals === undefined) {
    const safe = raw >= BigInt(Number.MIN_SAFE_INTEGER) && raw <= BigInt(Number.MAX_SAFE_INTEGER);
    return { value: safe ? Number(raw) : raw.toString(), text: raw.toString(), kind: 'number' };
  }
  const base = type === 'float32' ? shortestFloat32(Number(raw)) : Number(raw);
  if (!Number.isFinite(base)) return { value: String(base), text: String(base), kind: 'string' }; // NaN: no JSON number
  let v = base * s.scale + s.offset;
  const places = s.decimals ?? Math.min(decimalsOf(base) + decimalsOf(s.scale), 15);
  v = roundTo(v, Math.max(places, s.decimals === undefined ? decimalsOf(s.offset) : 0));
  if (Object.is(v, -0)) v = 0;
  return { value: v, text: numberText(v), kind: 'number' };
}

/** Engineering value from a command -> raw value to encode (the inverse of toValue). */
export function toRaw(value: unknown, type: PointType, s: Scaling): RawValue {
  if (type === 'bool') {
    if (value === true || value === 1 || value === '1' || value === 'true' || value === 'on') return true;
    if (value === false || value === 0 || value === '0' || value === 'false' || value === 'off') return false;
    throw new RangeError(`${JSON.stringify(value)} is not a boolean (true/false, 1/0, on/off)`);
  }
  if (type === 'string') {
    if (typeof value !== 'string') throw new RangeError(`${JSON.stringify(value)} is not a string`);
    return value;
  }
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  if (!Number.isFinite(n)) throw new RangeError(`${JSON.stringify(value)} is not a number`);
  const raw = (n - s.offset) / s.scale;
  if (type === 'float32' || type === 'float64') return raw;
  // 12.34 / 0.01 is 1233.9999999999998: round what float noise made fractional, refuse a real fraction.
  const rounded = Math.round(raw);
  if (Math.abs(raw - rounded) > 1e-6 * Math.max(1, Math.abs(raw)))
    throw new RangeError(`${n} is not a whole number of ${s.scale} steps for ${type}`);
  return type === 'int64' || type === 'uint64' ? BigInt(rounded) : rounded;
}

/** Digits after the decimal point of a number's shortest text (1e-7 -> 7). */
export function decimalsOf(n: number): number {
  const m = /^-?\d*(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(n));
  if (!m) return 0;
  return Math.max(0, (m[1]?.length ?? 0) - Number(m[2] ?? 0));
}

function roundTo(v: number, places: number): number {
  if (places > 15) return v;
  return Number(v.toFixed(places));
}

function shortestFloat32(f: number): number {
  if (!Number.isFinite(f)) return f;
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}

/** Plain decimal text (no exponent for ordinary meter values). */
function numberText(v: number): string {
  const s = String(v);
  if (!/e/.test(s) || Math.abs(v) >= 1e21) return s;
  return v.toFixed(Math.min(decimalsOf(v), 20));
}
