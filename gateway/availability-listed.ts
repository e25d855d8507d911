import { adapterKinds } from '../adapters/registry.js';
import type { Config } from './config/schema.js';

/**
 * Does this reading's device get an availability topic? Every device, unless its adapter kind says
 * otherwise (an MQTT-SN client id nobody configured: the adapter marks those `unlisted`; the same
 * rule, from the config, for readings).
 */
export function hasAvailability(config: Config, source: string, device: string): boolean {
  for (const kind of adapterKinds) {
    const section = config[kind.key as keyof Config];
    if ((kind.targets as (s: unknown) => string[])(section).includes(source))
      return (
        (kind.hasAvailability as ((s: unknown, src: string, d: string) => boolean) | undefined)?.(
          section,
          source,
          device,
        ) ?? true
      );
  }
  return true;
}
