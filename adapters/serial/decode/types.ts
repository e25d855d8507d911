import { decodeUtf8 } from '../../../contracts/topic.js';
import type { FieldDrop } from './field-names.js';

/**
 * A decoded frame: named fields (kv, json, csv) or opaque bytes (raw). undefined = unparsable.
 * `dropped`: fields left out because of their names (counted by the frame handler).
 */
export type Decoded =
  | { kind: 'fields'; fields: Record<string, unknown>; dropped?: FieldDrop[] }
  | { kind: 'raw'; payload: Buffer };

export type Decoder = (frame: Buffer) => Decoded | undefined;

/** Text formats tolerate CR of CRLF lines, padding and a UTF-8 BOM. Lossy: for blank-line and reply checks. */
export function frameText(frame: Buffer): string {
  return frame
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
}

/**
 * As frameText, but undefined when the frame is not UTF-8: the decoders use it, so line noise is
 * unparsable instead of becoming keys and values with U+FFFD in them. Devices that send another
 * encoding need `format: raw`.
 */
export function frameTextStrict(frame: Buffer): string | undefined {
  return decodeUtf8(frame)
    ?.replace(/^\uFEFF/, '')
    .trim();
}
