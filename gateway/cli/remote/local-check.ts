import { ConfigError, formatProblem, parseConfig, type SemanticCheck } from '../../config/load.js';

/** The patch file as a JSON object, or undefined (said on stderr). */
export function parsePatch(text: string, file: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    console.error(`${file}: not JSON: ${(err as Error).message}`);
    return undefined;
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  console.error(`${file}: a merge patch is a JSON object ({"rules": [...]}; null deletes a key)`);
  return undefined;
}

/**
 * `fieldgate check`'s checker on the file, here. What only exists on the gateway is not checked:
 * its environment (FIELDGATE_UPSTREAM_PASSWORD and the like) and the files a path names there.
 */
export function validLocally(text: string, file: string, checks: SemanticCheck[]): boolean {
  try {
    parseConfig(text, file, {}, checks);
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.filter(
      (p) => !(p.path.endsWith('_file') && p.message.startsWith('cannot read')),
    );
    if (!problems.length) return true;
    console.error(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) console.error(`  ${formatProblem(p)}`);
    console.error('not sent: fix the file (`fieldgate check -c` prints the same)');
    return false;
  }
}
