export type RawEncoding = 'bytes' | 'hex' | 'base64';

/** Raw frames are published as they came, or as hex/base64 text for brokers/consumers that want text. */
export function encodeRaw(frame: Buffer, encoding: RawEncoding): Buffer {
  return encoding === 'bytes' ? frame : Buffer.from(frame.toString(encoding));
}
