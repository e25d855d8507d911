import { randomUUID } from 'node:crypto';
import type { Command } from '../../adapters/types.js';
import type { DeviceModel } from './model.js';
import { type DecodedMetric, decodeCommand } from './payload.js';
import { deviceTopic, type EdgeIds } from './topics.js';

/** Why a host's command (or a part of it) was not taken; counted as `reason`, logged with `message`. */
export interface Refusal {
  reason: string;
  message: string;
  context: Record<string, unknown>;
}

/**
 * A DCMD's metrics as write commands to the device's source (`{"point", "value"}`, what a Modbus
 * write takes; a mapped topic's value as text), and what was refused: an unknown device or metric, a read-only one, a null value,
 * bytes that are not a Sparkplug payload. `byAlias` names a metric a host sent by its alias alone.
 */
export function dcmdWrites(
  model: DeviceModel,
  ids: EdgeIds,
  device: string,
  payload: Buffer,
  byAlias: (alias: number) => { device: string; name: string } | undefined,
): { commands: Command[]; refused: Refusal[] } {
  const refused: Refusal[] = [];
  const commands: Command[] = [];
  const source = model.ownerOf(device);
  if (!source) {
    refused.push({
      reason: 'dcmd_unknown_device',
      message: 'sparkplug: DCMD for an unknown device refused',
      context: { device },
    });
    return { commands, refused };
  }
  let metrics: DecodedMetric[];
  try {
    metrics = decodeCommand(payload);
  } catch {
    refused.push({
      reason: 'dcmd_bad_payload',
      message: 'sparkplug: DCMD is not a Sparkplug payload',
      context: { device },
    });
    return { commands, refused };
  }
  const defs = model.metrics(source, device);
  for (const m of metrics) {
    const aliased = m.alias === undefined ? undefined : byAlias(m.alias);
    const name = m.name || (aliased?.device === device ? aliased.name : '');
    const def = defs.find((d) => d.name === name);
    const context = { device, metric: name || m.alias };
    if (!def) {
      refused.push({
        reason: 'dcmd_unknown_metric',
        message: 'sparkplug: DCMD write to an unknown metric refused',
        context,
      });
      continue;
    }
    if (!def.writable) {
      refused.push({
        reason: 'dcmd_read_only',
        message: 'sparkplug: DCMD write to a read-only metric refused',
        context,
      });
      continue;
    }
    if (m.value === null) {
      refused.push({
        reason: 'dcmd_null_value',
        message: 'sparkplug: DCMD write without a value refused',
        context,
      });
      continue;
    }
    const value = typeof m.value === 'bigint' ? m.value.toString() : m.value;
    if (def.commandPayload !== undefined) {
      // A serial metric: the configured command, framed by the port (which refuses a value that
      // holds its delimiter, so a write cannot become two commands).
      commands.push({
        id: randomUUID(),
        target: source,
        device,
        topic: deviceTopic(ids, 'DCMD', device),
        payload: Buffer.from(
          def.commandPayload.replaceAll('{value}', String(value)).replaceAll('{device}', device),
        ),
        qos: 1,
      });
      continue;
    }
    // A mapped metric (MQTT-SN): its value as text on its command topic, to the device that reports
    // it. Else (a Modbus point): `{"point", "value"}`, which the adapter scales and encodes.
    const mapped = def.commandTopic;
    commands.push({
      id: randomUUID(),
      target: source,
      device: mapped ? model.clientOf(device) : device,
      topic: mapped ? mapped.replaceAll('{device}', device) : deviceTopic(ids, 'DCMD', device),
      payload: Buffer.from(mapped ? String(value) : JSON.stringify({ point: name, value })),
      qos: 1,
    });
  }
  return { commands, refused };
}

/** The primary host's STATE (3.0: retained JSON `{"online": bool, "timestamp": n}`), or why not. */
export function parseState(payload: Buffer): { online: boolean; timestamp: number } | string {
  let s: { online?: unknown; timestamp?: unknown };
  try {
    s = JSON.parse(payload.toString('utf8')) as typeof s;
  } catch {
    return 'sparkplug: STATE message is not JSON: ignored';
  }
  if (typeof s !== 'object' || s === null || typeof s.online !== 'boolean' || typeof s.timestamp !== 'number')
    return 'sparkplug: STATE message without online and timestamp: ignored';
  return { online: s.online, timestamp: s.timestamp };
}
