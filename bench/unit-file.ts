/**
 * What the bench takes from systemd/fieldgate.service, so the gateway under test runs the way the unit
 * ships it: the node flags of ExecStart (tokens between the node binary and the script), the
 * Environment= assignments, and MemoryMax=. Pure: text in, values out.
 */

export interface UnitSettings {
  /** Tokens between the node binary and the script in ExecStart= (e.g. --max-old-space-size=64). */
  nodeFlags: string[];
  /** Environment= assignments, in order (a later one wins). */
  env: Record<string, string>;
  /** MemoryMax= in bytes; undefined when the unit sets none (or "infinity"). */
  memoryMax: number | undefined;
  /** MemoryMax= as written, for printing. */
  memoryMaxText: string | undefined;
}

/** Splits a systemd command line or assignment list into words: quotes group, backslash escapes. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${s}`);
  if (inWord) words.push(cur);
  return words;
}

/** The [Service] assignments as (key, value) pairs in order; continuation lines joined, comments dropped. */
function serviceAssignments(text: string): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** systemd's memory sizes: bytes, K/M/G/T (base 1024), "infinity", or a percentage of `totalMem`. */
export function parseMemory(v: string, totalMem: number): number | undefined {
  if (v === '' || v === 'infinity') return undefined;
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) return Math.floor((Number(pct[1]) / 100) * totalMem);
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(v);
  if (!m) throw new Error(`MemoryMax=${v}: expected bytes, K/M/G/T, a percentage or infinity`);
  return Math.floor(Number(m[1]) * (m[2] ? UNITS[m[2].toUpperCase()]! : 1));
}

/**
 * Reads the unit text. The script is the first ExecStart word after the binary that does not start
 * with "-" (node's own flags all do; a flag with a separate value, e.g. `-r x`, is not supported and
 * is refused rather than misread).
 */
export function parseUnit(text: string, totalMem: number): UnitSettings {
  const assignments = serviceAssignments(text);
  const exec = assignments.filter(([k]) => k === 'ExecStart').at(-1)?.[1];
  if (!exec) throw new Error('the unit has no ExecStart=');
  // Prefixes such as "-" (ignore failure) or "@" may precede the path; they are not part of it.
  const words = splitWords(exec.replace(/^[-@:+!]+/, ''));
  const script = words.findIndex((w, i) => i > 0 && !w.startsWith('-'));
  if (script < 0) throw new Error(`ExecStart=${exec}: no script after the node binary`);
  const nodeFlags = words.slice(1, script);
  for (const f of ['-r', '--require', '--import', '--loader', '-e', '--eval'])
    if (nodeFlags.includes(f)) throw new Error(`ExecStart flag ${f} takes a separate value: write ${f}=...`);

  const env: Record<string, string> = {};
  for (const [k, v] of assignments) {
    if (k === 'Environment' && v === '') for (const key of Object.keys(env)) delete env[key];
    else if (k === 'Environment')
      for (const w of splitWords(v)) {
        const eq = w.indexOf('=');
        if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1);
      }
  }
  const memoryMaxText = assignments.filter(([k]) => k === 'MemoryMax').at(-1)?.[1] || undefined;
  const memoryMax = memoryMaxText === undefined ? undefined : parseMemory(memoryMaxText, totalMem);
  return { nodeFlags, env, memoryMax, memoryMaxText };
}
