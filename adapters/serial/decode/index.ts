import type { SerialPortConfig } from '../config.js';
import { decodeCsv } from './csv.js';
import { decodeJson } from './json.js';
import { decodeKv } from './kv.js';
import { encodeRaw } from './raw.js';
import type { Decoder } from './types.js';

export type { Decoded, Decoder } from './types.js';

/** The payload decoder for a port's `format`. */
export function createDecoder(config: SerialPortConfig): Decoder {
  const fieldsOf = (f: Record<string, unknown> | undefined) =>
    f ? { kind: 'fields' as const, fields: f } : undefined;
  switch (config.format) {
    case 'kv':
      return (frame) => fieldsOf(decodeKv(frame));
    case 'json':
      return (frame) => fieldsOf(decodeJson(frame));
    case 'csv': {
      const columns = config.columns ?? [];
      return (frame) => fieldsOf(decodeCsv(frame, columns, config.csv_separator));
    }
    case 'raw':
      return (frame) => ({ kind: 'raw', payload: encodeRaw(frame, config.raw_encoding) });
  }
}
