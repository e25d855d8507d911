import { redactValue } from './redact.js';

export interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
}

/** At most this many entries: a diff in the audit trail is a summary, not a copy of the config. */
const MAX_CHANGES = 100;

/** Leaf-level differences between two raw configs, secrets redacted (for the audit trail). */
export function configDiff(from: unknown, to: unknown): Change[] {
  const out: Change[] = [];
  walk(from, to, [], out);
  return out.slice(0, MAX_CHANGES);
}

function walk(a: unknown, b: unknown, path: (string | number)[], out: Change[]): void {
  if (out.length >= MAX_CHANGES) return;
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[k], b[k], [...path, k], out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], [...path, i], out);
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const c: Change = { path: path.join('.') };
  if (a !== undefined) c.from = redactDeep(path, a);
  if (b !== undefined) c.to = redactDeep(path, b);
  out.push(c);
}

function redactDeep(path: (string | number)[], v: unknown): unknown {
  if (isObject(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactDeep([...path, k], x)]));
  if (Array.isArray(v)) return v.map((x, i) => redactDeep([...path, i], x));
  return redactValue(path, v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
