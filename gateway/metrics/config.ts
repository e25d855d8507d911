import { z } from 'zod';
import { duration, listenAddress } from '../../contracts/units.js';

export const httpConfigSchema = z
  .strictObject({
    /** /metrics and /health; loopback by default. Set enabled: false to turn off. */
    enabled: z.boolean().default(true),
    listen: listenAddress().default({ host: '127.0.0.1', port: 9464 }),
  })
  .prefault({});
export type HttpConfig = z.output<typeof httpConfigSchema>;

export const statsConfigSchema = z
  .strictObject({
    /** Publish a stats JSON upstream periodically; off unless a topic is set. */
    topic: z.string().optional(),
    interval: duration().default(60_000),
  })
  .prefault({});
export type StatsConfig = z.output<typeof statsConfigSchema>;
