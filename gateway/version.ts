import { readFileSync } from 'node:fs';

/** package.json version; read at run time so dist/ and sources agree. */
export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location (sources vs dist/)
    }
  }
  return 'unknown';
}
