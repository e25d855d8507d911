import type { Transform } from 'node:stream';
import type { SerialPortConfig } from '../config.js';
import { unescapeBytes } from '../escapes.js';
import { frameTimeoutMs } from '../frame-timeout.js';
import { IdleFramer } from './idle.js';
import { LengthCrc16Framer } from './length-crc16.js';
import { LineFramer } from './line.js';
import { SlipFramer } from './slip.js';
import type { OnDrop } from './types.js';

/** A fresh frame decoder for one open session of the port (partial frames never span a replug). */
export function createFramer(config: SerialPortConfig, onDrop: OnDrop): Transform {
  const opts = { maxLength: config.max_length, onDrop, frameTimeoutMs: frameTimeoutMs(config) };
  switch (config.framing) {
    case 'line':
      return new LineFramer(unescapeBytes(config.delimiter), opts);
    case 'slip':
      return new SlipFramer(opts);
    case 'length-crc16':
      return new LengthCrc16Framer(opts);
    case 'idle-timeout':
      return new IdleFramer({ maxLength: opts.maxLength, onDrop, idleMs: config.idle });
  }
}
