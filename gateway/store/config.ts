import { z } from 'zod';
import { bytes, duration } from '../../contracts/units.js';

export const storeConfigSchema = z
  .strictObject({
    /** power-loss: every ack waits for an fsync of the WAL (survives a power cut); process-crash: no fsync per commit (survives a killed process). */
    durability: z.enum(['power-loss', 'process-crash']).default('power-loss'),
    max_rows: z.number().int().positive().default(1_000_000),
    max_bytes: bytes().default(256 * 1024 * 1024),
    max_age: duration().default(7 * 86400e3),
    overflow: z.enum(['drop-oldest', 'reject-new']).default('drop-oldest'),
    /**
     * Longest a device's ack may wait for the commit that makes its reading durable, so one commit
     * (one fsync, a few 4 KiB pages) carries many readings: SD-card wear. It closes early once every
     * device that could send is waiting on an ack; QoS 0/-1 readings never wait. 0: commit at once.
     */
    commit_interval: duration()
      .pipe(
        z
          .number()
          .min(0)
          .max(5000, 'at most 5s: a longer wait runs into MQTT-SN devices resending (Tretry, 10-15 s)'),
      )
      .default(750),
    /**
     * The command spool (commands accepted from the broker, waiting for their device): beyond these a
     * command is rejected (reported as `rejected`, reason `spool_full`) instead of filling the card.
     */
    spool_max_rows: z.number().int().positive().default(10_000),
    spool_max_bytes: bytes().default(16 * 1024 * 1024),
    spool_max_per_device: z.number().int().positive().default(1000),
  })
  .prefault({});
export type StoreConfig = z.output<typeof storeConfigSchema>;
