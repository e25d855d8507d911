import { z } from 'zod';
import { adapterConfigShape } from '../../adapters/registry.js';
import {
  commandsConfigSchema,
  defaultRouteSchema,
  rulesConfigSchema,
  triggersConfigSchema,
} from '../../rules/config.js';
import { httpConfigSchema, statsConfigSchema } from '../metrics/config.js';
import { storeConfigSchema } from '../store/config.js';
import { upstreamConfigSchema } from '../upstream/config.js';
import { duration } from '../../contracts/units.js';
import { availabilityConfigSchema } from '../availability.js';
import { homeassistantConfigSchema } from '../homeassistant/config.js';
import { remoteConfigSchema } from '../remote/config.js';
import { sparkplugConfigSchema } from '../sparkplug/config.js';

export const gatewaySectionSchema = z.strictObject({
  /** Used in topics ({gateway}), the default upstream client id and the status topic. */
  id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . or - (it goes into topics)'),
  /** The SQLite file lives here. */
  state_dir: z.string().min(1).default('/var/lib/fieldgate'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** How long a stop may take before the process exits anyway. */
  stop_grace: duration().default(10_000),
  /**
   * How to tell whether the wall clock is synchronized (gateway/clock/sync-probe.ts): auto (the flag
   * file, else timedatectl), file (the flag file alone), always (a trusted RTC), never.
   */
  clock_sync: z.enum(['auto', 'file', 'always', 'never']).default('auto'),
  /** Exists while the clock is synchronized (systemd-timesyncd creates it at its first sync). */
  clock_sync_file: z.string().min(1).default('/run/systemd/timesync/synchronized'),
});

export const configSchema = z.strictObject({
  gateway: gatewaySectionSchema,
  upstream: upstreamConfigSchema,
  store: storeConfigSchema,
  // One section per adapter kind (config.serial, config.modbus, config.mqttsn, ...).
  ...adapterConfigShape(),
  rules: rulesConfigSchema,
  default_route: defaultRouteSchema,
  commands: commandsConfigSchema,
  triggers: triggersConfigSchema,
  http: httpConfigSchema,
  stats: statsConfigSchema,
  availability: availabilityConfigSchema,
  homeassistant: homeassistantConfigSchema,
  remote: remoteConfigSchema,
  sparkplug: sparkplugConfigSchema,
});

export type Config = z.output<typeof configSchema>;
