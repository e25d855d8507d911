import { z } from 'zod';
import { duration, listenAddress } from '../../contracts/units.js';
import { isLoopback } from '../status/auth.js';

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
    /** /metrics, /health and the status page (/, /api/status, /api/devices); loopback by default. Set enabled: false to turn off. */
    enabled: z.boolean().default(true),
    listen: listenAddress().default({ host: '127.0.0.1', port: 9464 }),
    health: healthConfigSchema,
    /**
     * HTTP basic auth for every route but /health; required when `listen` is not loopback.
     * password_file: `user:password` lines, read at start.
     */
    auth: z.strictObject({ password_file: z.string().min(1) }).optional(),
    /**
     * Host names requests may be addressed to, besides IP literals, `localhost` and the listen host
     * (a DNS-rebinding page sends its own name and is refused).
     */
    allowed_hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a host name')).default([]),
  })
  .superRefine((c, ctx) => {
    if (c.enabled && !c.auth && !isLoopback(c.listen.host))
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message: `listening on ${c.listen.host} (not loopback) needs http.auth.password_file: the status page would be open to the network`,
      });
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
