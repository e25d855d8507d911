import { diffLines as lineChanges } from 'diff';

/**
 * A line diff for showing what a config change does before it is sent (jsdiff, the maintained
 * Myers diff). Past `maxEditLength` edits it falls back to "all removed, all added" rather than
 * spend seconds on a file nobody can read as a diff anyway. CRLF and LF lines compare equal, and so do files with and without a final newline.
 */
export type DiffLine = { op: ' ' | '-' | '+'; text: string };

export function diffLines(before: string, after: string, maxEditLength = 2000): DiffLine[] {
  const changes = lineChanges(before, after, {
    maxEditLength,
    stripTrailingCr: true,
    ignoreNewlineAtEof: true,
  });
  if (!changes)
    return [
      ...splitLines(before).map((text) => ({ op: '-' as const, text })),
      ...splitLines(after).map((text) => ({ op: '+' as const, text })),
    ];
  return changes.flatMap((c) => {
    const op = c.added ? '+' : c.removed ? '-' : ' ';
    return splitLines(c.value).map((text) => ({ op, text }));
  });
}

function splitLines(s: string): string[] {
  const lines = s.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The changed lines with `context` unchanged lines around each change; `...` where lines are left out. */
export function formatDiff(lines: DiffLine[], context = 3): string {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out: string[] = [];
  let skipped = false;
  lines.forEach((l, i) => {
    if (!keep[i]) {
      skipped = true;
      return;
    }
    if (skipped && out.length) out.push('  ...');
    skipped = false;
    out.push(`${l.op} ${l.text}`);
  });
  return out.join('\n');
}

export function hasChanges(lines: DiffLine[]): boolean {
  return lines.some((l) => l.op !== ' ');
}
