import type { AdapterDeps } from '../adapters/descriptor.js';
import { adapterKinds } from '../adapters/registry.js';
import type { Adapter } from '../adapters/types.js';
import type { Config } from './config/schema.js';

/** Every configured adapter instance, kind by kind in registry order; keyed by adapter name. */
export function buildAdapters(config: Config, deps: AdapterDeps): Map<string, Adapter> {
  const adapters = new Map<string, Adapter>();
  for (const kind of adapterKinds)
    for (const a of kind.build(config[kind.key as keyof Config], deps)) adapters.set(a.name, a);
  return adapters;
}
