import { z } from 'zod';
import { duration, listenAddress } from '../../contracts/units.js';

/** When /health reports "degraded" (HTTP 200: the gateway still buffers correctly, systemd must not restart it). */
export const healthConfigSchema = z
  .strictObject({
    /** Uplink flapping: this many disconnects within `flap_window`. */
    flap_disconnects: z.number().int().min(1).default(3),
    flap_window: duration().default(300_000),
    /** Outbox not draining: connected, rows waiting, and no broker ack for this long. */
    stall_after: duration().default(120_000),
  })
  .prefault({});
export type HealthConfig = z.output<typeof healthConfigSchema>;

export const httpConfigSchema = z
  .strictObject({
    /** /metrics and /health; loopback by default. Set enabled: false to turn off. */
    enabled: z.boolean().default(true),
    listen: listenAddress().default({ host: '127.0.0.1', port: 9464 }),
    health: healthConfigSchema,
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
