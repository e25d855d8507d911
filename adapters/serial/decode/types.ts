/** A decoded frame: named fields (kv, json, csv) or opaque bytes (raw). undefined = unparsable. */
export type Decoded = { kind: 'fields'; fields: Record<string, unknown> } | { kind: 'raw'; payload: Buffer };

export type Decoder = (frame: Buffer) => Decoded | undefined;

/** Text formats tolerate CR of CRLF lines, padding and a UTF-8 BOM. */
export function frameText(frame: Buffer): string {
  return frame
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trim();
}
