import { z } from 'zod';
import { TOPIC_PROBLEM_TEXT, topicNameProblem } from '../../contracts/topic.js';
import { haFieldsSchema } from '../../contracts/ha.js';
import { duration } from '../../contracts/units.js';
import { FIELD_NAME, FIELD_NAME_HINT } from '../../contracts/field-name.js';
import { characterTimeMs, MIN_FRAME_TIMEOUT_CHARS, MIN_FRAME_TIMEOUT_MS } from './frame-timeout.js';

const fieldName = z.string().regex(FIELD_NAME, FIELD_NAME_HINT);

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const serialPortConfigSchema = z
  .strictObject({
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
    /** Longest accepted frame in bytes; longer ones are dropped and counted (length-crc16 frames are at most 255). */
    max_length: z.number().int().positive().default(1024),
    /** idle-timeout framing: a frame ends after this much silence. */
    idle: duration().default(50),
    /**
     * line, slip, length-crc16: a partial frame that sees no new byte for this long is dropped
     * (`stale_partial`), so noise that ended mid-frame is not glued to the next frame. Unset: 300ms,
     * or 32 character times at slow baud rates (see frame-timeout.ts).
     */
    frame_timeout: duration().optional(),
    format: z.enum(['kv', 'json', 'csv', 'raw']).default('kv'),
    /** csv: column names, in order (required for format: csv). */
    columns: z.array(fieldName).min(1).optional(),
    /**
     * kv/json/csv: the only fields this port publishes; any other field is dropped and counted
     * (`unlisted_field`). device_field, ack.seq_field and topic {placeholders} are allowed implicitly.
     * Without it every plausibly named field is published (names failing FIELD_NAME: `bad_field_name`).
     */
    fields: z.array(fieldName).min(1).optional(),
    /** csv: value separator. */
    csv_separator: z.string().length(1).default(','),
    /** raw: how bytes are published. */
    raw_encoding: z.enum(['bytes', 'hex', 'base64']).default('bytes'),
    /** Take the device id from this field of the frame instead of the port name. */
    device_field: fieldName.optional(),
    /** Template over {port} {device} {field} and frame fields; with {field} one message per field, else one JSON message per frame. */
    topic: z.string().default('sensors/{device}/{field}'),
    qos: qos.default(1),
    retain: z.boolean().default(false),
    /**
     * Acknowledged frames: field holding the sequence number, and the bytes written back once the
     * frame is stored: template over {seq} {device} {port} and frame fields (escapes like \n allowed),
     * written as is (framing: none, the template carries its own delimiter) or framed.
     * Frames without the field are not acked.
     */
    ack: z
      .strictObject({
        seq_field: z.string().min(1),
        template: z.string().min(1).default('ACK {seq}\n'),
        framing: z.enum(['none', 'line', 'slip', 'length-crc16']).default('none'),
      })
      .optional(),
    /** Commands written to this port (line: payload + delimiter; slip: RFC 1055; length-crc16: as framing above). */
    commands: z
      .strictObject({
        framing: z.enum(['line', 'slip', 'length-crc16']).default('line'),
        ttl: duration().default(3600e3),
        /** Optional request/response: wait for a frame matching this regex (named groups kept) and publish it as the result. */
        reply_pattern: z
          .string()
          .refine((p) => isRegExp(p), 'not a valid regular expression')
          .optional(),
        reply_timeout: duration().default(5000),
      })
      .prefault({}),
    /**
     * A device (the port itself, or each device_field id) that sends nothing for this long is "lost"
     * (availability offline) until its next reading. Unset: silence is not watched.
     */
    silence_timeout: duration()
      .refine((ms) => ms >= 1000, 'silence_timeout must be at least 1s')
      .optional(),
    /** Home Assistant discovery (homeassistant.enabled): field name -> {component, device_class, unit, state_class, name}. */
    ha: haFieldsSchema.optional(),
    /** Reopen backoff bounds. */
    reopen: z.strictObject({ min: duration().default(500), max: duration().default(30_000) }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.format === 'csv' && !c.columns)
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'format: csv needs columns: [name, ...]' });
    if (c.frame_timeout !== undefined && c.framing === 'idle-timeout')
      ctx.addIssue({
        code: 'custom',
        path: ['frame_timeout'],
        message: 'frame_timeout applies to line, slip and length-crc16; idle-timeout frames end after `idle`',
      });
    else if (c.frame_timeout !== undefined) {
      const floor = Math.max(MIN_FRAME_TIMEOUT_MS, MIN_FRAME_TIMEOUT_CHARS * characterTimeMs(c));
      if (c.frame_timeout < floor)
        ctx.addIssue({
          code: 'custom',
          path: ['frame_timeout'],
          message: `frame_timeout must be at least ${Math.ceil(floor)}ms (${MIN_FRAME_TIMEOUT_CHARS} characters at ${c.baud} baud, and ${MIN_FRAME_TIMEOUT_MS}ms): shorter gaps occur inside a frame`,
        });
    }
    if (c.reopen.min > c.reopen.max)
      ctx.addIssue({
        code: 'custom',
        path: ['reopen', 'min'],
        message: 'reopen.min must not exceed reopen.max',
      });
    // The template's fixed text must make a valid topic whatever the placeholders hold.
    const problem = topicNameProblem(c.topic.replace(/\{[A-Za-z0-9_.-]+\}/g, 'x'));
    if (problem)
      ctx.addIssue({
        code: 'custom',
        path: ['topic'],
        message: `topic template ${JSON.stringify(c.topic)} ${TOPIC_PROBLEM_TEXT[problem]}`,
      });
    for (const f of Object.keys(c.ha ?? {}))
      if (c.format === 'raw' || (c.fields && !c.fields.includes(f)))
        ctx.addIssue({
          code: 'custom',
          path: ['ha', f],
          message: c.format === 'raw' ? 'format: raw frames have no fields' : `"${f}" is not in fields`,
        });
    if (c.format === 'raw' && c.fields)
      ctx.addIssue({ code: 'custom', path: ['fields'], message: 'format: raw frames have no fields' });
    if (c.format === 'raw') {
      const frameFields = [...c.topic.matchAll(/\{([^}]+)\}/g)]
        .map((m) => m[1])
        .filter((n) => !['port', 'device', 'field'].includes(n!));
      if (frameFields.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['topic'],
          message: `format: raw frames have no fields for {${frameFields.join('}, {')}}`,
        });
      if (c.ack || c.device_field)
        ctx.addIssue({
          code: 'custom',
          path: [c.ack ? 'ack' : 'device_field'],
          message: 'format: raw frames have no fields to read it from',
        });
    }
  });
function isRegExp(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

export type SerialPortConfig = z.output<typeof serialPortConfigSchema>;

export const serialConfigSchema = z.array(serialPortConfigSchema).default([]);
