import { adapterKinds } from '../../adapters/registry.js';
import type { PointCatalogue } from '../../contracts/points.js';
import type { SemanticCheck } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { DeviceModel } from './model.js';

/** Every adapter instance's points, by source name (Reading.source). */
function catalogues(config: Config): Map<string, PointCatalogue> {
  const out = new Map<string, PointCatalogue>();
  for (const kind of adapterKinds) {
    const section = config[kind.key as keyof Config];
    if (section === undefined || !kind.points) continue;
    for (const [source, c] of kind.points(section)) out.set(source, c);
  }
  return out;
}

/** The sources sparkplug.sources names, with the points their adapters declare. */
export function sparkplugModel(config: Config): DeviceModel {
  const points = catalogues(config);
  return new DeviceModel(
    new Map(
      config.sparkplug.sources.map((s) => {
        const catalogue = points.get(s.source);
        return [s.source, { config: s, ...(catalogue && { catalogue }) }];
      }),
    ),
  );
}

/** sparkplug.sources must name adapter instances that exist, each once. */
export const sparkplugSourcesExist: SemanticCheck = (config) => {
  const sp = config.sparkplug;
  if (!sp?.enabled) return [];
  const sections = adapterKinds.map((kind) => ({ kind, section: config[kind.key as keyof Config] }));
  if (sections.some((s) => s.section === undefined)) return [];
  const known = new Set(sections.flatMap(({ kind, section }) => kind.targets(section)));
  const seen = new Set<string>();
  const problems: ReturnType<SemanticCheck> = [];
  sp.sources.forEach((s, i) => {
    if (seen.has(s.source))
      problems.push({
        path: ['sparkplug', 'sources', i, 'source'],
        message: `"${s.source}" is listed twice`,
      });
    seen.add(s.source);
    if (s.writes !== undefined && !s.source.startsWith('serial:'))
      problems.push({
        path: ['sparkplug', 'sources', i, 'writes'],
        message:
          'writes are for serial sources (a Modbus point says writable: true itself; an MQTT-SN metric takes a command_topic)',
      });
    if (!known.has(s.source))
      problems.push({
        path: ['sparkplug', 'sources', i, 'source'],
        message: `unknown source "${s.source}" (known: ${[...known].join(', ') || 'none configured'})`,
      });
  });
  if (sp.sources.length === 0)
    problems.push({
      path: ['sparkplug', 'sources'],
      message: 'enabled with no sources: name at least one adapter instance',
    });
  return problems;
};
