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
    encodeCommand: frameEncoder(config.commands.framing, delimiter),
    ...(config.commands.reply_pattern !== undefined && {
      replyPattern: new RegExp(config.commands.reply_pattern),
    }),
  };
}
