import type { SerialPortConfig } from '../config.js';
import { decodeCsv } from './csv.js';
import { decodeJson } from './json.js';
import { decodeKv } from './kv.js';
import { encodeRaw } from './raw.js';
import { fieldScreen } from './field-names.js';
import type { Decoded, Decoder } from './types.js';

export type { Decoded, Decoder } from './types.js';

/** The payload decoder for a port's `format`. */
export function createDecoder(config: SerialPortConfig): Decoder {
  const screen = fieldScreen(config);
  const fieldsOf = (f: Record<string, unknown> | undefined): Decoded | undefined => {
    if (!f) return undefined;
    const { fields, dropped } = screen(f);
    return dropped.length ? { kind: 'fields', fields, dropped } : { kind: 'fields', fields };
  };
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
