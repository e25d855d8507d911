import { type ConfigError, formatProblem } from './load.js';

/** What `fieldgate check` prints for an invalid config; remote management refuses one with the same text. */
export function checkReport(err: ConfigError): string {
  const head = `${err.file}: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}`;
  return [head, ...err.problems.map((p) => `  ${formatProblem(p)}`)].join('\n');
}
