import { z } from 'zod';
import { duration } from '../../gateway/config/units.js';

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const serialPortConfigSchema = z.strictObject({
  /** Port name: adapter instance "serial:<name>" and the device id unless frames carry one. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . or -'),
  /** /dev/serial/by-id/... recommended (stable across replug); any tty path works. */
  path: z.string().min(1),
  baud: z.number().int().positive().default(9600),
  data_bits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
  stop_bits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
  flow_control: z.enum(['none', 'rtscts', 'xonxoff']).default('none'),
  framing: z.enum(['line', 'slip', 'length-crc16', 'idle-timeout']).default('line'),
  /** line framing: delimiter (escape sequences \n \r\n allowed). */
  delimiter: z.string().min(1).default('\n'),
  /** Longest accepted frame in bytes; longer ones are dropped and counted. */
  max_length: z.number().int().positive().default(1024),
  /** idle-timeout framing: a frame ends after this much silence. */
  idle: duration().default(50),
  format: z.enum(['kv', 'json', 'csv', 'raw']).default('kv'),
  /** csv: column names, in order. */
  columns: z.array(z.string().min(1)).optional(),
  /** raw: how bytes are published. */
  raw_encoding: z.enum(['bytes', 'hex', 'base64']).default('bytes'),
  /** Take the device id from this field of the frame instead of the port name. */
  device_field: z.string().optional(),
  /** Template over {port} {device} {field} and frame fields; with {field} one message per field, else one JSON message per frame. */
  topic: z.string().default('sensors/{device}/{field}'),
  qos: qos.default(1),
  retain: z.boolean().default(false),
  /** Acknowledged frames: field holding the sequence number, and the ack written back after commit. */
  ack: z.strictObject({ seq_field: z.string(), template: z.string().default('ACK {seq}\n') }).optional(),
  /** Commands written to this port. */
  commands: z
    .strictObject({
      framing: z.enum(['line', 'slip']).default('line'),
      ttl: duration().default(3600e3),
      /** Optional request/response: wait for a frame matching this regex and publish it as the result. */
      reply_pattern: z.string().optional(),
      reply_timeout: duration().default(5000),
    })
    .prefault({}),
  /** Reopen backoff bounds. */
  reopen: z.strictObject({ min: duration().default(500), max: duration().default(30_000) }).prefault({}),
});
export type SerialPortConfig = z.output<typeof serialPortConfigSchema>;

export const serialConfigSchema = z.array(serialPortConfigSchema).default([]);
