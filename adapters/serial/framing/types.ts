import type { Clock } from './stale-timer.js';

/** Why a frame never became a Reading; counted per reason and logged at debug. */
export type DropReason =
  | 'too_long' // longer than max_length (line noise without a delimiter ends here)
  | 'crc' // length-crc16 checksum mismatch
  | 'framing' // bytes outside any frame, or a bad SLIP escape
  | 'stale_partial' // a partial frame that saw no new byte for frame_timeout (noise that ended mid-frame)
  | 'unparsable' // framed fine, but the payload format did not decode
  | 'missing_field' // a topic/device field the config needs is absent from the frame
  | 'bad_device_id' // the device_field value is not a plausible id (letters, digits, _ . -): the frame is dropped
  | 'bad_field_name' // one field whose name is not plausible (line noise): the field is dropped, counted per field
  | 'unlisted_field'; // one field not in the port's `fields` list: the field is dropped, counted per field

export const DROP_REASONS: readonly DropReason[] = [
  'too_long',
  'crc',
  'framing',
  'stale_partial',
  'unparsable',
  'missing_field',
  'bad_device_id',
  'bad_field_name',
  'unlisted_field',
];

/**
 * `bytes` is what the log shows; `consumed` how many of them are gone for good (length-crc16 shows a
 * whole failed candidate frame but consumes only its start byte, rescanning the rest).
 */
export type OnDrop = (reason: DropReason, bytes: Buffer, consumed?: number) => void;

export interface FramerOptions {
  /** Longest frame payload accepted, in bytes. Enforced while buffering, so memory stays bounded. */
  maxLength: number;
  onDrop: OnDrop;
}

/** Framers that hold a partial frame between chunks (line, slip, length-crc16). */
export interface PartialFramerOptions extends FramerOptions {
  /**
   * A partial frame that sees no new byte for this long is dropped ('stale_partial'), so the next
   * frame is read on its own instead of glued to the tail of line noise.
   */
  frameTimeoutMs: number;
  clock?: Clock;
}

/** Short hex preview for debug logs: enough to recognise noise, never a whole buffer. */
export function hexPreview(bytes: Buffer, max = 32): string {
  const hex = bytes.subarray(0, max).toString('hex');
  return bytes.length > max ? `${hex}… (${bytes.length} bytes)` : hex;
}
