import { frameTextStrict } from './types.js';
import { toValue } from './value.js';

/**
 * `25.1,47,ok` with columns [temp, humi, status]. Sensors print plain values, so no quoting rules;
 * a row with a different number of values than columns is unparsable (a torn line, a firmware
 * change) rather than guessed at.
 */
export function decodeCsv(
  frame: Buffer,
  columns: readonly string[],
  separator = ',',
): Record<string, unknown> | undefined {
  const values = frameTextStrict(frame)?.split(separator);
  if (values === undefined) return undefined;
  if (values.length !== columns.length) return undefined;
  const fields: Record<string, unknown> = {};
  columns.forEach((name, i) => {
    fields[name] = toValue(values[i]!.trim());
  });
  return fields;
}
