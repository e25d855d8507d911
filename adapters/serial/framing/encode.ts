import { encodeLengthCrc16 } from './length-crc16.js';
import { slipEncode } from './slip.js';

/** How bytes going down to the device are framed. 'none' writes them as they are. */
export type OutFraming = 'none' | 'line' | 'slip' | 'length-crc16';

export function frameEncoder(framing: OutFraming, delimiter: Buffer): (payload: Buffer) => Buffer {
  switch (framing) {
    case 'none':
      return (payload) => payload;
    case 'line':
      return (payload) => Buffer.concat([payload, delimiter]);
    case 'slip':
      return slipEncode;
    case 'length-crc16':
      return encodeLengthCrc16;
  }
}
