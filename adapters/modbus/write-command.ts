import { encodeRegisters } from './codec.js';
import type { Point } from './points.js';
import { toRaw } from './value.js';

/** A command the device can never take (unknown point, read-only, bad value, exception answer). */
export class ModbusCommandError extends Error {
  override readonly name = 'ModbusCommandError';
}

export interface WriteTarget {
  unit: number;
  points: ReadonlyMap<string, Point>;
}

/** One write on the wire. */
export interface EncodedWrite {
  fc: 5 | 6 | 15 | 16;
  address: number;
  values: number[] | boolean[];
}

const SHAPE = '{"point": "<name>", "value": <value>}';

/**
 * A command payload `{"point", "value"}` (optional `"device"`, else the command's device) -> the
 * device it is for and the write. `write` is undefined for a device this bus does not have. Throws
 * ModbusCommandError for anything that can never be written.
 */
export function parseWriteCommand(
  payload: Buffer,
  commandDevice: string,
  devices: ReadonlyMap<string, WriteTarget>,
): { device: string; write?: EncodedWrite } {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new ModbusCommandError(`payload must be JSON: ${SHAPE}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ModbusCommandError(`payload must be a JSON object: ${SHAPE}`);
  const b = body as { device?: unknown; point?: unknown; value?: unknown };
  const device = typeof b.device === 'string' && b.device !== '' ? b.device : commandDevice;
  const target = devices.get(device);
  if (!target) return { device };
  const point = typeof b.point === 'string' ? target.points.get(b.point) : undefined;
  if (!point) throw new ModbusCommandError(`device ${device} has no point ${JSON.stringify(b.point)}`);
  if (!point.writable || !point.writeFc) throw new ModbusCommandError(`point ${point.name} is not writable`);
  if (b.value === undefined) throw new ModbusCommandError('payload has no "value"');
  try {
    const raw = toRaw(b.value, point.type, point);
    const values =
      point.fc === 1 ? [raw === true] : encodeRegisters(raw, point.type, point.order, point.length);
    return { device, write: { fc: point.writeFc, address: point.address, values } };
  } catch (err) {
    throw new ModbusCommandError(`point ${point.name}: ${(err as Error).message}`);
  }
}
