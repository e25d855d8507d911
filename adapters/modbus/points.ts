import type { ByteOrder, ModbusDeviceConfig, ModbusPointConfig, PointType } from './config.js';
import { registersOf } from './config.js';

/** A configured point with its defaults resolved. */
export interface Point {
  name: string;
  fc: 1 | 2 | 3 | 4;
  address: number;
  type: PointType;
  order: ByteOrder;
  /** Registers (fc 3/4) or bits (fc 1/2) it spans. */
  count: number;
  length?: number | undefined;
  bit?: number | undefined;
  scale: number;
  offset: number;
  decimals?: number | undefined;
  writable: boolean;
  /** The write function for writable points. */
  writeFc?: 5 | 6 | 15 | 16;
}

export function resolvePoints(device: ModbusDeviceConfig): Point[] {
  return device.points.map((p) => resolvePoint(p, device.byte_order));
}

function resolvePoint(p: ModbusPointConfig, byteOrder: ByteOrder): Point {
  const bits = p.fc === 1 || p.fc === 2;
  const type = p.type ?? (bits ? 'bool' : 'uint16');
  const count = bits ? 1 : registersOf(type, p.length);
  const point: Point = {
    name: p.name,
    fc: p.fc,
    address: p.address,
    type,
    order: p.order ?? byteOrder,
    count,
    length: p.length,
    bit: p.bit,
    scale: p.scale,
    offset: p.offset,
    decimals: p.decimals,
    writable: p.writable,
  };
  if (p.writable) point.writeFc = p.write_fc ?? (p.fc === 1 ? 5 : count === 1 ? 6 : 16);
  return point;
}
