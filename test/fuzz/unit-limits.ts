import { readFileSync } from 'node:fs';

/**
 * What systemd/fieldgate.service ships for memory: the node flags in ExecStart (V8 heap sizes)
 * and MemoryMax=/MemoryHigh=. Read from the unit itself, so the fuzz (and the bench) run the
 * gateway the way the service does and a change to the unit is measured, not a copy of it.
 */
export interface UnitLimits {
  /** Node/V8 flags between the node binary and the script in ExecStart. */
  nodeFlags: string[];
  /** MemoryMax= in kB (cgroup hard limit: the kernel OOM-kills above it), undefined if not set. */
  memoryMaxKb: number | undefined;
  /** MemoryHigh= in kB (reclaim pressure above it), undefined if not set. */
  memoryHighKb: number | undefined;
}

export const UNIT_FILE = new URL('../../systemd/fieldgate.service', import.meta.url);

const SUFFIX: Record<string, number> = { '': 1 / 1024, K: 1, M: 1024, G: 1024 ** 2 };

/** systemd byte sizes: plain bytes or a K/M/G suffix (base 1024); "infinity" means none. */
export function sizeKb(value: string): number | undefined {
  if (value === 'infinity') return undefined;
  const m = /^(\d+)([KMG]?)$/.exec(value.trim());
  if (!m) throw new Error(`unsupported systemd size "${value}" (expected e.g. 256M)`);
  return Math.ceil(Number(m[1]) * SUFFIX[m[2]!]!);
}

export function parseUnitLimits(text: string): UnitLimits {
  const get = (key: string) => {
    const lines = text.split('\n').filter((l) => l.startsWith(`${key}=`));
    if (lines.length > 1) throw new Error(`${key}= set ${lines.length} times in the unit`);
    return lines[0]?.slice(key.length + 1).trim();
  };
  const exec = get('ExecStart');
  if (!exec) throw new Error('no ExecStart= in the unit');
  const words = exec.split(/\s+/);
  const script = words.findIndex((w) => w.endsWith('/bin/fieldgate.js'));
  if (script < 1) throw new Error(`ExecStart does not run bin/fieldgate.js: ${exec}`);
  const max = get('MemoryMax');
  const high = get('MemoryHigh');
  return {
    nodeFlags: words.slice(1, script),
    memoryMaxKb: max === undefined ? undefined : sizeKb(max),
    memoryHighKb: high === undefined ? undefined : sizeKb(high),
  };
}

export function unitLimits(): UnitLimits {
  return parseUnitLimits(readFileSync(UNIT_FILE, 'utf8'));
}
