import type { MetricMap } from './config.js';

/** A reading's topic matched to a mapped metric: its name, the device it belongs to, its mapping. */
export interface Mapped {
  device: string;
  name: string;
  map: MetricMap;
}

/**
 * The first mapping whose filter matches `topic`: `+device` names the device (else the reading's),
 * the metric is the mapping's name or the topic's last level.
 */
export function mapTopic(maps: readonly MetricMap[], topic: string, device: string): Mapped | undefined {
  const levels = topic.split('/');
  for (const map of maps) {
    const filter = map.topic.split('/');
    let dev = device;
    let ok = true;
    for (let i = 0; i < filter.length && ok; i++) {
      const f = filter[i]!;
      if (f === '#') break;
      const level = levels[i];
      if (level === undefined) ok = false;
      else if (f === '+device') dev = level;
      else if (f !== '+' && f !== level) ok = false;
    }
    if (ok && filter.at(-1) !== '#' && filter.length !== levels.length) ok = false;
    if (ok) return { device: dev, name: map.name ?? levels.at(-1)!, map };
  }
  return undefined;
}
