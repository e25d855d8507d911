import type { SerialPortConfig } from './config.js';
import { unescapeBytes, unescapeText } from './escapes.js';
import { frameEncoder } from './framing/encode.js';
import { compileTopicTemplate, type TopicTemplate } from '../../contracts/topic-template.js';
import type { FanOutContext } from './to-readings.js';

/** A port's config with its templates and encoders built once, not per frame. */
export interface SerialConfigView {
  config: SerialPortConfig;
  source: string;
  fanOut: FanOutContext;
  ackTemplate?: TopicTemplate;
  encodeAck(bytes: Buffer): Buffer;
  encodeCommand(payload: Buffer): Buffer;
  replyPattern?: RegExp;
}

export function compileConfig(config: SerialPortConfig): SerialConfigView {
  const source = `serial:${config.name}`;
  const delimiter = unescapeBytes(config.delimiter);
  return {
    config,
    source,
    fanOut: {
      source,
      port: config.name,
      topic: compileTopicTemplate(config.topic),
      qos: config.qos,
      retain: config.retain,
      ...(config.device_field && { deviceField: config.device_field }),
      ...(config.ack && { seqField: config.ack.seq_field }),
    },
    ...(config.ack && { ackTemplate: compileTopicTemplate(unescapeText(config.ack.template)) }),
    encodeAck: frameEncoder(config.ack?.framing ?? 'none', delimiter),
    encodeCommand:
      config.commands.framing === 'line'
        ? oneLine(frameEncoder('line', delimiter), delimiter)
        : frameEncoder(config.commands.framing, delimiter),
    ...(config.commands.reply_pattern !== undefined && {
      replyPattern: new RegExp(config.commands.reply_pattern),
    }),
  };
}

/**
 * A line-framed command is one line: a payload with a delimiter byte in it (a value such as
 * `5\nFACTORY_RESET` rendered into `SET {payload}`) would reach the device as two commands. Refused,
 * never stripped: the sender learns the command was not sent (outcome `rejected`).
 */
function oneLine(encode: (payload: Buffer) => Buffer, delimiter: Buffer): (payload: Buffer) => Buffer {
  return (payload) => {
    const at = payload.findIndex((b) => delimiter.includes(b));
    if (at >= 0)
      throw new Error(
        `command refused: its payload contains the line delimiter (byte 0x${payload[at]!.toString(16).padStart(2, '0')} at ${at}); it would be sent as two commands`,
      );
    return encode(payload);
  };
}
