import { z } from 'zod';
import { haEntitySchema } from '../../contracts/ha.js';
import { TOPIC_PROBLEM_TEXT, topicNameProblem } from '../../contracts/topic.js';
import { duration } from '../../contracts/units.js';
import { FIELD_NAME, FIELD_NAME_HINT } from '../../contracts/field-name.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . or -');
const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const BYTE_ORDERS = ['ABCD', 'BADC', 'CDAB', 'DCBA'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];
export const POINT_TYPES = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
  'string',
] as const;
export type PointType = (typeof POINT_TYPES)[number];

/** Registers one value of a type occupies (string: its `length`; bool on registers: 1). */
export function registersOf(type: PointType, length = 1): number {
  if (type === 'string') return length;
  if (type === 'int32' || type === 'uint32' || type === 'float32') return 2;
  if (type === 'int64' || type === 'uint64' || type === 'float64') return 4;
  return 1;
}

/** Modbus limits per read: 2000 coils/inputs (fc 1/2), 125 registers (fc 3/4). */
export const MAX_BITS_PER_READ = 2000;
export const MAX_REGISTERS_PER_READ = 125;

export const pointSchema = z.strictObject({
  /** Goes into topics ({point}) and the JSON payload. */
  name: z.string().regex(FIELD_NAME, FIELD_NAME_HINT),
  /** 1 coils, 2 discrete inputs, 3 holding registers, 4 input registers. */
  fc: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
  /** 0-based protocol address (register 40001 is fc 3, address 0). */
  address: z.number().int().min(0).max(65535),
  /** Default: bool for fc 1/2, uint16 for fc 3/4. */
  type: z.enum(POINT_TYPES).optional(),
  /** Byte order of multi-byte values; default the device's byte_order. */
  order: z.enum(BYTE_ORDERS).optional(),
  /** string: number of registers (2 characters each). */
  length: z.number().int().min(1).max(MAX_REGISTERS_PER_READ).optional(),
  /** bool on a register (fc 3/4): this bit (0 = least significant); without it, any non-zero value is true. */
  bit: z.number().int().min(0).max(15).optional(),
  /** value = raw * scale + offset (and the inverse for writes). */
  scale: z
    .number()
    .refine((n) => n !== 0, 'scale must not be 0')
    .default(1),
  offset: z.number().default(0),
  /** Round the published value to this many decimals. */
  decimals: z.number().int().min(0).max(12).optional(),
  /** Engineering unit (documentation; {unit} is not a topic placeholder: the device's unit id would clash). */
  unit: z.string().optional(),
  /** Engineering range of the value (Sparkplug's engLow / engHigh). */
  low: z.number().optional(),
  high: z.number().optional(),
  /** Commands may write it (fc 1 coils, fc 3 holding registers). */
  writable: z.boolean().default(false),
  /** Write function: coils 5 (default) or 15; registers 6 (default for one register) or 16. */
  write_fc: z.union([z.literal(5), z.literal(6), z.literal(15), z.literal(16)]).optional(),
  /** Home Assistant entity metadata (with homeassistant.enabled); its unit defaults to the point's. */
  ha: haEntitySchema.optional(),
});

export const deviceSchema = z.strictObject({
  /** Reading.device; {device} in topics. */
  name,
  /** Modbus unit (slave) id: 1-247 on RTU; 0-255 over TCP. */
  unit: z.number().int().min(0).max(255).default(1),
  poll: duration().default(10_000),
  byte_order: z.enum(BYTE_ORDERS).default('ABCD'),
  /** Override the bus's topic / qos / retain. */
  topic: z.string().optional(),
  qos: qos.optional(),
  retain: z.boolean().optional(),
  points: z.array(pointSchema).min(1),
});

export const modbusBusSchema = z
  .strictObject({
    /** Adapter instance "modbus:<name>". */
    name,
    /** RTU: the serial port (/dev/serial/by-id/... recommended). */
    path: z.string().min(1).optional(),
    /** Modbus TCP instead: host:port (port 502 when omitted). */
    tcp: z.string().min(1).optional(),
    baud: z.number().int().positive().default(9600),
    data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
    /** Per request; then it is retried `retries` times. */
    timeout: duration().default(500),
    /** Silence kept between the end of one frame and the next request (default 20ms on RTU, 0 over TCP). */
    gap: duration().optional(),
    retries: z.number().int().min(0).max(10).default(1),
    /** Largest read in registers (some devices take fewer than 125). */
    max_registers: z.number().int().min(1).max(MAX_REGISTERS_PER_READ).default(MAX_REGISTERS_PER_READ),
    /** Unused registers a merged read may span between points (0: only adjacent ones). */
    merge_gap: z.number().int().min(0).max(100).default(0),
    /** A device that stopped answering is polled again after poll x 2^n, at most this long. */
    backoff_max: duration().default(60_000),
    /** Reopen bounds of the port / TCP connection. */
    reopen: z.strictObject({ min: duration().default(500), max: duration().default(30_000) }).prefault({}),
    /** Commands that wait for a device are dropped after this. */
    command_ttl: duration().default(3600e3),
    /** {bus} {device} {point}; with {point} one message per point (the value as text), else one JSON per poll. */
    topic: z.string().default('sensors/{device}/{point}'),
    qos: qos.default(1),
    retain: z.boolean().default(false),
    devices: z.array(deviceSchema).min(1),
  })
  .superRefine((bus, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    if ((bus.path === undefined) === (bus.tcp === undefined))
      issue(['path'], 'give either path (Modbus RTU) or tcp: host:port (Modbus TCP)');
    if (bus.tcp !== undefined && !parseHostPort(bus.tcp))
      issue(['tcp'], `expected host:port, got ${JSON.stringify(bus.tcp)}`);
    if (bus.reopen.min > bus.reopen.max) issue(['reopen', 'min'], 'reopen.min must not exceed reopen.max');
    checkTopic(bus.topic, ['topic'], issue);
    const devices = new Set<string>();
    bus.devices.forEach((d, di) => {
      if (devices.has(d.name)) issue(['devices', di, 'name'], `duplicate device name "${d.name}"`);
      devices.add(d.name);
      if (bus.path !== undefined && (d.unit < 1 || d.unit > 247))
        issue(['devices', di, 'unit'], 'an RTU unit id is 1-247');
      if (d.topic !== undefined) checkTopic(d.topic, ['devices', di, 'topic'], issue);
      const points = new Set<string>();
      d.points.forEach((p, pi) => {
        const at = ['devices', di, 'points', pi];
        if (points.has(p.name)) issue([...at, 'name'], `duplicate point name "${p.name}"`);
        points.add(p.name);
        for (const problem of pointProblems(p, bus.max_registers))
          issue([...at, problem.key], problem.message);
      });
    });
  });

type Point = z.output<typeof pointSchema>;

function pointProblems(p: Point, maxRegisters: number): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  const bits = p.fc === 1 || p.fc === 2;
  const type = p.type ?? (bits ? 'bool' : 'uint16');
  if (bits && type !== 'bool') out.push({ key: 'type', message: `fc ${p.fc} reads bits: type must be bool` });
  if (type === 'string' && p.length === undefined)
    out.push({ key: 'length', message: 'type string needs length (registers)' });
  if (p.length !== undefined && type !== 'string')
    out.push({ key: 'length', message: 'length is for type string' });
  if (p.bit !== undefined && (bits || type !== 'bool'))
    out.push({ key: 'bit', message: 'bit picks one bit of a register: only for type bool with fc 3/4' });
  const count = bits ? 1 : registersOf(type, p.length);
  if (count > maxRegisters)
    out.push({ key: 'type', message: `${count} registers exceed max_registers ${maxRegisters}` });
  if (p.address + count - 1 > 65535)
    out.push({ key: 'address', message: 'the point runs past address 65535' });
  if (p.writable && (p.fc === 2 || p.fc === 4))
    out.push({
      key: 'writable',
      message: `fc ${p.fc} is read-only (write coils with fc 1, holding registers with fc 3)`,
    });
  if (p.writable && p.bit !== undefined)
    out.push({ key: 'writable', message: 'a single bit of a register cannot be written' });
  if (p.write_fc !== undefined) {
    const ok = p.fc === 1 ? [5, 15] : p.fc === 3 ? (count === 1 ? [6, 16] : [16]) : [];
    if (!p.writable || !ok.includes(p.write_fc))
      out.push({
        key: 'write_fc',
        message: p.writable
          ? `fc ${p.fc} with ${count} register(s) is written with fc ${ok.join(' or ')}`
          : 'write_fc needs writable: true',
      });
  }
  return out;
}

const TEMPLATE_NAMES = new Set(['bus', 'device', 'point']);

function checkTopic(
  topic: string,
  path: (string | number)[],
  issue: (p: (string | number)[], m: string) => void,
) {
  const unknown = [...topic.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((n) => !TEMPLATE_NAMES.has(n));
  if (unknown.length)
    issue(path, `unknown placeholder {${unknown.join('}, {')}} (use {bus}, {device}, {point})`);
  const problem = topicNameProblem(topic.replace(/\{[A-Za-z0-9_.-]+\}/g, 'x'));
  if (problem) issue(path, `topic template ${JSON.stringify(topic)} ${TOPIC_PROBLEM_TEXT[problem]}`);
}

/** "host:port" / "[::1]:port" / "host" -> parts (port 502 by default). */
export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(v);
  const port = m?.[3] === undefined ? 502 : Number(m[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

export type ModbusBusConfig = z.output<typeof modbusBusSchema>;
export type ModbusDeviceConfig = z.output<typeof deviceSchema>;
export type ModbusPointConfig = Point;

export const modbusConfigSchema = z.array(modbusBusSchema).default([]);
