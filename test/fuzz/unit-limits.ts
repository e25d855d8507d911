import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { parseMemory, parseUnit } from '../../bench/unit-file.js';

/**
 * What systemd/fieldgate.service ships for memory: the node flags in ExecStart (V8 heap sizes), its
 * Environment=, and MemoryMax=/MemoryHigh=. Read from the unit itself (with the bench's parser,
 * bench/unit-file.ts), so the fuzz runs the gateway the way the service does and a change to the
 * unit is measured, not a copy of it.
 */
export interface UnitLimits {
  /** Node/V8 flags between the node binary and the script in ExecStart. */
  nodeFlags: string[];
  /** Environment= of the unit (NODE_ENV=production...). */
  env: Record<string, string>;
  /** MemoryMax= in kB (cgroup hard limit: the kernel OOM-kills above it), undefined if not set. */
  memoryMaxKb: number | undefined;
  /** MemoryHigh= in kB (reclaim pressure above it), undefined if not set. */
  memoryHighKb: number | undefined;
}

export const UNIT_FILE = new URL('../../systemd/fieldgate.service', import.meta.url);

const kb = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.ceil(bytes / 1024));

export function parseUnitLimits(text: string, totalMem = totalmem()): UnitLimits {
  const unit = parseUnit(text, totalMem);
  // bench/unit-file.ts reads MemoryMax only; MemoryHigh= is a plain line of the same unit.
  const high = [...text.matchAll(/^MemoryHigh=(.*)$/gm)].at(-1)?.[1]?.trim();
  return {
    nodeFlags: unit.nodeFlags,
    env: unit.env,
    memoryMaxKb: kb(unit.memoryMax),
    memoryHighKb: high === undefined ? undefined : kb(parseMemory(high, totalMem)),
  };
}

export function unitLimits(): UnitLimits {
  return parseUnitLimits(readFileSync(UNIT_FILE, 'utf8'));
}
