import { MAX_BITS_PER_READ } from './config.js';
import type { Point } from './points.js';

/** One read request and the points its answer holds. */
export interface ReadPlan {
  fc: 1 | 2 | 3 | 4;
  address: number;
  count: number;
  points: Point[];
}

/**
 * Points -> as few reads as possible: per function code, points sorted by address are merged into
 * one read while it stays within the limit (`maxRegisters`, 2000 bits for fc 1/2) and the hole
 * between them is at most `mergeGap` (reading unmapped registers makes some devices answer
 * "illegal data address", so the default gap is 0: adjacent or overlapping only).
 */
export function planReads(points: readonly Point[], maxRegisters: number, mergeGap: number): ReadPlan[] {
  const plans: ReadPlan[] = [];
  for (const fc of [1, 2, 3, 4] as const) {
    const limit = fc <= 2 ? MAX_BITS_PER_READ : maxRegisters;
    const sorted = points
      .filter((p) => p.fc === fc)
      .sort((a, b) => a.address - b.address || b.count - a.count);
    let cur: ReadPlan | undefined;
    for (const p of sorted) {
      const end = p.address + p.count;
      const curEnd = cur ? cur.address + cur.count : 0;
      if (cur && p.address - curEnd <= mergeGap && Math.max(end, curEnd) - cur.address <= limit) {
        cur.count = Math.max(end, curEnd) - cur.address;
        cur.points.push(p);
      } else {
        cur = { fc, address: p.address, count: p.count, points: [p] };
        plans.push(cur);
      }
    }
  }
  return plans;
}
