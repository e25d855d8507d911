import type { PointCatalogue, PointDataType, PointInfo } from '../../contracts/points.js';
import { compileTopicTemplate, type TopicTemplate } from '../../contracts/topic-template.js';
import type { ModbusBusConfig, ModbusPointConfig } from './config.js';
import { pointTopic } from './readings.js';

function typeOf(p: ModbusPointConfig): PointInfo['type'] {
  const type = p.type ?? (p.fc === 1 || p.fc === 2 ? 'bool' : 'uint16');
  return type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
}

const EXACT: Record<string, PointDataType> = {
  bool: 'Boolean',
  int16: 'Int16',
  uint16: 'UInt16',
  int32: 'Int32',
  uint32: 'UInt32',
  int64: 'Int64',
  uint64: 'UInt64',
  float32: 'Float',
  float64: 'Double',
  string: 'String',
};

/**
 * The published value's type: the register type while no scale, offset or rounding changes it;
 * a scaled value (0.1 V per count) is a Double.
 */
function datatypeOf(p: ModbusPointConfig): PointDataType {
  const type = p.type ?? (p.fc === 1 || p.fc === 2 ? 'bool' : 'uint16');
  if (type === 'bool' || type === 'string') return EXACT[type]!;
  const scaled = p.scale !== 1 || p.offset !== 0 || p.decimals !== undefined;
  return scaled ? 'Double' : EXACT[type]!;
}

/** The points of a bus's devices, from its config; an `ha:` unit defaults to the point's. */
export function modbusPoints(bus: ModbusBusConfig): PointCatalogue {
  const devices = new Map<string, { topic: TopicTemplate; points: PointInfo[] }>();
  for (const d of bus.devices) {
    const points = d.points.map(
      (p): PointInfo => ({
        name: p.name,
        type: typeOf(p),
        writable: p.writable,
        datatype: datatypeOf(p),
        ...(p.unit !== undefined && { unit: p.unit }),
        ...(p.low !== undefined && { low: p.low }),
        ...(p.high !== undefined && { high: p.high }),
        ...(p.ha && {
          ha: p.unit !== undefined && p.ha.unit === undefined ? { ...p.ha, unit: p.unit } : p.ha,
        }),
      }),
    );
    devices.set(d.name, { topic: compileTopicTemplate(d.topic ?? bus.topic), points });
  }
  const all = [...devices.values()].flatMap((d) => d.points);
  const perPoint = (device: string) => devices.get(device)?.topic.names.has('point') === true;
  return {
    points: (device) => devices.get(device)?.points ?? [],
    all: () => all,
    perPoint,
    pointTopic: (r, point) => {
      const d = devices.get(r.device);
      return d && pointTopic({ bus: bus.name, device: r.device, topic: d.topic }, point);
    },
    // A point's bool goes out as true/false; inside a JSON payload HA's template renders it True/False.
    booleanText: (device) => (perPoint(device) ? { on: 'true', off: 'false' } : { on: 'True', off: 'False' }),
  };
}
