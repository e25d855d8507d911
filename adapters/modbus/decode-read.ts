import { decodeRegisters } from './codec.js';
import type { ReadPlan } from './planner.js';
import { type PointValue, toValue } from './value.js';

/** One read's answer -> the values of the points it covers. */
export function decodeRead(plan: ReadPlan, data: readonly (number | boolean)[]): Map<string, PointValue> {
  const out = new Map<string, PointValue>();
  for (const p of plan.points) {
    const at = p.address - plan.address;
    const raw =
      plan.fc <= 2
        ? data[at] === true
        : decodeRegisters(data.slice(at, at + p.count) as number[], p.type, p.order, p.bit);
    out.set(p.name, toValue(raw, p.type, p));
  }
  return out;
}
