import type { PointCatalogue, PointInfo } from '../../contracts/points.js';
import { compileTopicTemplate, topicLevel } from '../../contracts/topic-template.js';
import type { SerialPortConfig } from './config.js';

/**
 * The fields a port is configured with (`ha:` first, then `fields` / csv `columns`): one set for
 * every device of the port. Their types come from the frames, so they are `unknown` here.
 */
export function serialPoints(port: SerialPortConfig): PointCatalogue {
  const template = compileTopicTemplate(port.topic);
  const ha = port.ha ?? {};
  const names = [...new Set([...Object.keys(ha), ...(port.fields ?? port.columns ?? [])])];
  const points: PointInfo[] = names.map((name) => {
    const entity = ha[name];
    return {
      name,
      type: 'unknown',
      writable: false,
      ...(entity?.unit !== undefined && { unit: entity.unit }),
      ...(entity && { ha: entity }),
    };
  });
  return {
    points: () => points,
    all: () => points,
    perPoint: () => template.names.has('field'),
    pointTopic: (r, field) =>
      template.render(
        (name) =>
          name === 'port'
            ? port.name
            : name === 'device'
              ? r.device
              : name === 'field'
                ? field
                : r.fields?.[name],
        topicLevel,
      ),
    booleanText: () => ({ on: '1', off: '0' }),
  };
}
