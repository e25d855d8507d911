import { frameTextStrict } from './types.js';
import { toValue } from './value.js';

// key, then : or =, then a "quoted" or bare value; pairs separated by spaces, commas or semicolons.
const PAIR = /[\s,;]*([^\s,;:="]+)\s*[:=]\s*("(?:[^"\\]|\\.)*"|[^\s,;"]+)[\s,;]*/y;

/**
 * `temp:25 humi:47`, `temp=25,humi=47`, `name="shed 2"; temp: 25`. Bare numbers become numbers,
 * quoted values stay text. Anything that is not a pair makes the whole frame unparsable: half a
 * frame after line noise should not be published as if it were complete.
 */
export function decodeKv(frame: Buffer): Record<string, unknown> | undefined {
  const text = frameTextStrict(frame);
  if (text === undefined) return undefined;
  const fields: Record<string, unknown> = {};
  PAIR.lastIndex = 0;
  let pos = 0;
  let n = 0;
  while (pos < text.length) {
    PAIR.lastIndex = pos;
    const m = PAIR.exec(text);
    if (!m) return undefined;
    const raw = m[2]!;
    fields[m[1]!] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : toValue(raw);
    pos = PAIR.lastIndex;
    n++;
  }
  return n > 0 ? fields : undefined;
}
