const SIMPLE: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\' };

/**
 * Turn backslash escapes typed in YAML single quotes ('\r\n', '\x02') into the bytes they name.
 * Text that already holds real control characters (YAML double quotes) passes through unchanged.
 */
export function unescapeText(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[nrt0\\])/g, (_, e: string) =>
    e.startsWith('x') ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : SIMPLE[e]!,
  );
}

/** Bytes of an escaped config string; \xHH stays one byte (latin1), so binary delimiters work. */
export function unescapeBytes(s: string): Buffer {
  return Buffer.from(unescapeText(s), 'latin1');
}
