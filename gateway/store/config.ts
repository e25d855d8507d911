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
  })
  .prefault({});
export type StoreConfig = z.output<typeof storeConfigSchema>;
