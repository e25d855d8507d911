import { frameTextStrict } from './types.js';

/** One JSON object per frame; arrays, scalars and broken JSON are unparsable. */
export function decodeJson(frame: Buffer): Record<string, unknown> | undefined {
  try {
    const text = frameTextStrict(frame);
    if (text === undefined) return undefined;
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
